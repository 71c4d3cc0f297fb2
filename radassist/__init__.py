"""radassist: decision support for soft-tissue calcifications on calf radiographs."""

__version__ = "0.1.0"
