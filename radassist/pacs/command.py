"""``radassist listen``, ``orthanc`` and ``batch``: registered on the main CLI parser."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add the PACS commands to ``radassist``'s sub-command parser."""
