"""Finding and naming soft-tissue calcifications on lower-leg radiographs.

Public API::

    analyze_image(pixels, spacing_mm, *, timings=None) -> radassist.model.ImageFindings

Classical image heuristics only: segmentation of the field, leg, bone and
markers on a ≈1 mm grid; detection of dense foci on a ≈0.25 mm grid;
measurement, clustering and pattern scoring in millimetres (the pattern table
is ``patterns.yaml``).
"""

from .analyze import analyze_image

__all__ = ["analyze_image"]
