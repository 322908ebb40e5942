"""The Feast repository's objects, for the ``feast`` CLI (``make feast-plan``).

The definitions live in ``stock_assets.domain.feature_store.definitions`` so the Dagster assets,
the API and this repo share them; paths come from the STOCKOPS_* settings.
"""

from stock_assets.domain.feature_store.definitions import build_definitions
from stock_assets.settings import get_settings

_definitions = build_definitions(get_settings().indicators_dir)

ticker = _definitions.entity
indicators_source = _definitions.source
technical_indicators = _definitions.indicator_view
lstm_inputs = _definitions.model_service
