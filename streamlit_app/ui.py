"""Streamlit building blocks shared by the pages: the client, error display, task progress,
and the forecast section (chart, figures, table)."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from streamlit_app.api_client import ApiClient, ApiProblem
from streamlit_app.charts import forecast_figure, forecast_table
from streamlit_app.config import UiConfig, load_config
from streamlit_app.progress import task_caption, task_fraction
from streamlit_app.validation import check_ticker

PRICE = st.column_config.NumberColumn(format="%.2f")
RATIO = st.column_config.NumberColumn(format="%.3f")
SHARE = st.column_config.NumberColumn(format="percent")
BACKTEST_COLUMN_CONFIG = {
    "MAE / naive MAE": RATIO,
    "p vs naive": RATIO,
    "direction accuracy": SHARE,
    "always-up accuracy": SHARE,
    "interval coverage": SHARE,
}

# How long a just-accepted task may be unknown to /status before that is an error.
STATUS_GRACE_S = 15.0
# The API's task chain ends with these runs being joined; a second 202 right after success means
# another run for the same ticker started meanwhile, so follow it too, a bounded number of times.
MAX_TASK_ROUNDS = 3


def config() -> UiConfig:
    return load_config()


def client() -> ApiClient:
    cfg = config()
    return ApiClient(
        cfg.api_url,
        api_key=cfg.api_key,
        timeout_s=cfg.request_timeout_s,
        analyze_timeout_s=cfg.analyze_timeout_s,
    )


def ticker_or_stop(raw: str, result_key: str | None = None) -> str:
    """The canonical ticker; an invalid one shows its reason (dropping the page's previous
    result under ``result_key``) and stops the script run."""
    ticker, error = check_ticker(raw)
    if error:
        st.error(error, icon=":material/error:")
        if result_key is not None:
            st.session_state.pop(result_key, None)
        st.stop()
    return ticker


def show_problem(problem: ApiProblem) -> None:
    """A readable message, never a traceback: the kind of box says how serious it is."""
    if problem.route_missing:
        st.info(problem.message, icon=":material/construction:")
    elif problem.status == 429:
        st.warning(problem.message, icon=":material/hourglass_top:")
    else:
        st.error(problem.message, icon=":material/error:")


def follow_task(api: ApiClient, accepted: dict[str, Any]) -> dict[str, Any]:
    """Poll ``/status`` with a progress bar until the task succeeds; ApiProblem otherwise."""
    cfg = config()
    task_id = accepted["task_id"]
    # The API points clients at its status URL; here the page follows it for the user.
    message = str(accepted.get("message") or f"Task {task_id} started.")
    message = message.replace("follow it at the status URL", "following it below")
    st.info(message, icon=":material/model_training:")
    bar = st.progress(0.0, text="Queued")
    deadline = time.monotonic() + cfg.task_timeout_s
    grace_until = time.monotonic() + STATUS_GRACE_S
    while True:
        try:
            status = api.status(task_id)
        except ApiProblem as problem:
            # A run launched a moment ago may not be recorded yet: briefly, unknown means queued.
            if problem.status != 404 or time.monotonic() > grace_until:
                raise
            status = {"task_id": task_id, "state": "queued"}
        bar.progress(task_fraction(status), text=task_caption(status))
        if status.get("state") == "succeeded":
            return status
        if status.get("state") == "failed":
            what = " ".join(str(w) for w in (status.get("ticker"), status.get("job")) if w)
            raise ApiProblem(
                f"The {what or 'task'} run failed: {status.get('error') or 'no reason given'}",
                code="task_failed",
            )
        if time.monotonic() > deadline:
            raise ApiProblem(
                f"Task {task_id} is still {status.get('state')} after "
                f"{cfg.task_timeout_s:.0f} s; it keeps running: come back later "
                f"(its runs are in the Dagster UI).",
                code="task_timeout",
            )
        time.sleep(cfg.poll_interval_s)


def forecast_with_training(api: ApiClient, ticker: str) -> dict[str, Any]:
    """``/predict-child``; a 202 (no model yet) is followed with progress, then asked again."""
    for _ in range(MAX_TASK_ROUNDS):
        answer = api.predict(ticker)
        if not answer.accepted:
            return answer.body
        follow_task(api, answer.body)
    raise ApiProblem(f"{ticker} is still training; try again in a moment.", code="task_pending")


def forecast_section(
    api: ApiClient, forecast: dict[str, Any], days: int = 120, *, table: bool = True
) -> None:
    """Headline figures, the interactive chart (history + forecast band) and the table."""
    points = forecast.get("points", [])
    last = points[-1] if points else None
    cols = st.columns(4)
    cols[0].metric("Last close", f"{forecast['last_close']:,.2f}", help="Data as of this date.")
    cols[1].metric("Data as of", forecast["as_of"])
    if last is not None:
        change = last["median"] / forecast["last_close"] - 1
        cols[2].metric(
            f"Median in {last['horizon']} sessions", f"{last['median']:,.2f}", f"{change:+.2%}"
        )
    version = forecast.get("model_version") or "unregistered"
    cols[3].metric("Model version", version, help=f"bundle {forecast.get('bundle_version')}")
    if forecast.get("skill"):
        # The served model and its measured skill, in the words the API and the report use.
        notice = st.info if forecast.get("model_kind") in ("learned", "mixed") else st.warning
        notice(forecast["skill"], icon=":material/insights:")
    history: list[dict[str, Any]] = []
    try:
        history = api.history(forecast["ticker"], days)["points"]
    except ApiProblem as problem:
        if problem.route_missing:
            st.caption("Price history is not available from this API; showing the forecast only.")
        else:
            show_problem(problem)
    st.plotly_chart(forecast_figure(history, forecast))
    st.caption(
        f"Model {version} (bundle {forecast.get('bundle_version')}, "
        f"serving: {forecast.get('model', '?')}, {forecast.get('model_kind', '?')}), data as of "
        f"{forecast['as_of']}; band: {forecast.get('nominal_coverage', 0):.0%} interval"
        f"{' · served from cache' if forecast.get('cache_hit') else ''}."
    )
    if not table:
        return
    st.dataframe(
        forecast_table(forecast),
        hide_index=True,
        column_config={c: PRICE for c in ("lower", "median", "upper")},
    )
