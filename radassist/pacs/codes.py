"""Coded concepts of the Structured Report, read from ``codes.yaml``.

Standard codes (DCM, SNOMED CT, the Open Imaging Finding Models) are used
where they exist; the rest are local codes in scheme ``99RADASSIST``, listed
in the README.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydicom.sr.coding import Code

CODES_FILE = Path(__file__).with_name("codes.yaml")
LOCAL_SCHEME = "99RADASSIST"


@lru_cache(maxsize=1)
def _table() -> dict:
    with open(CODES_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _code(entry) -> Code:
    scheme, value, meaning = entry
    return Code(value=str(value), scheme_designator=scheme, meaning=meaning)


def concept(name: str) -> Code:
    """A named concept of the report, e.g. ``concept("recommendation")``."""
    return _code(_table()["concepts"][name])


def pattern(name: str) -> Code:
    """The code of a calcification pattern (closed vocabulary of the result)."""
    return _code(_table()["patterns"][name])


def finding_type(pattern_name: str) -> Code:
    """Vascular calcification for arterial and phlebolith clusters, else soft-tissue calcification."""
    vascular = pattern_name in _table()["vascular_patterns"]
    return concept("vascular_calcification" if vascular else "soft_tissue_calcification")


def status(name: str) -> Code:
    """The code of a concept status (``present``, ``possible``, ...)."""
    return _code(_table()["statuses"][name])


def action(name: str) -> Code:
    return _code(_table()["actions"][name])


def urgency(name: str) -> Code:
    return _code(_table()["urgencies"][name])


def text_concept(name: str) -> Code:
    """A report-text concept (``dvt_suspected`` → ``C-DVT-SUSPECTED``), a local code."""
    return Code(value="C-" + name.upper().replace("_", "-"), scheme_designator=LOCAL_SCHEME,
                meaning=name.replace("_", " ").capitalize())


def schemes_used() -> dict[str, str]:
    """Non-DICOM-registered schemes the SR uses, with a name for the Coding Scheme Identification."""
    local = _table()["scheme"]
    return {local["designator"]: local["name"], "OIFM": "Open Imaging Finding Models"}


def local_code_table() -> list[tuple[str, str, str]]:
    """Every ``(scheme, value, meaning)`` the report uses, for the README."""
    table = _table()
    rows = [tuple(map(str, e)) for section in ("concepts", "patterns", "statuses", "actions", "urgencies")
            for e in table[section].values()]
    from radassist.model import CONCEPTS

    rows += [(c.scheme_designator, c.value, c.meaning) for c in map(text_concept, CONCEPTS)]
    return rows
