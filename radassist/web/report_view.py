"""The report text cut into plain and highlighted pieces, for the page.

Every evidence span the text reader found (concept mentions and named
patterns) becomes a highlighted piece carrying its concept and status, so a
wrong negation or a missed history is visible at a glance. The pieces are
plain data: the template escapes the text (a report containing ``<script>``
shows as text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..model import TextFindings


@dataclass(frozen=True)
class Piece:
    """One run of report text; ``label``/``status`` are set on highlighted evidence."""

    text: str
    label: Optional[str] = None
    status: Optional[str] = None
    cue: Optional[str] = None
    concept: Optional[str] = None
    start: int = 0


def report_pieces(text: Optional[str], findings: TextFindings) -> list[Piece]:
    """Cut ``text`` at the evidence spans of ``findings``.

    Overlapping spans keep the one that starts first (the longer one on a
    tie); spans whose offsets do not fit the text are skipped.

    Returns
    -------
    list of Piece
        In text order; joined, their texts give back ``text`` exactly.
    """
    if not text:
        return []
    spans = []
    for finding in findings.concepts:
        for ev in finding.evidence:
            spans.append((ev.start, ev.end, finding.concept.replace("_", " "), ev.status or finding.status,
                          ev.cue, finding.concept))
    for mention in findings.pattern_mentions:
        ev = mention.evidence
        spans.append((ev.start, ev.end, f"pattern: {mention.pattern.replace('_', ' ')}", mention.status, ev.cue,
                      None))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))

    pieces: list[Piece] = []
    pos = 0
    for start, end, label, status, cue, concept in spans:
        if start < pos or end > len(text) or end <= start:
            continue
        if start > pos:
            pieces.append(Piece(text[pos:start], start=pos))
        pieces.append(Piece(text[start:end], label=label, status=status, cue=cue, concept=concept, start=start))
        pos = end
    if pos < len(text):
        pieces.append(Piece(text[pos:], start=pos))
    return pieces
