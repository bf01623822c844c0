"""asdcore: the engine of the anomalous-sound-detection workbench.

No user-interface code lives here (a test enforces that no module imports streamlit);
the Streamlit pages, the command line and the tests are thin callers of these modules.
"""

__version__ = "0.1.0"
