"""The report-text lexicon: ``lexicon.yaml`` loaded, checked and compiled.

The YAML file holds every word the reader knows (concept terms, context cues,
section headers, body sites); this module compiles it and refuses a file that
names an unknown concept, pattern or status.

Speed: all terms of one kind (concepts, patterns, cues, exclusions) are compiled
into one :class:`Scanner`, a single alternation scanned once over the lower-cased
text, instead of one regular expression per term; that keeps a 10 kB report well
under 20 ms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from radassist.model import CONCEPTS, PATTERNS, STATUSES

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.yaml")

#: No cue may reach further than this many words: the reader looks no further for
#: cues, which keeps a run-on sentence of thousands of words cheap.
MAX_CUE_WORDS = 40

_DIRECTIONS = ("forward", "backward", "bidirectional", "sentence")
_COMMA_RULES = ("cross", "lists", "stop")
_MACRO = re.compile(r"<([A-Z_]+)>")
# where a "clause_end" cue must stand: before punctuation, a line end or the text end
_CLAUSE_END = r"(?=[ \t]*(?:[.,;:?!)\n]|$))"
# an upper-case letter that is a literal, not part of an escape or a group name
_LITERAL_UPPER = re.compile(r"(?<!\\)(?<!\(\?P<)(?<!\(\?P=)[A-Z]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower_ascii(text: str) -> str:
    """``text`` with A-Z lower-cased and nothing else changed (offsets are kept)."""
    return text.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class CueRule:
    """One group of context cues that share a status and a scope rule.

    ``commas`` says whether the scope runs through commas (``cross``), only through
    a list closed by and/or (``lists``) or stops at one (``stop``); ``max_words`` is
    the longest distance, in words, between the cue and a mention it governs.
    """

    status: str
    direction: str
    commas: str
    max_words: int


@dataclass(frozen=True)
class TermInfo:
    """What a matched term means.

    ``kind`` is ``concept``, ``pattern``, ``exclude`` (a phrase that is not
    ``name`` although it contains a term: "body mass"), ``cue``, ``pseudo`` (looks
    like a cue, is not) or ``terminator`` (ends the scope of cues of ``status``, or
    of all cues when ``status`` is ``"all"``). ``status`` of a concept term is the
    status its words fix ("painless" is ``absent``), or None; ``ignore_cues``
    are the cue statuses that do not apply to it.
    """

    kind: str
    name: Optional[str] = None
    status: Optional[str] = None
    limb: bool = False
    rule: Optional[CueRule] = None
    ignore_cues: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    info: TermInfo


def _by_first_character(patterns: list[tuple[str, int]]) -> str:
    """One alternation of ``patterns`` (each tagged with an empty group ``t<index>``),
    those starting with the same letter or digit grouped behind it: the engine then
    tests a few dozen first characters instead of every pattern at each word."""
    groups: dict[str, list[str]] = {}
    order: list[str] = []  # a letter (its group) or a whole pattern, in given order
    for pattern, index in patterns:
        tagged = f"(?:{{}})(?P<t{index}>)"
        head = pattern[:1]
        if head.isascii() and head.isalnum() and pattern[1:2] not in ("?", "*", "+", "{"):
            if head not in groups:
                groups[head] = []
                order.append(head)
            groups[head].append(tagged.format(pattern[1:]))
        else:
            order.append(tagged.format(pattern))
    return "|".join(
        f"{item}(?:{'|'.join(groups[item])})" if item in groups else item for item in order
    )


class Scanner:
    """Finds the terms of many groups in one pass over the text.

    Each term becomes one alternative of a single regular expression, longest
    pattern first, ending with an empty named group that says which term matched.
    Matches do not overlap within one scan (the leftmost, then first-listed
    alternative wins); a term listed by several groups reports each of them.
    """

    def __init__(self, entries: list[tuple[str, str, TermInfo]]):
        """``entries``: ``(pattern, mode, info)``; mode is ``lower`` (lower-case
        pattern, lower-cased text), ``cased`` (text as written) or ``raw`` (lower-cased
        text, no word boundaries)."""
        self._infos: list[list[TermInfo]] = []
        self._regexes: list[tuple[str, re.Pattern]] = []
        for mode in ("lower", "cased", "raw"):
            index_of: dict[str, int] = {}
            for pattern, entry_mode, info in entries:
                if entry_mode != mode:
                    continue
                # the group makes a top-level "a|b" two alternatives
                for alternative in leading_alternatives(f"(?:{pattern})"):
                    if alternative not in index_of:
                        index_of[alternative] = len(self._infos)
                        self._infos.append([])
                    if info not in self._infos[index_of[alternative]]:
                        self._infos[index_of[alternative]].append(info)
            if not index_of:
                continue
            ordered = sorted(index_of.items(), key=lambda item: -len(item[0]))
            alternatives = _by_first_character(ordered)
            source = alternatives if mode == "raw" else rf"(?<!\w)(?:{alternatives})(?!\w)"
            try:
                self._regexes.append((mode, re.compile(source)))
            except re.error as exc:
                bad = [p for p in index_of if not _compiles(p)]
                raise ValueError(f"lexicon: invalid term(s) {bad or '?'}: {exc}") from None

    def scan(self, text: str, lowered: str) -> Iterator[Hit]:
        """Every match in ``text`` (``lowered`` is ``lower_ascii(text)``)."""
        for mode, regex in self._regexes:
            for match in regex.finditer(text if mode == "cased" else lowered):
                if match.start() == match.end():
                    continue
                for info in self._infos[int(match.lastgroup[1:])]:
                    yield Hit(match.start(), match.end(), info)


def _group_end(pattern: str, start: int) -> int:
    """Index just past the ``)`` closing the group that opens at ``pattern[start]``."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"lexicon: unbalanced parentheses in {pattern!r}")


def _top_level_split(body: str) -> list[str]:
    """``body`` split at the ``|`` that are not inside a group or a class."""
    parts, depth, i, last = [], 0, 0, 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(body, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(body[last:i])
            last = i + 1
        i += 1
    parts.append(body[last:])
    return parts


def _class_end(pattern: str, start: int) -> int:
    """Index just past the ``]`` closing the class that opens at ``pattern[start]``."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def leading_alternatives(pattern: str, limit: int = 48) -> list[str]:
    """``pattern`` rewritten as alternatives that each start with a literal where possible.

    ``(?:a|b)?c`` becomes ``["ac", "bc", "c"]``: the same language, but the regex
    engine can reject an alternative on its first character, which is what makes
    one scan over hundreds of terms fast. Patterns that cannot be split this way
    (a repeated leading group, too many alternatives) are returned unchanged.
    """
    if not pattern.startswith("(?:"):
        return [pattern]
    end = _group_end(pattern, 0)
    rest = pattern[end:]
    optional = rest.startswith("?")
    if optional:
        rest = rest[2:] if rest.startswith("??") else rest[1:]
    elif rest[:1] in ("*", "+", "{"):
        return [pattern]
    heads = _top_level_split(pattern[3:end - 1]) + ([""] if optional else [])
    result: list[str] = []
    for head in heads:
        result += leading_alternatives(head + rest, limit)
        if len(result) > limit:
            return [pattern]
    return result


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
        return True
    except re.error:
        return False


@dataclass(frozen=True)
class SectionRule:
    name: str
    default_status: Optional[str]


@dataclass(frozen=True)
class SiteWindow:
    stop_before: frozenset[str]
    prepositions: frozenset[str]
    skip_after: frozenset[str]


@dataclass(frozen=True)
class Lexicon:
    """Everything the reader matches, compiled. Build it with :func:`load_lexicon`."""

    concepts: Scanner  # concept terms: TermInfo(kind="concept")
    patterns: Scanner  # pattern terms: TermInfo(kind="pattern")
    exclusions: Scanner  # TermInfo(kind="exclude", name=concept)
    cues: Scanner  # cues, pseudo-cues and terminators
    cue_reach: int  # the largest max_words of any cue group
    sections: tuple[SectionRule, ...]
    header_line: re.Pattern  # a known header at a line or sentence start, group "s<i>"
    header_alone: re.Pattern  # a known header alone on its line
    combination: tuple[str, ...]
    clause_verb: re.Pattern  # a verb that makes the words after a comma a new clause
    lower_limb_sites: re.Pattern
    other_sites: re.Pattern
    site_window: SiteWindow
    never_end_abbreviations: frozenset[str]


class _Builder:
    """Expands macros and checks terms while collecting scanner entries."""

    def __init__(self, macros: dict[str, str]):
        self.macros = macros

    def expand(self, term: Any, where: str) -> str:
        if not isinstance(term, str) or not term:
            raise ValueError(f"lexicon: {where}: a term must be a non-empty string, got {term!r}")

        def replace(match: re.Match) -> str:
            if match.group(1) not in self.macros:
                raise ValueError(f"lexicon: {where}: unknown macro <{match.group(1)}>")
            return self.macros[match.group(1)]

        return _MACRO.sub(replace, term)

    def entries(self, group: dict, where: str, info: TermInfo, key: str = "terms",
                suffix: str = "") -> list[tuple[str, str, TermInfo]]:
        raw = bool(group.get("raw", False))
        out = []
        for term in group.get(key, []) or []:
            pattern = self.expand(term, where) + suffix
            if not raw and _LITERAL_UPPER.search(re.sub(r"\[[^\]]*\]", "", pattern)):
                raise ValueError(f"lexicon: {where}: {term!r} has upper-case letters; write "
                                 "terms in lower case, or list them under cased_terms")
            out.append((pattern, "raw" if raw else "lower", info))
        for term in group.get("cased_terms", []) if key == "terms" else []:
            out.append((self.expand(term, where) + suffix, "cased", info))
        return out


def _case_insensitive(terms: list[str], where: str) -> re.Pattern:
    source = "|".join(sorted(terms, key=len, reverse=True))
    try:
        return re.compile(rf"(?<!\w)(?:{source})(?!\w)", re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"lexicon: {where}: invalid term: {exc}") from None


def _headers(sections: list[dict]) -> tuple[tuple[SectionRule, ...], re.Pattern, re.Pattern]:
    rules, groups = [], []
    for index, section in enumerate(sections):
        default = section.get("default_status")
        if default is not None and default not in STATUSES:
            raise ValueError(f"lexicon: section {section['name']!r}: default_status {default!r} "
                             "is not a status")
        rules.append(SectionRule(name=section["name"], default_status=default))
        aliases = "|".join(sorted(section["headers"], key=len, reverse=True))
        groups.append(f"(?P<s{index}>{aliases})")
    names = "|".join(groups)
    # "Findings: ..." at a line start or after a sentence end; the colon is required
    line = re.compile(
        rf"(?:^|(?<=[.!?] )|(?<=[.!?]  ))[ \t]*(?:[-*\u2022][ \t]*)?(?:{names})[ \t]*:[ \t]*",
        re.IGNORECASE | re.MULTILINE,
    )
    # "IMPRESSION" alone on its line
    alone = re.compile(rf"^[ \t]*(?:{names})[ \t]*:?[ \t]*$", re.IGNORECASE | re.MULTILINE)
    return tuple(rules), line, alone


def _cue_entries(build: _Builder, raw: dict) -> list[tuple[str, str, TermInfo]]:
    """Scanner entries of the cues, pseudo-cues and terminators."""
    entries = []
    for number, group in enumerate(raw["cues"]):
        where = f"cues[{number}]"
        status, direction = group.get("status"), group.get("direction")
        if status not in STATUSES:
            raise ValueError(f"lexicon: {where}: status {status!r} is not one of {', '.join(STATUSES)}")
        if direction not in _DIRECTIONS:
            raise ValueError(f"lexicon: {where}: direction {direction!r} is not one of "
                             f"{', '.join(_DIRECTIONS)}")
        forward_negation = status == "absent" and direction == "forward"
        commas = group.get("commas", "cross" if forward_negation else
                           "stop" if direction == "backward" else "lists")
        if commas not in _COMMA_RULES:
            raise ValueError(f"lexicon: {where}: commas {commas!r} is not one of {', '.join(_COMMA_RULES)}")
        default_words = 8 if direction == "backward" else 16 if forward_negation else 10
        max_words = int(group.get("max_words", default_words))
        if not 0 <= max_words <= MAX_CUE_WORDS:
            raise ValueError(f"lexicon: {where}: max_words {max_words} is not in 0..{MAX_CUE_WORDS}")
        rule = CueRule(status, direction, commas, max_words)
        suffix = _CLAUSE_END if group.get("clause_end") else ""
        entries += build.entries(group, where, TermInfo("cue", status=status, rule=rule), suffix=suffix)

    entries += build.entries({"terms": raw["pseudo_cues"]}, "pseudo_cues", TermInfo("pseudo"))
    for status, terms in raw["terminators"].items():
        if status != "all" and status not in STATUSES:
            raise ValueError(f"lexicon: terminators for unknown status {status!r}")
        entries += build.entries({"terms": terms}, f"terminators.{status}",
                                 TermInfo("terminator", status=status))
    return entries


@lru_cache(maxsize=4)
def load_lexicon(path: Optional[Path] = None) -> Lexicon:
    """Load and compile the lexicon.

    Parameters
    ----------
    path : Path, optional
        A lexicon YAML file; the packaged ``lexicon.yaml`` by default.

    Returns
    -------
    Lexicon
        The compiled lexicon (cached per path: it is immutable).

    Raises
    ------
    ValueError
        When the file names an unknown concept, pattern, status or macro, has an
        upper-case letter in a lower-case term, or holds an invalid regular expression.
    """
    raw = yaml.safe_load(Path(path or DEFAULT_LEXICON).read_text(encoding="utf-8"))
    build = _Builder({name: f"(?:{value})" for name, value in raw.get("macros", {}).items()})

    concept_entries, exclusion_entries = [], []
    for name, spec in raw["concepts"].items():
        if name not in CONCEPTS:
            raise ValueError(f"lexicon: unknown concept {name!r}; expected one of {', '.join(CONCEPTS)}")
        limb = bool(spec.get("limb", False))
        where = f"concepts.{name}"
        ignore = frozenset(spec.get("ignore_cues", []))
        if not ignore <= set(STATUSES):
            raise ValueError(f"lexicon: {where}: ignore_cues {sorted(ignore)} are not all statuses")
        for status, key in ((None, "terms"), ("absent", "absent_terms"), ("possible", "possible_terms")):
            info = TermInfo("concept", name, status, limb, ignore_cues=ignore)
            concept_entries += build.entries(spec, where, info, key=key)
        exclusion_entries += build.entries(spec, where, TermInfo("exclude", name), key="exclude")

    pattern_entries = []
    for name, terms in raw["patterns"].items():
        if name not in PATTERNS:
            raise ValueError(f"lexicon: unknown pattern {name!r}; expected one of {', '.join(PATTERNS)}")
        pattern_entries += build.entries({"terms": terms}, f"patterns.{name}", TermInfo("pattern", name))

    combination = tuple(raw["status_combination"])
    unknown = [s for s in combination if s not in STATUSES]
    if unknown:
        raise ValueError(f"lexicon: status_combination names unknown statuses {unknown}")

    sections, header_line, header_alone = _headers(raw["sections"])
    cue_entries = _cue_entries(build, raw)
    window = raw["site_window"]
    return Lexicon(
        concepts=Scanner(concept_entries),
        patterns=Scanner(pattern_entries),
        exclusions=Scanner(exclusion_entries),
        cues=Scanner(cue_entries),
        cue_reach=max(e[2].rule.max_words for e in cue_entries if e[2].rule is not None),
        sections=sections,
        header_line=header_line,
        header_alone=header_alone,
        combination=combination,
        clause_verb=_case_insensitive(raw["clause_verbs"], "clause_verbs"),
        lower_limb_sites=_case_insensitive(raw["sites"]["lower_limb"], "sites.lower_limb"),
        other_sites=_case_insensitive(raw["sites"]["other"], "sites.other"),
        site_window=SiteWindow(
            stop_before=frozenset(str(w).lower() for w in window["stop_before"]),
            prepositions=frozenset(str(w).lower() for w in window["prepositions"]),
            skip_after=frozenset(str(w).lower() for w in window["skip_after"]),
        ),
        never_end_abbreviations=frozenset(a.lower() for a in raw["abbreviations_never_end"]),
    )
