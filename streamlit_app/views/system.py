"""System: the health of each dependency, and the admin reset behind a token and a confirmation."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from streamlit_app.api_client import ApiProblem
from streamlit_app.ui import client, config, show_problem

PENDING_KEY = "reset_pending"

st.title("System")
api = client()
st.caption(f"API: {config().api_url}")

st.subheader("Health")
try:
    health = api.health()
except ApiProblem as problem:
    show_problem(problem)
else:
    overall = health.get("status", "degraded")
    if overall == "ok":
        st.success("Every dependency is ready.", icon=":material/check_circle:")
    else:
        st.warning(
            "Some dependencies are degraded (the API still serves, on fallbacks where it can).",
            icon=":material/warning:",
        )
    checks = health.get("checks", {})
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "dependency": name,
                    "status": check.get("status", "unknown"),
                    "details": check.get("message", ""),
                }
                for name, check in sorted(checks.items())
            ],
            columns=["dependency", "status", "details"],
        ),
        hide_index=True,
    )
    if st.button("Refresh"):
        st.rerun()

st.subheader("Reset")
st.caption(
    "Deletes this API's Redis keys (forecast cache, rate-limit and task state), the local Qdrant "
    "folder and in-process caches. Models, data and Dagster history stay."
)
token = st.text_input(
    "Admin token", key="admin_token", type="password", help="The API's STOCKOPS_ADMIN_TOKEN."
)
if not st.session_state.get(PENDING_KEY):
    if st.button("Reset…", disabled=not token):
        st.session_state[PENDING_KEY] = True
        st.rerun()
else:
    st.warning("Reset the system now? This cannot be undone.", icon=":material/warning:")
    confirm, cancel = st.columns(2)
    if confirm.button("Yes, reset", type="primary"):
        st.session_state[PENDING_KEY] = False
        try:
            done = api.reset(token)
        except ApiProblem as problem:
            show_problem(problem)
        else:
            paths = done.get("paths_deleted") or []
            st.success(
                f"Reset done: {done.get('redis_keys_deleted', 0)} Redis key(s) deleted"
                f"{'; removed ' + ', '.join(paths) if paths else ''}.",
                icon=":material/check_circle:",
            )
    if cancel.button("Cancel"):
        st.session_state[PENDING_KEY] = False
        st.rerun()
