"""StockOps: the Dagster code location and the domain code it orchestrates.

Importing this package must stay cheap and free of Dagster: the serving API and the agents import
``stock_assets.domain`` and ``stock_assets.settings`` without pulling in the asset definitions.
"""
