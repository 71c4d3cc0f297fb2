"""radassist: decision support for soft-tissue calcifications on calf radiographs.

Public surface::

    radassist.analyze(path_or_dataset, report_text=None) -> AnalysisResult
    radassist.read_report(text) -> TextFindings
    radassist.recommend(patterns, mass_detected=False, concepts={}) -> list[Recommendation]

It is decision support for a radiologist, never a diagnosis.
"""

__version__ = "0.1.0"
__all__ = ["analyze", "read_report", "recommend", "__version__"]


def __getattr__(name):
    # Imported lazily so that `radassist --help` and the text reader start fast.
    if name in ("analyze", "read_report", "recommend"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'radassist' has no attribute {name!r}")
