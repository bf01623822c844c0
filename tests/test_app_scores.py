"""AppTest of the Scores page: first visit, a scored run's metrics and plots, scoring with
another backend, two runs compared, a selected clip plays, the downloads."""

from pathlib import Path

from app_driving import quick_run
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "5_Scores.py")


def test_first_visit_offers_the_quick_run(isolated):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No run has been scored" in info.value for info in at.info)


def test_scored_runs_show_metrics_compare_play_and_export(isolated, tiny_data):
    quick_run("first", tiny_data, ["fan", "valve"])
    second = quick_run("second", tiny_data, ["fan"])
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    run_name = at.selectbox[0].value
    assert run_name == "second"  # newest first
    official = next(m for m in at.metric if m.label == "Official score").value
    assert official == f"{second.metrics()['official_score']:.4f}"
    assert [b.label for b in at.get("download_button")] == [
        "Download the HTML report", "Download the submission files (zip)"]

    at.selectbox(key="scores_backend").select("knn").run()  # not scored yet: offered
    next(b for b in at.button if b.label == "Score second with knn").click().run()
    assert not at.exception, at.exception
    assert (second.scores_dir / "knn.csv").is_file()

    compare = next(s for s in at.selectbox if s.label == "Compare with")
    compare.select("first").run()
    assert not at.exception, at.exception
    assert len(at.dataframe) >= 3  # metrics, comparison, clips

    charts = len(at.get("plotly_chart"))
    at.session_state["score_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == charts + 1  # the selected clip's spectrogram
