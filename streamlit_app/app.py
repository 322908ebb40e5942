"""StockOps front end: ``streamlit run streamlit_app/app.py`` (``make up`` serves it on :8501).

It talks to the serving API only (``STOCKOPS_API_URL``); see ``streamlit_app/config.py``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from streamlit_app.config import load_config

PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="StockOps", page_icon="📈", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "analyze.py", title="Analyze", icon=":material/insights:", default=True),
        st.Page(PAGES / "forecast.py", title="Forecast", icon=":material/show_chart:"),
        st.Page(PAGES / "monitoring.py", title="Monitoring", icon=":material/monitoring:"),
        st.Page(PAGES / "system.py", title="System", icon=":material/dns:"),
    ]
)
st.sidebar.caption(f"API: {load_config().api_url}")
navigation.run()
