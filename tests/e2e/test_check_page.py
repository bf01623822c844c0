"""The Check page in a real browser: it loads, and an uploaded clip gets its verdict (the one
the engine gives), with its plots and the nearest normal clips to play.

Uses the shared server of tests/e2e/conftest.py; the run it checks with is a training-free
one made here through the engine (seconds), on the server's demo data.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

CHECK_RUN = "e2e-check"


@pytest.fixture
def check_run(app, server_env) -> str:
    """A finished log-mel statistics run of the fan on the server's demo data."""
    from asdcore import pipeline, runs, workspace

    if runs.run_path(CHECK_RUN).is_dir() and runs.open_run(CHECK_RUN).status()["state"] == "done":
        return CHECK_RUN
    data = workspace.ensure_demo()
    config = pipeline.TrainConfig(data=str(data), model="logmel-stats", machines=["fan"],
                                  device="cpu")
    pipeline.work_run(pipeline.queue_run(CHECK_RUN, config, overwrite=True))
    return CHECK_RUN


def test_check_page_loads_and_an_upload_gets_its_verdict(app, check_run):
    from playwright.sync_api import expect

    from asdcore import check, pipeline, runs, workspace

    page = app.page
    app.open("Check")
    expect(page.get_by_role("heading", name="Check a recording", level=1)).to_be_visible()
    expect(page.get_by_text("Upload audio files or record one")).to_be_visible()
    app.assert_healthy()

    page.get_by_role("combobox", name="Run", exact=True).click()
    page.get_by_role("option", name=check_run, exact=True).click()
    app.wait()
    # The anomaly the run scores highest: the screenshot shows a clip it flags.
    scores = pipeline.read_scores(runs.open_run(check_run), check.CheckRun(check_run).backend)
    top = scores.query("label == 'anomaly'").sort_values("score").iloc[-1]
    path = str(workspace.ensure_demo() / top["clip_id"])
    expected = check.check(check_run, [path], machine="fan")[0]

    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(path)
    app.wait()
    verdict = "ANOMALOUS" if expected["decision"] else "normal"
    metric = page.get_by_test_id("stMetric").filter(has_text="Verdict")
    expect(metric).to_contain_text(verdict)
    expect(page.get_by_test_id("stMetric").filter(has_text="Score")).to_contain_text(
        f"{expected['score']:.4g}")
    app.wait_for_charts(3)  # scores, time, bands
    expect(page.get_by_test_id("stAudio")).to_have_count(1 + check.N_NEAREST)
    app.assert_healthy()
    app.screenshot("6_check")
