"""The lower-limb site rule for limb concepts (report-text.md).

``pain``, ``swelling``, ``warmth_redness``, ``functional_limitation`` and
``soft_tissue_mass`` count only when they are about the lower limb or no site is
named: "calf pain" counts, "abdominal pain" does not. The site is looked for, in
this order, in the words next to the mention ("left calf pain", "pain in the
back of the knee", "sore throat"), in a short label opening the sentence
("Abdomen: soft, nontender"), and in the section header ("ABDOMEN:"). The first
place that names a site decides; a lower-limb site wins over any other there.
"""

from __future__ import annotations

import re
from typing import Optional

from radassist.text.lexicon import Lexicon

_TOKEN = re.compile(r"[A-Za-z][A-Za-z/'&-]*|[,.;:()!?\[\]]")
_PUNCTUATION = set(",.;:()!?[]")
_CONJUNCTIONS = {"and", "or", "but", "with", "nor", "&"}
_WORDS_BEFORE = 4
_WORDS_AFTER = 8
_WINDOW_CHARS = 160  # enough characters for the words above
_LABEL = re.compile(r"([A-Za-z][A-Za-z /&-]{0,40}):")


def _words_before(text: str, start: int, clause_start: int, lexicon: Lexicon) -> list[str]:
    """Modifiers read back from the mention: "left lower extremity [swelling]"."""
    tokens = _TOKEN.findall(text, max(clause_start, start - _WINDOW_CHARS), start)
    words: list[str] = []
    for token in reversed(tokens):
        lower = token.lower()
        if token in _PUNCTUATION or lower in lexicon.site_window.stop_before:
            break
        words.append(token)
        if len(words) == _WORDS_BEFORE:
            break
    return list(reversed(words))


def _words_after(text: str, end: int, clause_end: int, lexicon: Lexicon) -> list[str]:
    """The site a mention is followed by: "[pain] in the back of the knee", "[sore] throat"."""
    window = lexicon.site_window
    words: list[str] = []
    behind_preposition = False
    for token in _TOKEN.findall(text, end, min(clause_end, end + _WINDOW_CHARS)):
        lower = token.lower()
        if token in _PUNCTUATION or lower in _CONJUNCTIONS or len(words) >= _WORDS_AFTER:
            break
        words.append(token)
        if lower in window.skip_after:
            continue
        if lower in window.prepositions:
            behind_preposition = True
            continue
        if not behind_preposition:
            break  # one word right after the mention: "sore throat", "pain L calf"
    return words


def _verdict(words: str, lexicon: Lexicon) -> Optional[bool]:
    """True: a lower-limb site; False: another site; None: no site named."""
    if not words:
        return None
    if lexicon.lower_limb_sites.search(words):
        return True
    if lexicon.other_sites.search(words):
        return False
    return None


def about_lower_limb(text: str, start: int, end: int, sentence_start: int, sentence_end: int,
                     section_name: Optional[str], lexicon: Lexicon) -> bool:
    """Whether the mention ``text[start:end]`` is about the lower limb (or no site is named).

    Parameters
    ----------
    text : str
        The whole report.
    start, end : int
        The mention's span.
    sentence_start, sentence_end : int
        The span of its sentence; the site words are looked for inside it.
    section_name : str or None
        The section header the sentence lies under, a last hint ("ABDOMEN").
    lexicon : Lexicon
        Site words and window rules.

    Returns
    -------
    bool
        False only when a site other than the lower limb is named and no lower-limb
        site is named with it.
    """
    local = " ".join(_words_before(text, start, sentence_start, lexicon)
                     + _words_after(text, end, sentence_end, lexicon))
    label = _LABEL.match(text, sentence_start, start)
    hints = [local, label.group(1) if label else "", section_name or ""]
    for words in hints:
        verdict = _verdict(words, lexicon)
        if verdict is not None:
            return verdict
    return True
