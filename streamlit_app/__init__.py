"""streamlit_app."""
