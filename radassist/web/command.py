"""``radassist serve``: registered on the main CLI parser."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the web commands to ``radassist``'s sub-command parser."""
