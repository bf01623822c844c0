"""Every page file is in the app's navigation and sends a deep link through app.py."""

from __future__ import annotations

import ast
from pathlib import Path

import app_pages

ROOT = Path(__file__).resolve().parents[1]


def test_every_page_file_is_navigated():
    files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
    listed = [script for script, _, _ in app_pages.PAGES]
    assert sorted(s for s in listed if s.startswith("pages/")) == files
    assert all((ROOT / script).is_file() for script in listed)
    assert [url for _, _, url in app_pages.PAGES].count(None) == 1  # one home page


def test_every_page_file_runs_through_the_app_first():
    """The guard must run before anything else reaches Streamlit (set_page_config, title)."""
    for path in sorted((ROOT / "pages").glob("*.py")):
        calls = [node.value for node in ast.parse(path.read_text(encoding="utf-8")).body
                 if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
        assert calls, path.name
        assert ast.unparse(calls[0].func) == "app_pages.run_through_app", path.name
