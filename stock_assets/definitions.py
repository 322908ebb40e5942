"""The Dagster code location: every asset, check, job, schedule and sensor under
``stock_assets.defs``, collected by loading the package (nothing is listed by hand), with the
resources the settings choose."""

from __future__ import annotations

import warnings

import dagster as dg

import stock_assets.defs
from stock_assets.defs.resources import resources_from_settings
from stock_assets.settings import Settings, get_settings


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The code location bound to ``settings`` (the process settings by default); the API's
    local launcher builds one bound to its own settings."""
    with warnings.catch_warnings():
        # Marked preview in Dagster 1.13 (pinned exactly in pyproject.toml), said once per run
        # start otherwise.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.load_definitions_from_package_module(
            stock_assets.defs,
            resources=resources_from_settings(settings or get_settings()),
            # One process per run: each step in its own subprocess re-imports torch, Feast and
            # pandas (~7 s a step on two cores). Runs are still isolated by the run launcher.
            executor=dg.in_process_executor,
        )


defs = build_definitions()
