"""Fixtures for the image-analysis tests: generated phantom studies, decoded.

Not a conftest: import the fixture into a test module with
``from image_fixtures import synth_case  # noqa: F401``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pytest

#: Image size used for generated cases in the fast tests (smaller is faster;
#: the generator raises the spacing so the leg still fits).
FAST_ROWS, FAST_COLUMNS = 1600, 1000


@dataclass(frozen=True)
class DecodedCase:
    pixels: np.ndarray
    spacing_mm: tuple[float, float] | None
    label: dict


@lru_cache(maxsize=64)
def decoded_case(seed: int, pattern: str, rows: int = FAST_ROWS, columns: int = FAST_COLUMNS) -> DecodedCase:
    """Generate one study with ``radassist.synth`` and decode it as the pipeline would."""
    from radassist.dicom import read_dicom
    from radassist.synth import make_case

    case = make_case(seed, pattern, rows=rows, columns=columns)
    image = read_dicom(case.dataset)
    return DecodedCase(image.pixels, image.spacing_mm, case.label)


@pytest.fixture
def synth_case():
    """``synth_case(seed, pattern)`` → :class:`DecodedCase`; skips when the generator is absent."""
    pytest.importorskip("radassist.synth")
    try:
        from radassist.synth import make_case  # noqa: F401
    except ImportError:
        pytest.skip("radassist.synth.make_case is not available")
    return decoded_case


def boxes_overlap(a, b) -> bool:
    """Whether two boxes ``(r0, c0, r1, c1)`` (end-exclusive) intersect."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
