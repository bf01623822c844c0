"""The ASD workbench: ``streamlit run app.py``.

Declares the pages (`app_pages`: so the first one is called Home, not after this file) and runs
the one the address asks for; each page is an ordinary script in ``home.py`` or ``pages/``.
"""

from __future__ import annotations

import streamlit as st

import app_pages
import ui

st.set_page_config(page_title="ASD workbench", layout="wide")
ui.warm_umap_in_background()  # the embedding and label maps are ready by the time they are opened
app_pages.navigate().run()
