"""StockOps serving API: FastAPI app factory, routes, cache, rate limits, run launchers, metrics."""
