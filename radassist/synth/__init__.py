"""Synthetic calf radiographs with known calcification patterns (phantom generator).

Physics-style: 3-D solids in millimetres are projected as path lengths,
attenuated, exposed, blurred, made noisy and processed like a CR/DX system,
then stored as DICOM. Used to measure the image analysis' accuracy.
"""

from .case import SynthCase, make_case, write_set
from .scene import ALL_PATTERNS

__all__ = ["SynthCase", "make_case", "write_set", "ALL_PATTERNS"]
