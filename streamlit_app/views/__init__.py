"""The pages of the front end, one Streamlit script each, run through ``st.navigation`` in
``app.py``. (Not named ``pages/``: Streamlit would also serve such a folder as pages of its own,
without the navigation and page config of ``app.py``.)"""
