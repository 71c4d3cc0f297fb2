"""Load the management algorithm from ``algorithms/*.yaml`` and apply it.

The rules are data; this module only knows the small declarative condition
language documented at the top of ``algorithms/calf_calcification.yaml``
(``all``/``any``/``not`` over concepts, patterns, pattern groups, the mass, and
earlier rules). A malformed rules file is refused at load with the line and
the reason (:class:`~radassist.errors.RulesFileError`).

Evaluation collects *evidence* as it goes: a concept leaf that holds
contributes its text spans, a pattern leaf its cluster ids. Rationale strings
are filled from that evidence, so every recommendation names why.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import yaml

from .errors import RulesFileError
from .model import (
    ACTION_ORDER,
    CONCEPTS,
    PATTERNS,
    STATUSES,
    AlgorithmInfo,
    Decision,
    Evidence,
    Recommendation,
    Warning,
)

DEFAULT_ALGORITHM = Path(__file__).resolve().parents[1] / "algorithms" / "calf_calcification.yaml"
URGENCIES = ("emergency", "urgent", "routine")
_URGENCY_RANK = {u: i for i, u in enumerate(URGENCIES)}
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_TEMPLATE_FIELDS = {"image_evidence", "text_evidence", "evidence"}

# --------------------------------------------------------------------------
# The parsed algorithm
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One node of a condition tree: ``kind`` names the form, ``arg`` its argument."""

    kind: str
    arg: Any


@dataclass(frozen=True)
class ActionSpec:
    action: str
    urgency: str
    rationale: str
    when: Optional[Condition] = None


@dataclass(frozen=True)
class Addendum:
    when: Condition
    rationale: Optional[str] = None
    warning: Optional[tuple[str, str]] = None  # (code, message)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    when: Condition
    actions: tuple[ActionSpec, ...]
    addenda: tuple[Addendum, ...]
    warnings: tuple[tuple[str, str], ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    file: str
    section: str
    passage: str

    def cite(self) -> str:
        return f"{self.file}, {self.section}"


@dataclass(frozen=True)
class Algorithm:
    id: str
    version: str
    sha256: str
    path: Path
    title: str
    review: Mapping[str, Any]
    pattern_groups: Mapping[str, frozenset[str]]
    status_sets: Mapping[str, frozenset[str]]
    sources: Mapping[str, Source]
    rules: tuple[Rule, ...]
    notes: tuple[Rule, ...]
    golden_cases: tuple[Mapping[str, Any], ...]

    @property
    def info(self) -> AlgorithmInfo:
        return AlgorithmInfo(id=self.id, version=self.version, sha256=self.sha256)


# --------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------


class _Locator:
    """Maps a path of keys/indices in the YAML document to its line number."""

    def __init__(self, root: yaml.Node):
        self.root = root

    def line(self, path: Sequence[Any]) -> int:
        node = self.root
        for key in path:
            if isinstance(node, yaml.MappingNode):
                nxt = next((v for k, v in node.value if k.value == key), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                nxt = node.value[key]
            else:
                nxt = None
            if nxt is None:
                break
            node = nxt
        return node.start_mark.line + 1


class _Parser:
    """Validates the raw YAML structure and builds the :class:`Algorithm`."""

    def __init__(self, raw: Any, locator: _Locator, path: Path):
        self.raw = raw
        self.locator = locator
        self.path = path
        self.groups: dict[str, frozenset[str]] = {}
        self.status_sets: dict[str, frozenset[str]] = {}
        self.source_ids: set[str] = set()
        self.rule_ids: list[str] = []

    def fail(self, where: Sequence[Any], reason: str) -> RulesFileError:
        line = self.locator.line(where)
        dotted = ".".join(str(p) for p in where) or "(top level)"
        return RulesFileError(f"{self.path.name}, line {line} ({dotted}): {reason}")

    def need(self, obj: Any, key: str, where: list, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise self.fail(where, f"missing required key '{key}'")
        value = obj[key]
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(where + [key], f"'{key}' must be a {names}, got {type(value).__name__}")
        return value

    def only_keys(self, obj: dict, allowed: Iterable[str], where: list) -> None:
        extra = sorted(set(obj) - set(allowed))
        if extra:
            raise self.fail(where + [extra[0]], f"unknown key '{extra[0]}' (allowed: {', '.join(sorted(allowed))})")

    # -- top level ---------------------------------------------------------

    def parse(self, sha256: str) -> Algorithm:
        raw = self.raw
        if not isinstance(raw, dict):
            raise self.fail([], "the rules file must be a mapping at the top level")
        self.only_keys(
            raw,
            {"id", "version", "title", "review", "pattern_groups", "status_sets", "imaging_actions",
             "sources", "rules", "notes", "golden_cases"},
            [],
        )
        alg_id = self.need(raw, "id", [], str)
        version = str(self.need(raw, "version", [], str))
        if not _SEMVER.match(version):
            raise self.fail(["version"], f"version '{version}' is not a semantic version (MAJOR.MINOR.PATCH)")
        review = self.need(raw, "review", [], dict)
        for key in ("status", "authored_by", "authored_on"):
            self.need(review, key, ["review"], str)

        for name, members in self.need(raw, "pattern_groups", [], dict).items():
            where = ["pattern_groups", name]
            if not isinstance(members, list) or not members:
                raise self.fail(where, "a pattern group is a non-empty list of patterns")
            for p in members:
                if p not in PATTERNS or p == "none":
                    raise self.fail(where, f"unknown pattern '{p}'")
            self.groups[name] = frozenset(members)
        for name, members in self.need(raw, "status_sets", [], dict).items():
            where = ["status_sets", name]
            if not isinstance(members, list) or any(s not in STATUSES for s in members):
                raise self.fail(where, f"a status set is a list of statuses from {', '.join(STATUSES)}")
            self.status_sets[name] = frozenset(members)

        sources = {}
        for sid, src in self.need(raw, "sources", [], dict).items():
            where = ["sources", sid]
            if not isinstance(src, dict):
                raise self.fail(where, "a source is a mapping with file, section and passage")
            self.only_keys(src, {"file", "section", "passage"}, where)
            sources[sid] = Source(
                file=self.need(src, "file", where, str),
                section=self.need(src, "section", where, str),
                passage=" ".join(self.need(src, "passage", where, str).split()),
            )
        self.source_ids = set(sources)

        rules = tuple(self.rule(r, ["rules", i]) for i, r in enumerate(self.need(raw, "rules", [], list)))
        notes = tuple(
            self.rule(r, ["notes", i], note=True) for i, r in enumerate(raw.get("notes") or [])
        )
        golden = raw.get("golden_cases") or []
        if not isinstance(golden, list):
            raise self.fail(["golden_cases"], "golden_cases must be a list")
        for i, case in enumerate(golden):
            self.golden_case(case, ["golden_cases", i])

        return Algorithm(
            id=alg_id, version=version, sha256=sha256, path=self.path, title=str(raw.get("title", alg_id)),
            review=review, pattern_groups=self.groups, status_sets=self.status_sets, sources=sources,
            rules=rules, notes=notes, golden_cases=tuple(golden),
        )

    # -- rules ---------------------------------------------------------------

    def rule(self, raw: Any, where: list, note: bool = False) -> Rule:
        if not isinstance(raw, dict):
            raise self.fail(where, "a rule is a mapping")
        self.only_keys(raw, {"id", "title", "when", "actions", "addenda", "warnings", "warning", "sources"}, where)
        rule_id = self.need(raw, "id", where, str)
        if rule_id in self.rule_ids:
            raise self.fail(where + ["id"], f"duplicate rule id '{rule_id}'")
        when = self.condition(self.need(raw, "when", where, dict), where + ["when"])
        actions = tuple(
            self.action(a, where + ["actions", i]) for i, a in enumerate(raw.get("actions") or [])
        )
        addenda = tuple(
            self.addendum(a, where + ["addenda", i]) for i, a in enumerate(raw.get("addenda") or [])
        )
        warnings = [self.warning(w, where + ["warnings", i]) for i, w in enumerate(raw.get("warnings") or [])]
        if "warning" in raw:
            warnings.append(self.warning(raw["warning"], where + ["warning"]))
        if not actions and not warnings and not note:
            raise self.fail(where, f"rule '{rule_id}' has neither actions nor warnings")
        sources = self.need(raw, "sources", where, list)
        for i, sid in enumerate(sources):
            if sid not in self.source_ids:
                raise self.fail(where + ["sources", i], f"unknown source '{sid}'")
        self.rule_ids.append(rule_id)
        return Rule(
            id=rule_id, title=str(raw.get("title", rule_id)), when=when, actions=actions, addenda=addenda,
            warnings=tuple(warnings), sources=tuple(sources),
        )

    def action(self, raw: Any, where: list) -> ActionSpec:
        if not isinstance(raw, dict):
            raise self.fail(where, "an action is a mapping with action, urgency and rationale")
        self.only_keys(raw, {"action", "urgency", "rationale", "when"}, where)
        action = self.need(raw, "action", where, str)
        if action not in ACTION_ORDER:
            raise self.fail(where + ["action"], f"unknown action '{action}' (allowed: {', '.join(ACTION_ORDER)})")
        urgency = self.need(raw, "urgency", where, str)
        if urgency not in URGENCIES:
            raise self.fail(where + ["urgency"], f"unknown urgency '{urgency}' (allowed: {', '.join(URGENCIES)})")
        rationale = self.template(self.need(raw, "rationale", where, str), where + ["rationale"])
        when = self.condition(raw["when"], where + ["when"]) if "when" in raw else None
        return ActionSpec(action=action, urgency=urgency, rationale=rationale, when=when)

    def addendum(self, raw: Any, where: list) -> Addendum:
        if not isinstance(raw, dict):
            raise self.fail(where, "an addendum is a mapping with when and rationale or warning")
        self.only_keys(raw, {"when", "rationale", "warning"}, where)
        when = self.condition(self.need(raw, "when", where, dict), where + ["when"])
        rationale = self.template(raw["rationale"], where + ["rationale"]) if "rationale" in raw else None
        warning = self.warning(raw["warning"], where + ["warning"]) if "warning" in raw else None
        if rationale is None and warning is None:
            raise self.fail(where, "an addendum needs a rationale or a warning")
        return Addendum(when=when, rationale=rationale, warning=warning)

    def warning(self, raw: Any, where: list) -> tuple[str, str]:
        if not isinstance(raw, dict):
            raise self.fail(where, "a warning is a mapping with code and message")
        self.only_keys(raw, {"code", "message"}, where)
        return (self.need(raw, "code", where, str), " ".join(self.need(raw, "message", where, str).split()))

    def template(self, text: Any, where: list) -> str:
        if not isinstance(text, str):
            raise self.fail(where, "a rationale is a string")
        for name in re.findall(r"\{([^{}]*)\}", text):
            if name not in _TEMPLATE_FIELDS:
                raise self.fail(where, f"unknown placeholder '{{{name}}}' (allowed: {', '.join(sorted(_TEMPLATE_FIELDS))})")
        return " ".join(text.split())

    # -- conditions ------------------------------------------------------------

    def condition(self, raw: Any, where: list) -> Condition:
        if not isinstance(raw, dict):
            raise self.fail(where, "a condition is a mapping")
        if "concept" in raw:
            self.only_keys(raw, {"concept", "status"}, where)
            concept = raw["concept"]
            if concept not in CONCEPTS:
                raise self.fail(where + ["concept"], f"unknown concept '{concept}'")
            statuses = self.statuses(raw.get("status"), where + ["status"])
            return Condition("concept", (concept, statuses))
        if len(raw) != 1:
            raise self.fail(where, f"a condition has exactly one form, got {', '.join(map(str, raw)) or 'none'}")
        (kind, arg), = raw.items()
        here = where + [kind]
        if kind in ("all", "any"):
            if not isinstance(arg, list):
                raise self.fail(here, f"'{kind}' takes a list of conditions")
            return Condition(kind, tuple(self.condition(c, here + [i]) for i, c in enumerate(arg)))
        if kind == "not":
            return Condition("not", self.condition(arg, here))
        if kind == "pattern":
            if arg not in PATTERNS or arg == "none":
                raise self.fail(here, f"unknown pattern '{arg}'")
            return Condition(kind, arg)
        if kind in ("pattern_group", "only_pattern_group"):
            if arg not in self.groups:
                raise self.fail(here, f"unknown pattern group '{arg}' (defined: {', '.join(self.groups)})")
            return Condition(kind, arg)
        if kind in ("mass_seen", "image_analysed", "calcification_found"):
            if not isinstance(arg, bool):
                raise self.fail(here, f"'{kind}' takes true or false")
            return Condition(kind, arg)
        if kind == "rule_matched":
            if arg not in self.rule_ids:
                raise self.fail(here, f"'{arg}' is not a rule defined earlier in the file")
            return Condition(kind, arg)
        if kind == "no_action_among":
            if not isinstance(arg, list) or any(a not in ACTION_ORDER for a in arg):
                raise self.fail(here, f"'no_action_among' takes a list of actions from {', '.join(ACTION_ORDER)}")
            return Condition(kind, frozenset(arg))
        raise self.fail(here, f"unknown condition form '{kind}'")

    def statuses(self, raw: Any, where: list) -> frozenset[str]:
        names = raw if isinstance(raw, list) else [raw]
        out: set[str] = set()
        for name in names:
            if name in self.status_sets:
                out |= self.status_sets[name]
            elif name in STATUSES:
                out.add(name)
            else:
                known = ", ".join([*STATUSES, *self.status_sets])
                raise self.fail(where, f"unknown status '{name}' (allowed: {known})")
        return frozenset(out)

    def golden_case(self, raw: Any, where: list) -> None:
        if not isinstance(raw, dict):
            raise self.fail(where, "a golden case is a mapping")
        self.only_keys(
            raw,
            {"name", "patterns", "mass", "image_analysed", "concepts", "text", "expect_actions",
             "expect_rules", "expect_warnings", "expect_no_warnings"},
            where,
        )
        self.need(raw, "name", where, str)
        for p in self.need(raw, "patterns", where, list):
            if p not in PATTERNS:
                raise self.fail(where + ["patterns"], f"unknown pattern '{p}'")
        for concept, status in (raw.get("concepts") or {}).items():
            if concept not in CONCEPTS or status not in STATUSES:
                raise self.fail(where + ["concepts", concept], f"unknown concept or status '{concept}: {status}'")
        for a in self.need(raw, "expect_actions", where, list):
            if a not in ACTION_ORDER:
                raise self.fail(where + ["expect_actions"], f"unknown action '{a}'")


def load_algorithm(path: str | os.PathLike | None = None) -> Algorithm:
    """Load and validate a rules file.

    Parameters
    ----------
    path : path-like, optional
        The YAML rules file; default ``$RADASSIST_ALGORITHM`` or the shipped
        ``algorithms/calf_calcification.yaml``.

    Raises
    ------
    RulesFileError
        When the file is missing, is not YAML, or breaks the schema; the
        message names the line and the reason.
    """
    chosen = Path(path or os.environ.get("RADASSIST_ALGORITHM") or DEFAULT_ALGORITHM)
    return _load_cached(chosen.resolve())


@lru_cache(maxsize=8)
def _load_cached_by_digest(path: Path, digest: str, data: bytes) -> Algorithm:
    text = data.decode("utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RulesFileError(f"{path.name}{line}: not valid YAML ({problem})") from None
    if root is None:
        raise RulesFileError(f"{path.name}: the rules file is empty")
    return _Parser(raw, _Locator(root), path).parse(digest)


def _load_cached(path: Path) -> Algorithm:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulesFileError(f"cannot read the rules file {path}: {exc.strerror}") from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise RulesFileError(f"{path.name}: the rules file is not UTF-8 text") from None
    return _load_cached_by_digest(path, hashlib.sha256(data).hexdigest(), data)


# --------------------------------------------------------------------------
# Facts and evaluation
# --------------------------------------------------------------------------


@dataclass
class Facts:
    """What the rules look at.

    ``patterns`` maps each pattern found to the ids of its clusters (and a
    short description of each for rationales); ``concepts`` maps a concept to
    its status and evidence spans.
    """

    patterns: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    masses: list[tuple[int, str]] = field(default_factory=list)
    concepts: dict[str, tuple[str, list[Evidence]]] = field(default_factory=dict)
    image_analysed: bool = True

    @classmethod
    def simple(
        cls,
        patterns: Iterable[str] = (),
        mass_detected: bool = False,
        concepts: Mapping[str, str] | None = None,
        image_analysed: bool = True,
    ) -> "Facts":
        """Facts from plain values: pattern names, a mass flag, ``{concept: status}``."""
        found: dict[str, list[tuple[int, str]]] = {}
        for i, p in enumerate(patterns, start=1):
            if p not in PATTERNS:
                raise ValueError(f"unknown pattern '{p}' (allowed: {', '.join(PATTERNS)})")
            if p != "none":
                found.setdefault(p, []).append((i, p.replace("_", " ")))
        conc: dict[str, tuple[str, list[Evidence]]] = {}
        for name, status in (concepts or {}).items():
            if name not in CONCEPTS:
                raise ValueError(f"unknown concept '{name}' (allowed: {', '.join(CONCEPTS)})")
            if status not in STATUSES:
                raise ValueError(f"unknown status '{status}' for {name} (allowed: {', '.join(STATUSES)})")
            conc[name] = (status, [])
        masses = [(1, "soft-tissue mass on the image")] if mass_detected else []
        return cls(patterns=found, masses=masses, concepts=conc, image_analysed=image_analysed)


@dataclass
class _Trace:
    """Evidence gathered while a condition was evaluated."""

    clusters: dict[int, str] = field(default_factory=dict)
    masses: dict[int, str] = field(default_factory=dict)
    text: list[tuple[str, str, list[Evidence]]] = field(default_factory=list)  # concept, status, spans

    def merge(self, other: "_Trace") -> None:
        self.clusters.update(other.clusters)
        self.masses.update(other.masses)
        for item in other.text:
            if all(item[0] != t[0] for t in self.text):
                self.text.append(item)

    def image_phrase(self) -> str:
        parts = [desc for _, desc in sorted(self.clusters.items())]
        parts += [desc for _, desc in sorted(self.masses.items())]
        return "; ".join(parts)

    def text_phrase(self) -> str:
        phrases = []
        for concept, status, spans in self.text:
            label = concept.replace("_", " ")
            quoted = [f'"{e.text}"' + (f' with cue "{e.cue}"' if e.cue and e.cue != e.text else "")
                      for e in _unique_spans(spans)[:3]]
            phrases.append(f"{label}, {status}" + (": " + ", ".join(quoted) if quoted else ""))
        return "; ".join(phrases)

    def evidence(self) -> list[Evidence]:
        out: list[Evidence] = []
        for _, _, spans in self.text:
            out.extend(spans)
        return _unique_spans(out)


def _unique_spans(spans: Iterable[Evidence]) -> list[Evidence]:
    seen, out = set(), []
    for e in spans:
        if (e.start, e.end) not in seen:
            seen.add((e.start, e.end))
            out.append(e)
    return out


class _Evaluator:
    def __init__(self, algorithm: Algorithm, facts: Facts):
        self.alg = algorithm
        self.facts = facts
        self.matched: list[str] = []
        self.actions: set[str] = set()

    def holds(self, cond: Condition) -> tuple[bool, _Trace]:
        """Evaluate ``cond``; the trace holds the evidence of what made it true."""
        kind, arg, f = cond.kind, cond.arg, self.facts
        trace = _Trace()
        if kind in ("all", "any"):
            results = [self.holds(c) for c in arg]  # no short-circuit: gather all evidence
            ok = all(r[0] for r in results) if kind == "all" else any(r[0] for r in results)
            if ok:
                for r_ok, r_trace in results:
                    if r_ok:
                        trace.merge(r_trace)
            return ok, trace
        if kind == "not":
            return (not self.holds(arg)[0]), trace
        if kind == "concept":
            concept, statuses = arg
            if concept in f.concepts and f.concepts[concept][0] in statuses:
                status, spans = f.concepts[concept]
                relevant = [e for e in spans if e.status is None or e.status in statuses] or spans
                trace.text.append((concept, status, relevant))
                return True, trace
            return False, trace
        if kind == "pattern":
            return self._patterns({arg}, trace)
        if kind == "pattern_group":
            return self._patterns(self.alg.pattern_groups[arg], trace)
        if kind == "only_pattern_group":
            found = set(f.patterns)
            return bool(found) and found <= self.alg.pattern_groups[arg], trace
        if kind == "calcification_found":
            return bool(f.patterns) == arg, trace
        if kind == "mass_seen":
            if f.masses and arg:
                trace.masses.update(dict(f.masses))
            return bool(f.masses) == arg, trace
        if kind == "image_analysed":
            return f.image_analysed == arg, trace
        if kind == "rule_matched":
            return arg in self.matched, trace
        if kind == "no_action_among":
            return not (self.actions & arg), trace
        raise AssertionError(f"unhandled condition {kind}")  # the parser admits no other form

    def _patterns(self, wanted: Iterable[str], trace: _Trace) -> tuple[bool, _Trace]:
        hit = False
        for p in wanted:
            for cid, desc in self.facts.patterns.get(p, []):
                trace.clusters[cid] = desc
                hit = True
        return hit, trace


def _fill(template: str, trace: _Trace) -> str:
    image, text = trace.image_phrase(), trace.text_phrase()
    both = "; ".join(x for x in (text, image) if x)
    out = template.format(image_evidence=image, text_evidence=text, evidence=both)
    # Tidy empty evidence: "()" or "( )" where nothing was there to name.
    out = re.sub(r"\s*\(\s*\)", "", out)
    return re.sub(r"\s+([.,;:])", r"\1", out).strip()


def decide(facts: Facts, algorithm: Algorithm | None = None) -> Decision:
    """Apply every rule in order; merge actions; pick the primary action.

    Parameters
    ----------
    facts : Facts
        Image patterns (with cluster ids), masses and text concepts.
    algorithm : Algorithm, optional
        Default: :func:`load_algorithm` ().

    Returns
    -------
    Decision
        Recommendations in the algorithm's action order (each action once,
        keeping every rule id that added it), the primary action (the first),
        the matched rule ids, and the warnings the rules raised.
    """
    alg = algorithm or load_algorithm()
    ev = _Evaluator(alg, facts)
    recs: dict[str, Recommendation] = {}
    warnings: list[Warning] = []

    for rule, is_note in [*((r, False) for r in alg.rules), *((n, True) for n in alg.notes)]:
        ok, trace = ev.holds(rule.when)
        if not ok:
            continue
        if not is_note:
            ev.matched.append(rule.id)
        extra_text: list[str] = []
        for add in rule.addenda:
            add_ok, add_trace = ev.holds(add.when)
            if not add_ok:
                continue
            if add.rationale:
                extra_text.append(_fill(add.rationale, add_trace))
                trace.merge(add_trace)
            if add.warning:
                warnings.append(Warning(code=add.warning[0], message=add.warning[1], rule=rule.id))
        for code, message in rule.warnings:
            warnings.append(Warning(code=code, message=message, rule=None if is_note else rule.id))
        sources = [alg.sources[s] for s in rule.sources]
        for spec in rule.actions:
            if spec.when is not None:
                spec_ok, spec_trace = ev.holds(spec.when)
                if not spec_ok:
                    continue
                trace.merge(spec_trace)
            rationale = " ".join([f"{rule.id}: {_fill(spec.rationale, trace)}", *extra_text])
            new = Recommendation(
                action=spec.action,
                urgency=spec.urgency,
                rules=[rule.id],
                rationale=rationale,
                source="; ".join(s.cite() for s in sources),
                source_passage=" … ".join(s.passage for s in sources),
                cluster_ids=sorted(trace.clusters),
                text_evidence=trace.evidence(),
            )
            recs[spec.action] = _merge(recs[spec.action], new) if spec.action in recs else new
            ev.actions.add(spec.action)

    ordered = [recs[a] for a in ACTION_ORDER if a in recs]
    return Decision(
        recommendations=ordered,
        primary_action=ordered[0].action if ordered else None,
        matched_rules=ev.matched,
        warnings=warnings,
    )


def _merge(old: Recommendation, new: Recommendation) -> Recommendation:
    """One action added by two rules: keep both rule ids, both rationales, the higher urgency."""
    urgency = min(old.urgency, new.urgency, key=_URGENCY_RANK.__getitem__)
    sources = list(dict.fromkeys([*old.source.split("; "), *new.source.split("; ")]))
    passages = list(dict.fromkeys([*(old.source_passage or "").split(" … "), *(new.source_passage or "").split(" … ")]))
    return Recommendation(
        action=old.action,
        urgency=urgency,
        rules=sorted({*old.rules, *new.rules}),
        rationale=f"{old.rationale} {new.rationale}",
        source="; ".join(sources),
        source_passage=" … ".join(p for p in passages if p),
        cluster_ids=sorted({*old.cluster_ids, *new.cluster_ids}),
        text_evidence=_unique_spans([*old.text_evidence, *new.text_evidence]),
    )
