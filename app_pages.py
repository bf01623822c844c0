"""The workbench's pages: the list app.py navigates, and the guard that sends a page opened by
its own address through app.py.

Streamlit keeps a server-wide flag: while a ``pages/`` folder lies beside the entry script and
no session has yet called ``st.navigation``, it runs in its old folder mode, where a deep link
(``/Spectra``, ``/Training``: a bookmark, a colleague's link, the first visit after a server
restart) runs the page file alone, without app.py: the sidebar lists the home page after the
file name ("app") and the app's set-up is skipped. Every page in ``pages/`` calls
`run_through_app` first; in that mode it declares the real navigation (which also turns the
flag off for the whole server) and reruns, so app.py runs the page as it does for every other
visit.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# (script, title, URL path); the first is the home page, served at the app's root
PAGES = [
    ("home.py", "Home", None),
    ("pages/1_Spectra.py", "Spectra", "Spectra"),
    ("pages/2_Pseudo-labels.py", "Pseudo-labels", "Pseudo-labels"),
    ("pages/3_Training.py", "Training", "Training"),
    ("pages/4_Embeddings.py", "Embeddings", "Embeddings"),
    ("pages/5_Scores.py", "Scores", "Scores"),
    ("pages/6_Check.py", "Check", "Check"),
]


def navigate() -> st.Page:
    """Declare the app's navigation (the sidebar lists every page, the home page as Home);
    returns the page the address asks for."""
    return st.navigation([st.Page(script, title=title, url_path=url_path, default=url_path is None)
                          for script, title, url_path in PAGES])


def run_through_app() -> None:
    """Call first in every page of ``pages/``: when Streamlit runs the page without app.py
    (its ``pages/`` folder mode, see above), switch to the app's navigation and rerun."""
    if PagesManager.uses_pages_directory:
        navigate()
        st.rerun()
