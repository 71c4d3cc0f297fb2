"""Shared test fixtures: where the read-only shared/ folder is, and the algorithm."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("RADASSIST_SHARED") or REPO.parent / "shared")


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        pytest.skip("../shared is absent: shared real-data tests skipped")
    return path


@pytest.fixture(scope="session")
def algorithm():
    from radassist.rules import load_algorithm

    return load_algorithm()
