"""The forecast use case behind ``/predict-child`` and ``/analyze``: the cached answer, the
materialized forecast, or (no model yet) the onboarding task that will make one.

The hot path is asynchronous and touches nothing that blocks: the serving model and the data's
as-of session come from in-process memos, the cached JSON from Redis (``redis.asyncio``). Anything
else (a first request for a ticker, a cache miss, a new ticker) runs in the thread pool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from serving_api.cache import ForecastCache
from serving_api.forecasting import ForecastService, Frame, forecast_body
from serving_api.problems import UntrainedTickerError
from serving_api.tasks import TaskHandle, TaskService
from stock_assets.domain.ml.forecast import ForecastResult
from stock_assets.domain.serving import NoModelError, ServingModel


@dataclass(frozen=True)
class Served:
    """A forecast answer: its JSON (without the ``cache_hit`` flag) and whether it was cached."""

    text: str
    cache_hit: bool
    # Set on a miss answered from memory: the cache key it is still to be stored under.
    unsaved_key: str | None = None

    def body(self) -> bytes:
        # Stored without the flag; prepend it rather than parse and re-serialise (the hot path).
        flag = '{"cache_hit":true,' if self.cache_hit else '{"cache_hit":false,'
        return (flag + self.text[1:]).encode()


@dataclass(frozen=True)
class Pending:
    """No model yet: the task that onboards the ticker."""

    task: TaskHandle


class PredictionService:
    def __init__(self, forecasts: ForecastService, cache: ForecastCache, tasks: TaskService):
        self.forecasts = forecasts
        self.cache = cache
        self.tasks = tasks

    async def predict(self, ticker: str) -> Served | Pending:
        """The forecast of the ticker's serving model on its latest data, or its onboarding."""
        served = await self.from_memory(ticker)
        if served is not None:
            await self.save(served)
            return served
        return await run_in_threadpool(self.predict_sync, ticker)

    async def from_memory(self, ticker: str) -> Served | None:
        """The answer when everything it needs is in memory or Redis, without blocking the event
        loop: the cached JSON, or on a miss the materialized forecast (for ``save`` to cache).
        None when something must be read or computed first."""
        known = self.forecasts.known(ticker)
        if known is None:
            return None
        serving, frame = known
        key = self.cache.key(ticker, serving.model_id, frame.as_of)
        text = await self.cache.aget(key)
        if text is not None:
            return Served(text, True)
        text = self.forecasts.materialized_text(ticker, serving, frame)
        if text is None:
            return None
        return Served(text, False, unsaved_key=key)

    async def save(self, served: Served) -> None:
        """Cache a miss's answer. The fast path calls it once the answer is sent, so a miss
        costs the client one Redis round trip (the read), not two."""
        if served.unsaved_key is not None:
            await self.cache.aput(served.unsaved_key, served.text)

    def predict_sync(self, ticker: str) -> Served | Pending:
        found = self.serving_or_task(ticker)
        if isinstance(found, Pending):
            return found
        serving, frame = found
        key = self.cache.key(ticker, serving.model_id, frame.as_of)
        text = self.cache.get(key)
        if text is not None:
            return Served(text, True)
        result = self.forecasts.forecast(ticker, serving, frame)
        body = forecast_body(ticker, serving, result, self.forecasts.evaluation(ticker))
        text = json.dumps(body, separators=(",", ":"))
        self.cache.put(key, text)
        return Served(text, False)

    def serving_or_task(self, ticker: str) -> tuple[ServingModel, Frame] | Pending:
        """The serving model and data, or the task onboarding the ticker (MLflow down and
        missing data are raised as problems for the edge to answer)."""
        try:
            serving = self.forecasts.serving(ticker)
        except NoModelError:
            handle = self.tasks.onboard(ticker)
            if handle is not None:
                return Pending(handle)
            serving = self.forecasts.serving(ticker)  # its plan finished a moment ago
        return serving, self.forecasts.frame(ticker)

    def served_forecast(
        self, ticker: str
    ) -> tuple[ServingModel, Frame, ForecastResult, Served] | Pending:
        """Everything ``/analyze`` needs: the serving model, data, forecast and its answer."""
        found = self.serving_or_task(ticker)
        if isinstance(found, Pending):
            return found
        served = self.predict_sync(ticker)
        if isinstance(served, Pending):
            return served
        serving, frame = found
        return serving, frame, self.forecasts.forecast(ticker, serving, frame), served

    def require_model(self, ticker: str) -> tuple[ServingModel, Frame]:
        """For use cases that never train (drift): UntrainedTickerError when there is no model."""
        try:
            serving = self.forecasts.serving(ticker)
        except NoModelError as exc:
            raise UntrainedTickerError(f"{exc} Train it first (POST /train-child).") from exc
        return serving, self.forecasts.frame(ticker)
