"""Shared fixtures: isolated cache/workspace folders, the tiny synthetic dataset, real clips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real-samples"
TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "app", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test its tier by where it lives (a tier marked on the test itself wins):
    tests/e2e -> e2e, tests/test_app_*.py -> app, the rest -> unit. ``slow`` marks stay."""
    for item in items:
        if any(item.get_closest_marker(tier) for tier in TIERS):
            continue
        path = Path(item.fspath)
        if TESTS / "e2e" in path.parents:
            item.add_marker(pytest.mark.e2e)
        elif path.name.startswith("test_app_"):
            item.add_marker(pytest.mark.app)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True, scope="session")
def _isolated_dirs(tmp_path_factory):
    """Keep tests away from the developer's own cache/ and workspace/, and keep the app's
    background UMAP compilation (half a minute of CPU) out of app tests."""
    base = tmp_path_factory.mktemp("asd-dirs")
    old = {k: os.environ.get(k) for k in ("ASD_CACHE_DIR", "ASD_WORKSPACE_DIR", "ASD_UMAP_WARMUP")}
    os.environ["ASD_CACHE_DIR"] = str(base / "cache")
    os.environ["ASD_WORKSPACE_DIR"] = str(base / "workspace")
    os.environ["ASD_UMAP_WARMUP"] = "0"
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _fresh_workspace(tmp_path, monkeypatch):
    """Every test starts with an empty workspace (settings, labels, runs), so no test sees
    labels or runs another one left; the feature cache stays shared for speed."""
    monkeypatch.setenv("ASD_WORKSPACE_DIR", str(tmp_path / "workspace"))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """The `tiny` synthetic preset, generated once per test session (read-only by convention)."""
    from asdcore import synth

    out = tmp_path_factory.mktemp("tiny") / "dcase"
    return synth.generate(out, preset="tiny", seed=0)


@pytest.fixture(scope="session")
def demo_marked_data(tiny_data, tmp_path_factory) -> Path:
    """A copy of the tiny dataset whose manifest names the demo preset: how a dataset written
    by ``demo --preset demo`` looks to code that asks which preset it is, at the tiny size."""
    import json
    import shutil

    from asdcore import synth

    out = tmp_path_factory.mktemp("demo-marked") / "dcase"
    shutil.copytree(tiny_data, out)
    manifest = json.loads((out / synth.MANIFEST_NAME).read_text(encoding="utf-8"))
    (out / synth.MANIFEST_NAME).write_text(json.dumps({**manifest, "preset": "demo"}),
                                           encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def real_samples() -> Path:
    """The real DCASE clips in ../shared/real-samples; tests using them skip when absent."""
    if not REAL_SAMPLES.is_dir():
        pytest.skip("../shared/real-samples is not present")
    return REAL_SAMPLES


@pytest.fixture
def fresh_app(tmp_path, monkeypatch):
    """An app test's own empty workspace and cache; the demo is the tiny preset."""
    monkeypatch.setenv("ASD_WORKSPACE_DIR", str(tmp_path / "workspace"))
    monkeypatch.setenv("ASD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ASD_DEMO_PRESET", "tiny")
    return tmp_path


@pytest.fixture
def isolated(fresh_app, tiny_data):
    """`fresh_app` pointed at the tiny dataset."""
    from asdcore import workspace

    workspace.choose_dataset(tiny_data)
    return fresh_app
