"""The app in a real browser: every page loads; a box drawn on the Pseudo-labels map relabels
exactly the clips it selects in the label store; a training run shows its progress and ends
done; the Scores page's HTML report downloads and opens; the Embeddings page draws its map.

The tests share one server (tests/e2e/conftest.py) and run in this file's order: the training
test's run is the one the Scores and Embeddings tests show (the ``done_run`` fixture trains one
itself when those run alone).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TRAINING_RUN = "e2e-seed"
NEW_LABEL = "e2e-box"
TRAINING_TIMEOUT_MS = 300_000  # about half a minute on 2 free cores; CPUs may be shared

# (URL path, page title, screenshot name or None when a later test takes a better one)
PAGES = [
    ("", "Anomalous sound detection workbench", "home"),
    ("Spectra", "Spectra", "1_spectra"),
    ("Pseudo-labels", "Pseudo-labels", None),
    ("Training", "Training", None),
    ("Embeddings", "Embeddings", None),
    ("Scores", "Scores and report", None),
]
QUICK_RUN_BUTTON = "Train the quick log-mel statistics run"


def _expect():
    from playwright.sync_api import expect

    return expect


def _content(app, path: str) -> None:
    """What each page shows on the demo before any run or label exists (or after)."""
    expect, page = _expect(), app.page
    if path == "":
        expect(page.get_by_role("heading", name="Machines")).to_be_visible()
        expect(page.get_by_text("No problems found.")).to_be_visible()
        app.wait_for_charts(2)
    elif path == "Spectra":
        expect(page.get_by_role("heading", name="Envelope spectrum of the band")).to_be_visible()
        app.wait_for_charts(4)  # waveform, log-mel, spectra, envelope spectrum
    elif path == "Pseudo-labels":
        expect(page.get_by_role("heading", name="2. Map")).to_be_visible()
        app.wait_for_charts(1)
    elif path == "Training":
        expect(page.get_by_role("button", name="Start training")).to_be_visible()
    else:  # Embeddings, Scores: a run's results, or the offer of the quick run
        charts = page.get_by_test_id("stPlotlyChart")
        quick = page.get_by_role("button", name=QUICK_RUN_BUTTON)
        expect(charts.first.or_(quick)).to_be_visible()


@pytest.mark.parametrize("path, title, shot", PAGES, ids=[p[0] or "home" for p in PAGES])
def test_page_loads(app, path, title, shot):
    app.open(path)
    expect = _expect()
    expect(app.page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(app.page).to_have_title(re.compile(r"ASD workbench"))
    _content(app, path)
    # The sidebar lists every page by name, the home page as Home (not after app.py).
    nav = app.page.get_by_test_id("stSidebarNav")
    for name in ("Home", "Spectra", "Pseudo-labels", "Training", "Embeddings", "Scores"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="app", exact=True)).to_have_count(0)
    app.assert_healthy()
    if shot:
        app.screenshot(shot)


@pytest.mark.parametrize("path, title", [("Spectra", "Spectra"), ("Training", "Training")])
def test_deep_link_on_a_fresh_server(fresh_app, path, title):
    """A page's own address opened first after a server start (a bookmark, a colleague's
    link) shows that page with the app's sidebar: Home, not "app" (pages/ folder mode)."""
    expect, app = _expect(), fresh_app
    app.open(path)
    expect(app.page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(app.page).to_have_url(f"{app.server.url}/{path}")
    nav = app.page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Home", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="app", exact=True)).to_have_count(0)
    app.assert_healthy()


# --- Pseudo-labels: a box selection relabels clips --------------------------------------

def _unlabelled_machine() -> tuple[str, dict[str, str]]:
    """The machine the Pseudo-labels page opens on (the first without attributes) and its
    clips' ``clip_id -> file``, read from the server's demo dataset by the engine."""
    from asdcore import dataset, workspace

    ds = dataset.scan(workspace.demo_dataset_path())
    machine = next(m["name"] for m in ds.machines() if not m["has_attributes"])
    of_machine = ds.clips[(ds.clips["machine"] == machine) & (ds.clips["split"] == "train")]
    return machine, dict(zip(of_machine["clip_id"], of_machine["file"], strict=True))


def _selected_clip_ids(chart) -> list[str]:
    """The clip ids of the points Plotly shows as selected (``customdata`` holds clip ids)."""
    return chart.locator(".js-plotly-plot").evaluate("""gd => gd.data.flatMap(trace =>
        (trace.selectedpoints || []).map(i => String(trace.customdata[i][0])))""")


def _box_select(app, chart, top: float, bottom: float) -> None:
    """Choose the modebar's box select and drag a box across the first panel, from ``top``
    to ``bottom`` (fractions of its height), edge to edge."""
    page = app.page
    chart.scroll_into_view_if_needed()
    chart.hover()
    chart.locator(".modebar-btn[data-title='Box Select']").click()
    area = chart.locator("rect.nsewdrag").first.bounding_box()
    assert area is not None, "the map has no plot area"
    x0, x1 = area["x"] + 3, area["x"] + area["width"] - 3
    y0, y1 = area["y"] + area["height"] * top, area["y"] + area["height"] * bottom
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
    page.mouse.up()
    app.wait()


def test_box_selection_relabels_the_selected_clips(app, server_env):
    from asdcore.labels import LabelStore
    from asdcore.workspace import demo_dataset_path

    expect, page = _expect(), app.page
    app.open("Pseudo-labels")
    machine, file_of = _unlabelled_machine()
    expect(page.get_by_text(f"{machine}: {len(file_of)} training clips")).to_be_visible()
    store = LabelStore.open(demo_dataset_path(), machine)

    # Start from saved clustering labels, so "the other clips keep theirs" means something.
    page.get_by_role("button", name="Run clustering").click()
    app.wait()
    page.get_by_role("button", name="Save these labels").click()
    app.wait()
    expect(page.get_by_text(re.compile(r"Saved as change set \d+"))).to_be_visible()
    before = store.labels()
    assert set(before) == set(file_of.values()), "the clustering did not label every clip"

    chart = page.get_by_test_id("stPlotlyChart").first
    _box_select(app, chart, top=0.02, bottom=0.45)
    selected = _selected_clip_ids(chart)
    assert 0 < len(selected) < len(file_of), f"the box selected {len(selected)} clips"
    assert set(selected) <= set(file_of), "the map's points do not carry this machine's clip ids"
    expect(page.get_by_text(f"{len(selected)} clip(s) selected")).to_be_visible()

    page.get_by_role("textbox", name="New label").fill(NEW_LABEL)
    page.get_by_role("textbox", name="New label").press("Enter")
    app.wait()
    app.screenshot("2_pseudo_labels")  # the selection, about to be relabelled
    page.get_by_role("button", name=f"Relabel {len(selected)} clip(s)").click()
    app.wait()
    expect(page.get_by_text(f"relabelled as {NEW_LABEL} ({len(selected)} clip(s))")).to_be_visible()
    app.assert_healthy()

    after = store.labels()
    chosen = {file_of[clip_id] for clip_id in selected}
    assert {f: after[f] for f in chosen} == {f: NEW_LABEL for f in chosen}
    assert {f: label for f, label in after.items() if f not in chosen} == \
        {f: label for f, label in before.items() if f not in chosen}
    last = store.history()[-1]
    assert last["source"] == "manual"
    assert {c["file"]: (c["old"], c["new"]) for c in last["changes"]} == \
        {f: (before[f], NEW_LABEL) for f in chosen}


# --- Training: a one-epoch seed-model run shows progress and ends done -------------------

def _start_training(app) -> None:
    """Start TRAINING_RUN: the seed model (SE-ResNet18), one epoch, other settings default."""
    expect, page = _expect(), app.page
    app.open("Training")
    model = page.get_by_role("combobox", name="Model")
    expect(model).to_have_value(re.compile(r"^seresnet18"))  # the form's default
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.fill("1")
    epochs.press("Enter")
    app.wait()
    name = page.get_by_role("textbox", name="Run name")
    name.fill(TRAINING_RUN)
    name.press("Enter")
    app.wait()
    expect(name).to_have_value(TRAINING_RUN)
    page.get_by_role("button", name="Start training").click()
    app.wait()


def _wait_until_done(app) -> None:
    _expect()(app.page.get_by_text(f"{TRAINING_RUN} is done")).to_be_visible(
        timeout=TRAINING_TIMEOUT_MS)


def _done_runs() -> list[str]:
    from asdcore import runs

    return [row["name"] for row in runs.list_runs() if row["status"] == "done"]


def test_training_run_shows_progress_and_finishes(app, server_env):
    from asdcore import runs

    expect, page = _expect(), app.page
    _start_training(app)
    app.assert_healthy()
    progress = page.get_by_test_id("stProgress").filter(has_text=f"{TRAINING_RUN} (")
    expect(progress).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Cancel this run")).to_be_visible()
    _wait_until_done(app)
    expect(progress).to_have_count(0)
    app.wait()
    app.assert_healthy()
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()  # the loss curve
    run = runs.open_run(TRAINING_RUN)
    assert run.status()["state"] == "done"
    assert run.config()["model"] == "seresnet18"
    assert run.config()["model_config"].get("epochs") == 1
    assert (run.metrics() or {}).get("official_score") is not None
    page.get_by_test_id("stExpander").filter(has_text="New run").locator("summary").click()
    expect(page.get_by_role("button", name="Start training")).to_be_visible()
    app.screenshot("3_training")


@pytest.fixture
def done_run(app, server_env) -> str:
    """A finished run on the server: the training test's, or one trained here (in the test's
    page) when the test runs without it."""
    done = _done_runs()
    if done:
        return done[0]
    _start_training(app)
    _wait_until_done(app)
    return TRAINING_RUN


# --- Scores: the HTML report downloads and opens ----------------------------------------

def test_scores_report_downloads_and_opens(app, done_run, tmp_path):
    expect, page = _expect(), app.page
    app.open("Scores")
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(done_run)
    expect(page.get_by_text("Official score")).to_be_visible()
    app.wait_for_charts(2)  # histogram, ROC
    app.assert_healthy()

    with page.expect_download(timeout=120_000) as download_info:
        page.get_by_role("button", name="Download the HTML report").click()
    download = download_info.value
    assert download.failure() is None
    name = download.suggested_filename
    assert re.fullmatch(rf"asd-report-{re.escape(done_run)}-[\w.-]+\.html", name), name
    saved = tmp_path / name
    download.save_as(saved)
    assert saved.stat().st_size > 1000
    app.wait()
    app.assert_healthy()
    app.screenshot("5_scores")

    report = page.context.new_page()
    problems: list[str] = []
    report.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    report.on("console", lambda msg: problems.append(f"console: {msg.text}")
              if msg.type == "error" else None)
    report.goto(Path(saved).resolve().as_uri())
    report.wait_for_load_state("load")
    expect(report).to_have_title(f"ASD run {done_run}")
    expect(report.get_by_role("heading", name=f"Run {done_run}", level=1)).to_be_visible()
    expect(report.locator(".js-plotly-plot").first).to_be_visible()
    assert not problems, problems
    report.close()


# --- Embeddings: the run's map ------------------------------------------------------------

def test_embeddings_map_of_a_run(app, done_run):
    expect, page = _expect(), app.page
    app.open("Embeddings")
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(done_run)
    page.get_by_test_id("stRadio").get_by_text("UMAP", exact=True).click()  # compiles UMAP
    app.wait()
    expect(page.get_by_role("radiogroup", name="Map").get_by_role("radio", name="UMAP")
           ).to_be_checked()
    app.wait_for_charts(1)
    chart = page.get_by_test_id("stPlotlyChart").first
    points = chart.locator(".js-plotly-plot").evaluate(
        "gd => gd.data.reduce((n, trace) => n + (trace.customdata || []).length, 0)")
    assert points >= 3, f"the map shows {points} clips"
    expect(page.get_by_text(f"{points} clips of")).to_contain_text(f"from run {done_run}")
    app.assert_healthy()

    _box_select(app, chart, top=0.01, bottom=0.99)  # the whole first panel
    selected = _selected_clip_ids(chart)
    assert selected, "a box over the whole panel selected nothing"
    expect(page.get_by_role("heading", name=f"{len(selected)} selected clip(s)")).to_be_visible()
    expect(page.get_by_test_id("stAudio").first).to_be_attached()
    app.wait_for_charts(2)  # the map and the chosen clip's log-mel
    app.assert_healthy()
    app.screenshot("4_embeddings")
