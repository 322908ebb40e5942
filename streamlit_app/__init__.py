"""StockOps front end (Streamlit): it talks to the serving API only, over HTTP."""
