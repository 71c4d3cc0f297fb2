"""ConText-style status assignment: which cue governs which mention.

A mention (a concept or pattern term) starts ``present``. Every cue whose scope
reaches it proposes a status; so do words that fix their own status ("painless")
and the section it lies in (FAMILY HISTORY). The lexicon's
``status_combination`` order picks the winner.

Scope rules, per cue group (``lexicon.yaml``):

- a cue governs its own sentence only, and never across ``;`` or ``:``;
- a terminator ("but", "however", ...) ends the scope of the cues it applies to;
- commas: ``cross`` (negated lists), ``lists`` (only a list closed by and/or/nor),
  ``stop``;
- at most ``max_words`` words between cue and mention;
- a cue stops at the next cue once a mention lies between them, so
  "No swelling, possible DVT" leaves DVT ``possible``, while stacked cues with
  nothing between ("no prior DVT") still combine;
- a ``sentence`` cue (consent boilerplate) governs its whole sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Optional, Sequence

from radassist.text.lexicon import CueRule, Lexicon

_HARD_BOUNDARY = re.compile(r";|(?<!\d):|:(?!\d)")
_LIST_CONJUNCTION = re.compile(r"(?<!\w)(?:and|or|nor|&)(?!\w)", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# how far, in characters, a clause is searched for the and/or that makes it a list
_LIST_REACH = 400


@dataclass(frozen=True)
class Target:
    """A term found in the text: a concept or a pattern name, and its span."""

    start: int
    end: int
    kind: str  # "concept" | "pattern"
    name: str
    fixed_status: Optional[str]
    limb: bool
    ignore_cues: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Cue:
    """A cue, pseudo-cue or terminator found in the text.

    ``status`` is the status a cue proposes, or for a terminator the status whose
    cues it ends (``"all"`` for every cue); a pseudo-cue has none.
    """

    start: int
    end: int
    kind: str  # "cue" | "pseudo" | "terminator"
    status: Optional[str]
    rule: Optional[CueRule]


@dataclass(frozen=True)
class Decision:
    """The status of one mention and what set it (cue words, or None)."""

    status: str
    cue: Optional[str]


def _keep_longest(items: list, priority, same_span_ok=lambda a, b: False) -> list:
    """Drop items overlapping a longer (then higher-priority, then earlier) one.

    An item with exactly the span of a kept one is kept too when
    ``same_span_ok(kept, item)``: one word can be two cues ("prophylaxis" reaches
    both ways).
    """
    if not items:
        return []
    taken = bytearray(max(item.end for item in items))
    kept, by_span = [], {}
    for item in sorted(items, key=lambda i: (i.start - i.end, priority(i), i.start)):
        twin = by_span.get((item.start, item.end))
        if twin is not None and same_span_ok(twin, item):
            kept.append(item)
        elif taken.find(1, item.start, item.end) == -1:
            taken[item.start:item.end] = b"\x01" * (item.end - item.start)
            by_span[(item.start, item.end)] = item
            kept.append(item)
    return sorted(kept, key=lambda i: i.start)


def find_targets(text: str, lowered: str, lexicon: Lexicon) -> list[Target]:
    """Concept and pattern terms in ``text``, sorted by start.

    A concept match overlapping one of its concept's ``exclude`` phrases is
    dropped; overlapping matches of one kind keep the longest.
    """
    excluded: dict[str, list[tuple[int, int]]] = {}
    for hit in lexicon.exclusions.scan(text, lowered):
        excluded.setdefault(hit.info.name, []).append((hit.start, hit.end))

    targets: list[Target] = []
    for kind, scanner in (("concept", lexicon.concepts), ("pattern", lexicon.patterns)):
        found = []
        for hit in scanner.scan(text, lowered):
            spans = excluded.get(hit.info.name, ())
            if any(a < hit.end and hit.start < b for a, b in spans):
                continue
            found.append(Target(hit.start, hit.end, kind, hit.info.name, hit.info.status,
                                hit.info.limb, hit.info.ignore_cues))
        targets += _keep_longest(found, lambda t: t.fixed_status is None)
    return sorted(targets, key=lambda t: t.start)


def find_cues(text: str, lowered: str, lexicon: Lexicon, targets: Sequence[Target]) -> list[Cue]:
    """Cues, pseudo-cues and terminators in ``text``, sorted by start.

    Overlaps keep the longest (a pseudo-cue wins a tie; one word may be two cues);
    anything overlapping a target is dropped, since a term that contains cue words
    ("painless", "prior ultrasound negative") carries its own meaning.
    """
    found = [Cue(hit.start, hit.end, hit.info.kind, hit.info.status, hit.info.rule)
             for hit in lexicon.cues.scan(text, lowered)]
    rank = {"pseudo": 0, "cue": 1, "terminator": 2}
    cues = _keep_longest(found, lambda c: rank[c.kind],
                         same_span_ok=lambda a, b: a.kind == b.kind == "cue")
    taken = bytearray(len(text))
    for target in targets:
        taken[target.start:target.end] = b"\x01" * (target.end - target.start)
    return [cue for cue in cues if taken.find(1, cue.start, cue.end) == -1]


class SentenceContext:
    """The cues and mentions of one sentence, and the scope tests between them.

    Every test looks only at the words between a cue and a mention, found by
    bisection in position lists built once per sentence, so a run-on "sentence"
    of thousands of words costs no more per mention than a short one.
    """

    def __init__(self, text: str, start: int, end: int, cues: Sequence[Cue],
                 mentions: Sequence[Target], lexicon: Lexicon):
        self.text = text
        self.reach = lexicon.cue_reach
        self.clause_verb = lexicon.clause_verb
        self.start, self.end = start, end
        self.mentions = sorted(mentions, key=lambda m: m.start)
        self.mention_starts = [m.start for m in self.mentions]
        self.cues = sorted((c for c in cues if c.kind == "cue"), key=lambda c: c.start)
        self.cue_starts = [c.start for c in self.cues]
        self.cue_ends = sorted((c.end, i) for i, c in enumerate(self.cues))
        # one sentence cue of each status is enough: each governs the whole sentence
        first_of_status = {}
        for cue in self.cues:
            if cue.rule.direction == "sentence":
                first_of_status.setdefault(cue.status, cue)
        self.sentence_cues = list(first_of_status.values())
        self.terminators = sorted((c for c in cues if c.kind == "terminator"), key=lambda c: c.start)
        self.terminator_starts = [t.start for t in self.terminators]
        self.word_starts = [m.start() for m in _WORD.finditer(text, start, end)]
        self.boundaries = [m.start() for m in _HARD_BOUNDARY.finditer(text, start, end)]
        self.commas = [i for i in range(start, end) if text[i] == ","] if "," in text[start:end] else []

    # -- positions between a and b ---------------------------------------------
    def _words(self, a: int, b: int) -> int:
        return bisect_left(self.word_starts, b) - bisect_left(self.word_starts, a)

    @staticmethod
    def _any_in(positions: list[int], a: int, b: int) -> bool:
        i = bisect_left(positions, a)
        return i < len(positions) and positions[i] < b

    def _terminators_in(self, status: str, a: int, b: int):
        first = bisect_left(self.terminator_starts, a)
        for terminator in self.terminators[first:]:
            if terminator.start >= b:
                break
            if terminator.end <= b and terminator.status in ("all", status):
                yield terminator

    def _mention_between(self, a: int, b: int) -> bool:
        i = bisect_left(self.mention_starts, a)
        return i < len(self.mentions) and self.mentions[i].end <= b

    def _stacked(self, cue: Cue, a: int, b: int, forward: bool) -> bool:
        """Another cue lies between, with a mention between it and ``cue``."""
        first = bisect_left(self.cue_starts, a)
        for other in self.cues[first:]:
            if other.start >= b:
                break
            if other is cue or other.end > b:
                continue
            if self._mention_between(a, other.start) if forward else self._mention_between(other.end, b):
                return True
        return False

    # -- clause limits, for the "lists" comma rule ----------------------------------
    def _clause_end(self, status: str, a: int) -> int:
        end = min(self.end, a + _LIST_REACH)
        i = bisect_left(self.boundaries, a)
        if i < len(self.boundaries):
            end = min(end, self.boundaries[i])
        for terminator in self._terminators_in(status, a, end):
            return terminator.start
        return end

    def _clause_start(self, status: str, b: int) -> int:
        start = max(self.start, b - _LIST_REACH)
        i = bisect_left(self.boundaries, b)
        if i > 0:
            start = max(start, self.boundaries[i - 1] + 1)
        for terminator in self._terminators_in(status, start, b):
            start = max(start, terminator.end)
        return start

    def _commas_allow(self, rule: CueRule, a: int, b: int, forward: bool) -> bool:
        first = bisect_left(self.commas, a)
        last = bisect_left(self.commas, b) - 1
        if last < first:
            return True  # no comma between
        if rule.commas == "stop":
            return False
        # the words between the mention and the comma nearest it must not be a clause
        beyond_comma = (self.text[self.commas[last] + 1:b] if forward
                        else self.text[a:self.commas[first]])
        if self.clause_verb.search(beyond_comma):
            return False
        if rule.commas == "cross":
            return True
        # "lists": the clause must be a list closed by and / or / nor
        if forward:
            return _LIST_CONJUNCTION.search(self.text, a, self._clause_end(rule.status, a)) is not None
        return _LIST_CONJUNCTION.search(self.text, self._clause_start(rule.status, b), b) is not None

    # -- the scope test ----------------------------------------------------------
    def governs(self, cue: Cue, mention: Target) -> bool:
        """True when ``cue``'s scope reaches ``mention``."""
        rule = cue.rule
        if rule.status in mention.ignore_cues:
            return False
        if rule.direction == "sentence":
            return True
        if mention.start >= cue.end and rule.direction in ("forward", "bidirectional"):
            a, b, forward = cue.end, mention.start, True
        elif mention.end <= cue.start and rule.direction in ("backward", "bidirectional"):
            a, b, forward = mention.end, cue.start, False
        else:
            return False
        return not (
            self._words(a, b) > rule.max_words
            or self._any_in(self.boundaries, a, b)
            or next(self._terminators_in(rule.status, a, b), None) is not None
            or not self._commas_allow(rule, a, b, forward)
            or self._stacked(cue, a, b, forward)
        )

    def _nearby_cues(self, mention: Target):
        """Cues close enough to reach ``mention``: the sentence cues, cues ending at
        at most ``reach`` words before it and cues starting as far after it."""
        yield from self.sentence_cues
        for k in range(bisect_right(self.cue_ends, (mention.start, len(self.cues))) - 1, -1, -1):
            end, index = self.cue_ends[k]
            if self._words(end, mention.start) > self.reach:
                break
            yield self.cues[index]
        after = bisect_left(self.cue_starts, mention.end)
        for cue in self.cues[after:]:
            if self._words(mention.end, cue.start) > self.reach:
                break
            yield cue

    def decide(self, mention: Target, section_status: Optional[str], section_header: Optional[str],
               combination: Sequence[str]) -> Decision:
        """The status of ``mention``: the first of ``combination`` that anything proposes.

        ``section_status`` is the default status of the mention's section, proposed in
        the name of its header words ``section_header``.
        """
        proposals: list[tuple[str, str]] = []
        if mention.fixed_status is not None:
            proposals.append((mention.fixed_status, self.text[mention.start:mention.end]))
        seen = set()
        for cue in self._nearby_cues(mention):
            if id(cue) not in seen and self.governs(cue, mention):
                proposals.append((cue.status, self.text[cue.start:cue.end]))
            seen.add(id(cue))
        if section_status is not None:
            proposals.append((section_status, section_header))
        for status in combination:
            for proposed, source in proposals:
                if proposed == status:
                    return Decision(status, source)
        return Decision("present", None)
