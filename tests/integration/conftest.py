"""The API fixtures of tests/serving_api (a started app over a temp data dir and instance)."""

from tests.serving_api.conftest import make_client, prefix

__all__ = ["make_client", "prefix"]
