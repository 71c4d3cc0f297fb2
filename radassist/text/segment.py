"""Section headers and sentences of a report, as character spans of the original text.

Nothing here copies or normalises the text: every span is ``(start, end)`` into
the string the caller passed, so ``text[start:end]`` is always what was written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from radassist.text.lexicon import Lexicon

# An upper-case header at a line start: "FINDINGS:", "RIGHT LEG:", "EXAM:MRI ..."
_CAPS_HEADER = re.compile(r"^[ \t]*(?P<name>[A-Z][A-Z0-9/&,'() \t-]{0,48}?)[ \t]*:(?!\d)[ \t]*", re.MULTILINE)
_BREAK = re.compile(r"\n|[.!?]+")
_TOKEN_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_LIST_MARKER = re.compile(r"[ \t]*(?:\d{1,2}|[a-zA-Z])$")


@dataclass(frozen=True)
class Header:
    """A section header: its span (colon and trailing blanks included), its words as
    written ("PMH"), its section name ("PAST MEDICAL HISTORY") and default status."""

    start: int
    end: int
    written: str
    name: str
    default_status: Optional[str]


@dataclass(frozen=True)
class Sentence:
    """A sentence span and the header of the section it lies in (None before any)."""

    start: int
    end: int
    header: Optional[Header]


def find_headers(text: str, lexicon: Lexicon) -> list[Header]:
    """Section headers of ``text``, in order and not overlapping.

    A known header name (``lexicon.yaml`` sections) followed by ``:`` at a line or
    sentence start, or alone on its line, gets its canonical name and default
    status; an upper-case ``NAME:`` at a line start is a header named as written.
    """
    found: dict[int, Header] = {}
    for regex in (lexicon.header_line, lexicon.header_alone):
        for match in regex.finditer(text):
            index = int(match.lastgroup[1:])
            rule = lexicon.sections[index]
            start = match.start(match.lastgroup)
            found.setdefault(start, Header(start, match.end(), match.group(match.lastgroup),
                                           rule.name, rule.default_status))
    for match in _CAPS_HEADER.finditer(text):
        name = " ".join(match.group("name").split())
        start = match.start("name")
        if start in found or sum(c.isalpha() for c in name) < 2:
            continue
        found[start] = Header(start, match.end(), match.group("name"), name, None)

    headers: list[Header] = []
    for start in sorted(found):
        header = found[start]
        if headers and header.start < headers[-1].end:
            continue
        headers.append(header)
    return headers


def _next_visible(text: str, pos: int, end: int) -> str:
    """The first non-blank character at or after ``pos`` (before ``end``), or ""."""
    while pos < end and text[pos] in " \t\r":
        pos += 1
    return text[pos] if pos < end else ""


def _ends_sentence(text: str, match: re.Match, region_start: int, region_end: int,
                   lexicon: Lexicon) -> bool:
    start, end = match.start(), match.end()
    if text[start] == "\n":
        line_start = text.rfind("\n", region_start, start) + 1
        last = text[max(line_start, region_start):start].rstrip()
        following = _next_visible(text, end, region_end)
        # a wrapped line continues in lower case after a line with no closing mark
        return not (following.islower() and last and last[-1] not in ".!?:;")

    following_char = text[end] if end < region_end else " "
    if not following_char.isspace() and following_char not in "\"')]":
        return False  # "0.9", "p.r.n", "e.g"
    if "?" in match.group() and (start == region_start or text[start - 1].isspace()):
        return False  # "? DVT": a question mark opening its subject
    if match.group() != ".":
        return True

    # the few characters before the period, on its line: "1", "No", "p.r.n", "vs"
    line_start = text.rfind("\n", max(region_start, start - 40), start) + 1
    before = text[max(line_start, region_start, start - 40):start]
    if _LIST_MARKER.fullmatch(before):
        return False  # "1. Normal arterial imaging"
    token_match = _TOKEN_BEFORE.search(before)
    if token_match is None:
        return True
    token = token_match.group(1).lower()
    following = _next_visible(text, end, region_end)
    if token in lexicon.never_end_abbreviations:
        return False
    if token == "no" and following.isdigit():
        return False  # "Tylenol No. 3"
    if "." in token or len(token) == 1:
        return following.isupper() or following in ("", "\n")
    return True


def _split_region(text: str, start: int, end: int, header: Optional[Header],
                  lexicon: Lexicon) -> list[Sentence]:
    sentences = []
    begin = start
    for match in _BREAK.finditer(text, start, end):
        if _ends_sentence(text, match, start, end, lexicon):
            cut = match.end() if text[match.start()] != "\n" else match.start()
            sentences.append((begin, cut))
            begin = match.end()
    sentences.append((begin, end))

    spans = []
    for a, b in sentences:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            spans.append(Sentence(a, b, header))
    return spans


def split_sentences(text: str, lexicon: Lexicon,
                    headers: Optional[list[Header]] = None) -> list[Sentence]:
    """Split ``text`` into sentences, each tagged with its section header.

    Sentences end at ``.``, ``!`` or ``?`` followed by a blank (not after an
    abbreviation, a list number or a "?" that opens its subject), at line breaks
    (unless the next line continues in lower case), and at section headers, whose
    own words belong to no sentence.

    Parameters
    ----------
    text : str
        The report as given.
    lexicon : Lexicon
        Header names and abbreviations.
    headers : list of Header, optional
        The headers of ``text`` if already found (:func:`find_headers`).

    Returns
    -------
    list of Sentence
        In text order; ``text[s.start:s.end]`` has no leading or trailing blanks.
    """
    sentences: list[Sentence] = []
    position, header = 0, None
    if headers is None:
        headers = find_headers(text, lexicon)
    for next_header in headers:
        sentences.extend(_split_region(text, position, next_header.start, header, lexicon))
        position, header = next_header.end, next_header
    sentences.extend(_split_region(text, position, len(text), header, lexicon))
    return sentences
