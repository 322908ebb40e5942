"""A small HTTP client for the StockOps API that turns every failure into a readable ApiProblem.

Pages never see an httpx exception or a raw error body: connection failures, timeouts, 4xx, 429
(with its Retry-After) and 503 (naming the dependency) all become one exception type whose
``message`` can be shown to a user as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

MAX_MESSAGE_CHARS = 600
# What the framework answers for a path or method it has no route for (not a 404 of ours).
_NO_ROUTE_DETAILS = ("Not Found", "Method Not Allowed", "")


class ApiProblem(Exception):  # noqa: N818 - a problem to show, not only an error
    """Anything that kept a call from succeeding, with a message meant for people."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s

    @property
    def route_missing(self) -> bool:
        """The API answered 404/405 for the route itself: it predates that feature."""
        return self.code == "route_missing"


@dataclass(frozen=True)
class ApiAnswer:
    """A successful answer: ``accepted`` (202) carries a task to follow instead of a result."""

    status: int
    body: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return self.status == 202


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    """``(code, message)`` from our error shape, FastAPI's ``detail`` or a plain-text body."""
    try:
        body = response.json()
    except ValueError:
        return None, _shorten(response.text) if response.text.strip() else ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return error.get("code"), _shorten(str(error.get("message", "")))
        if "detail" in body:
            return None, _shorten(str(body["detail"]))
    return None, _shorten(str(body))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def problem_from_response(response: httpx.Response, action: str) -> ApiProblem:
    """The readable problem for one error answer; ``action`` says what was attempted."""
    status = response.status_code
    code, detail = _error_fields(response)
    if status in (404, 405) and code in (None, "not_found") and detail in _NO_ROUTE_DETAILS:
        request = response.request
        return ApiProblem(
            f"Not available yet: this API has no {request.method} {request.url.path} route "
            f"(HTTP {status}), so it cannot {action}.",
            status=status,
            code="route_missing",
        )
    if status == 429:
        wait = _retry_after(response)
        when = f"Try again in {wait:.0f} s." if wait is not None else "Try again shortly."
        return ApiProblem(
            f"Too many requests: the API's rate limit was reached while trying to {action}. {when}",
            status=status,
            code=code or "rate_limited",
            retry_after_s=wait,
        )
    if status == 503:
        # Our 503s say which dependency is down (code "<name>_unavailable", message "<Name> is
        # unavailable: why"); name it even when a proxy's body does not.
        dependency = ""
        if code and code.endswith("_unavailable"):
            dependency = code.removesuffix("_unavailable").replace("_", " ")
        if dependency and dependency.lower() not in detail.lower():
            detail = f"{dependency} is unavailable. {detail}".strip()
        head = detail or "A service the API depends on is unavailable."
        return ApiProblem(
            f"{head} (HTTP 503: the API could not {action}; try again once it is back.)",
            status=status,
            code=code,
            retry_after_s=_retry_after(response),
        )
    if status in (401, 403):
        return ApiProblem(
            f"Not allowed to {action} (HTTP {status}): {detail or 'access denied'}",
            status=status,
            code=code,
        )
    if status >= 500:
        return ApiProblem(
            f"The API failed to {action} (HTTP {status}): "
            f"{detail or 'internal error'}. Its log has the details.",
            status=status,
            code=code,
        )
    return ApiProblem(
        f"{detail or f'Could not {action}'} (HTTP {status})", status=status, code=code
    )


class ApiClient:
    """One method per API route; each returns parsed JSON or raises ApiProblem."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        analyze_timeout_s: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.analyze_timeout_s = analyze_timeout_s
        self._headers = {"X-API-Key": api_key} if api_key else {}
        self._transport = transport

    def _send(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        timeout = timeout_s or self.timeout_s
        try:
            # Connecting fails fast; only reading waits for slow work (training, reports).
            with httpx.Client(
                base_url=self.base_url,
                headers=self._headers,
                timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
                transport=self._transport,
            ) as http:
                response = http.request(method, path, json=json, params=params, headers=headers)
        except httpx.ConnectError as exc:
            raise ApiProblem(
                f"API not reachable at {self.base_url}: is it running? ({_shorten(str(exc))})",
                code="unreachable",
            ) from exc
        except httpx.TimeoutException as exc:
            raise ApiProblem(
                f"The API at {self.base_url} did not answer within {timeout:.0f} s while trying "
                f"to {action}.",
                code="timeout",
            ) from exc
        except httpx.HTTPError as exc:
            raise ApiProblem(
                f"Could not {action}: {exc.__class__.__name__}: {_shorten(str(exc))}",
                code="transport_error",
            ) from exc
        if response.status_code >= 400:
            raise problem_from_response(response, action)
        return response

    def _json(self, response: httpx.Response, action: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ApiProblem(
                f"The API's answer (to {action}) is not JSON.",
                status=response.status_code,
                code="bad_response",
            ) from exc
        if not isinstance(body, dict):
            raise ApiProblem(
                f"The API's answer (to {action}) is not a JSON object.", status=response.status_code
            )
        return body

    def _get(self, path: str, action: str, **kwargs: Any) -> dict[str, Any]:
        return self._json(self._send("GET", path, action, **kwargs), action)

    def _answer(self, method: str, path: str, action: str, **kwargs: Any) -> ApiAnswer:
        response = self._send(method, path, action, **kwargs)
        return ApiAnswer(response.status_code, self._json(response, action))

    @staticmethod
    def _ticker_path(ticker: str) -> str:
        return quote(ticker, safe="")  # ^GSPC -> %5EGSPC

    # --- routes ----------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._get("/health", "check health")

    def tickers(self) -> dict[str, Any]:
        return self._get("/tickers", "list tickers")

    def model(self, ticker: str) -> dict[str, Any]:
        return self._get(f"/models/{self._ticker_path(ticker)}", f"load the model of {ticker}")

    def history(self, ticker: str, days: int) -> dict[str, Any]:
        return self._get(
            f"/history/{self._ticker_path(ticker)}",
            f"load the price history of {ticker}",
            params={"days": days},
        )

    def predict(self, ticker: str) -> ApiAnswer:
        return self._answer("POST", "/predict-child", f"forecast {ticker}", json={"ticker": ticker})

    def status(self, task_id: str) -> dict[str, Any]:
        return self._get(f"/status/{quote(task_id, safe='')}", "read the task status")

    def analyze(self, ticker: str, question: str | None = None, refresh: bool = False) -> ApiAnswer:
        return self._answer(
            "POST",
            "/analyze",
            f"analyze {ticker}",
            json={"ticker": ticker, "question": question or None, "refresh": refresh},
            timeout_s=self.analyze_timeout_s,
        )

    def monitor(self, ticker: str, refresh: bool = False) -> ApiAnswer:
        return self._answer(
            "POST",
            f"/monitor/{self._ticker_path(ticker)}",
            f"monitor {ticker}",
            params={"refresh": "true"} if refresh else None,
            timeout_s=self.analyze_timeout_s,
        )

    def drift_report_html(self, ticker: str) -> str:
        response = self._send(
            "GET",
            f"/reports/drift/{self._ticker_path(ticker)}",
            f"load the drift report of {ticker}",
        )
        return response.text

    def reset(self, admin_token: str) -> dict[str, Any]:
        return self._json(
            self._send(
                "DELETE",
                "/system/reset",
                "reset the system",
                headers={"X-Admin-Token": admin_token},
            ),
            "reset the system",
        )
