"""Compatibility for modules that still import the platform from ``tests.support``."""
