"""Read a report or clinical indication into :class:`radassist.model.TextFindings`.

``read_report`` finds the section headers and sentences, every concept and
calcification-pattern term, and the context cues; gives each mention a status
(:mod:`radassist.text.context`); applies the lower-limb site rule
(:mod:`radassist.text.sites`); and aggregates: one finding per concept, whose
status is the strongest of its mentions in ``model.STATUS_PRECEDENCE``, with
every mention kept as evidence.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Optional

from radassist.model import (
    CONCEPTS,
    PATTERN_SIGNIFICANCE,
    STATUS_PRECEDENCE,
    ConceptFinding,
    Evidence,
    PatternMention,
    TextFindings,
)
from radassist.text.context import Cue, SentenceContext, Target, find_cues, find_targets
from radassist.text.lexicon import Lexicon, load_lexicon, lower_ascii
from radassist.text.segment import Sentence, find_headers, split_sentences
from radassist.text.sites import about_lower_limb

#: Pattern mentions with these statuses are reported; negated, family and
#: hypothetical ones are not.
REPORTED_PATTERN_STATUSES = ("present", "possible", "historical")


def _within(items: list, starts: list[int], sentence: Sentence) -> list:
    """The items (sorted by start) that lie wholly inside ``sentence``."""
    first = bisect_left(starts, sentence.start)
    last = bisect_right(starts, sentence.end)
    return [item for item in items[first:last] if item.end <= sentence.end]


def _mentions(text: str, sentences: list[Sentence], targets: list[Target], cues: list[Cue],
              lexicon: Lexicon) -> list[tuple[Target, Evidence]]:
    """Every target inside a sentence, with its evidence; limb mentions about
    another body site are left out."""
    target_starts = [t.start for t in targets]
    cue_starts = [c.start for c in cues]
    result = []
    for sentence in sentences:
        in_sentence = _within(targets, target_starts, sentence)
        if not in_sentence:
            continue
        context = SentenceContext(text, sentence.start, sentence.end,
                                  _within(cues, cue_starts, sentence), in_sentence, lexicon)
        header = sentence.header
        section = header.name if header else None
        for target in in_sentence:
            if target.limb and not about_lower_limb(text, target.start, target.end,
                                                    sentence.start, sentence.end, section, lexicon):
                continue
            decision = context.decide(target, header.default_status if header else None,
                                      header.written if header else None, lexicon.combination)
            result.append((target, Evidence(
                text=text[target.start:target.end],
                start=target.start,
                end=target.end,
                status=decision.status,
                cue=decision.cue,
                section=section,
            )))
    return result


def _strongest(statuses: list[str]) -> str:
    return min(statuses, key=STATUS_PRECEDENCE.index)


def read_report(text: Optional[str], lexicon: Optional[Lexicon] = None) -> TextFindings:
    """Read the clinical facts and named calcification patterns of a report.

    Parameters
    ----------
    text : str or None
        A clinical indication or a full report, as written. None, empty or blank
        text gives empty findings.
    lexicon : Lexicon, optional
        The compiled lexicon; the packaged ``lexicon.yaml`` by default.

    Returns
    -------
    TextFindings
        ``concepts``: one finding per concept found, in ``model.CONCEPTS`` order,
        with the strongest status of its mentions and every mention as evidence
        (``text[e.start:e.end] == e.text``). ``reported_patterns``: the patterns
        named and not negated, in ``model.PATTERN_SIGNIFICANCE`` order;
        ``pattern_mentions``: every pattern mention. ``sections``: the section
        names found, in order.
    """
    if text is None or not text.strip():
        return TextFindings()
    lexicon = lexicon or load_lexicon()

    headers = find_headers(text, lexicon)
    sentences = split_sentences(text, lexicon, headers)
    lowered = lower_ascii(text)
    targets = find_targets(text, lowered, lexicon)
    cues = find_cues(text, lowered, lexicon, targets)

    by_concept: dict[str, list[Evidence]] = {}
    pattern_mentions: list[PatternMention] = []
    for target, evidence in _mentions(text, sentences, targets, cues, lexicon):
        if target.kind == "concept":
            by_concept.setdefault(target.name, []).append(evidence)
        else:
            pattern_mentions.append(
                PatternMention(pattern=target.name, status=evidence.status, evidence=evidence))

    concepts = [
        ConceptFinding(concept=name, status=_strongest([e.status for e in by_concept[name]]),
                       evidence=by_concept[name])
        for name in CONCEPTS if name in by_concept
    ]
    named = {m.pattern for m in pattern_mentions if m.status in REPORTED_PATTERN_STATUSES}
    return TextFindings(
        concepts=concepts,
        reported_patterns=[p for p in PATTERN_SIGNIFICANCE if p in named],
        pattern_mentions=pattern_mentions,
        sections=list(dict.fromkeys(header.name for header in headers)),
    )
