"""Reading report text: clinical concepts with negation, hedging, history and
experiencer, and the calcification patterns a radiologist names."""

from radassist.text.reader import read_report

__all__ = ["read_report"]
