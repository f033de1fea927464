"""Helpers shared by the site checks: the repository root and the documents of _toc.yml."""

from pathlib import Path

from opsense.tools import catalog as chapters

ROOT = Path(__file__).resolve().parents[2]


def toc_documents() -> list[str]:
    """Every document of _toc.yml (root first), as paths without extension."""
    return chapters.toc_documents(ROOT)
