"""Kept while ``tests/agent_graph/trained.py`` imports the platform from here: it lives in
``devkit.platform`` (``trained_platform`` there is the same trained platform, once per process)."""

from devkit.platform import TinyPlatform, tiny_platform

__all__ = ["TinyPlatform", "tiny_platform"]
