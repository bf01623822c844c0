"""The ASD workbench: ``streamlit run app.py``.

Lists the pages (so the first one is called Home, not after this file) and runs the one
chosen; each page is an ordinary script in ``home.py`` or ``pages/``.
"""

from __future__ import annotations

import streamlit as st

import ui

st.set_page_config(page_title="ASD workbench", layout="wide")
ui.warm_umap_in_background()  # the embedding and label maps are ready by the time they are opened

PAGES = [
    st.Page("home.py", title="Home", default=True),
    st.Page("pages/1_Spectra.py", title="Spectra", url_path="Spectra"),
    st.Page("pages/2_Pseudo-labels.py", title="Pseudo-labels", url_path="Pseudo-labels"),
    st.Page("pages/3_Training.py", title="Training", url_path="Training"),
    st.Page("pages/4_Embeddings.py", title="Embeddings", url_path="Embeddings"),
    st.Page("pages/5_Scores.py", title="Scores", url_path="Scores"),
]
st.navigation(PAGES).run()
