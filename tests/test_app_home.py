"""AppTest of the home page: renders on the demo data, switches datasets, reports problems."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from asdcore import workspace

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_first_start_generates_the_demo_and_shows_the_overview(fresh_app):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert _metric(at, "Machine types") == "7"
    assert (workspace.demo_dataset_path() / "asd_demo.json").is_file()
    assert any("No problems" in s.value for s in at.success)


def test_chosen_folder_with_a_broken_file_lists_the_problem(fresh_app, tiny_data):
    import shutil

    data = fresh_app / "mine"
    shutil.copytree(tiny_data, data)
    broken = next((data / "dev_data" / "raw" / "fan" / "test").glob("*.wav"))
    broken.write_bytes(b"RIFF garbage")
    workspace.choose_dataset(data)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert _metric(at, "Problems") == "1"
    assert any("could not be used" in w.value for w in at.warning)


def test_a_missing_folder_is_refused_with_a_message(fresh_app, tiny_data):
    workspace.choose_dataset(tiny_data)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.sidebar.text_input[0].input(str(fresh_app / "nowhere")).run()
    next(b for b in at.sidebar.button if b.label == "Use this folder").click().run()
    assert not at.exception
    assert at.sidebar.error, "a missing folder must be answered with an error box"
    assert workspace.chosen_dataset() == Path(tiny_data).resolve()


def test_navigation_lists_home_and_every_page(fresh_app, tiny_data):
    workspace.choose_dataset(tiny_data)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Anomalous sound detection workbench"
    at.switch_page("pages/1_Spectra.py").run()
    assert not at.exception
    assert at.title[0].value.startswith("Spectra")
