"""AppTest of the Training page: first visit, launching a detached run, following it, a failed
run's log, and the `work` command's worker finishing without any page."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from asdcore import pipeline, runs

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "3_Training.py")


def wait_until_finished(run: runs.Run, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while run.status()["state"] in runs.ACTIVE_STATES:
        assert time.monotonic() < deadline, run.log_tail()
        time.sleep(0.3)
    return run.status()


@pytest.mark.slow
def test_first_visit_says_how_to_start_and_launching_runs_a_detached_worker(isolated):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No runs yet" in info.value for info in at.info)
    at.selectbox(key="model").select("logmel-stats").run()  # the quick run, one click away
    # seresnet18-only switches are hidden for the training-free model
    assert not [c for c in at.checkbox if c.label.startswith("Mixup")]
    at.text_input[0].input("page-run").run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    run = runs.open_run("page-run")
    assert run.config()["model"] == "logmel-stats"
    # The worker is a separate process: it finishes with no page (or browser) left.
    del at
    assert wait_until_finished(run)["state"] == "done", run.log_tail()
    assert run.metrics()["official_score"] is not None
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("page-run is done" in s.value for s in at.success)


def test_the_form_starts_on_the_seed_model_with_its_description(isolated):
    from asdcore.models import SEResNetEmbedder

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    model = at.selectbox(key="model")
    assert model.value == "seresnet18"
    assert SEResNetEmbedder.description in model.format_func("seresnet18")
    assert any(c.label.startswith("Mixup") for c in at.checkbox)  # its switches are shown


def test_each_model_shows_the_options_its_config_offers(isolated):
    from asdcore import configs
    from asdcore.models import MODELS

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    for name, cls in MODELS.items():
        at.selectbox(key="model").select(name).run()
        offered = configs.offered_settings(cls.config_class)
        wanted = {w: [s.label for _, s in offered if s.widget == w]
                  for w in ("number", "checkbox", "range", "choice")}
        # (two columns: the page lists the left column's widgets first)
        assert sorted(n.label for n in at.number_input) == sorted(wanted["number"])
        assert sorted(c.label for c in at.checkbox if not c.label.startswith("Replace")) == \
            sorted(wanted["checkbox"])
        assert [s.label for s in at.slider] == wanted["range"]  # noise switches start on
        choices = [s for s in at.selectbox if s.key != "model"]
        assert [s.label for s in choices] == wanted["choice"]
        for box, (field, how) in zip(choices, [(f, s) for f, s in offered
                                                if s.widget == "choice"], strict=True):
            assert box.options == list(how.options) and box.value == field.default
    for label in ("Noise mixing", "Noise augmentation"):  # the SNR range needs one of them
        next(c for c in at.checkbox if c.label.startswith(label)).uncheck().run()
    assert not at.slider and not at.exception


def test_a_typed_run_name_cannot_leave_the_runs_folder(isolated, tmp_path):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    escape = tmp_path / "outside"
    for name in (str(escape), "../outside"):
        at.text_input[0].input(name).run()
        next(c for c in at.checkbox if c.label.startswith("Replace")).check().run()
        next(b for b in at.button if b.label == "Start training").click().run()
        assert not at.exception
        assert any("Invalid run name" in e.value for e in at.error)
    assert not escape.exists() and not (runs.runs_dir().parent / "outside").exists()
    assert runs.list_runs() == []


def test_seed_model_shows_its_switches_and_a_bad_combination_is_an_error(isolated):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox[0].select("seresnet18").run()
    labels = [c.label for c in at.checkbox]
    assert any(label.startswith("Mixup") for label in labels)
    assert any(label.startswith("Noise mixing") for label in labels)
    featex = next(c for c in at.checkbox if c.label.startswith("FeatEx"))
    assert featex.value  # on by default, as the recipe (bench/RESULTS.md); it needs the spectrum
    next(c for c in at.checkbox if c.label.startswith("Full-spectrum")).uncheck().run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    assert any("FeatEx" in e.value for e in at.error)
    assert runs.list_runs() == []


def test_the_width_box_starts_at_the_seeds_and_a_narrower_network_is_saved_with_the_run(
        isolated):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    width = at.number_input(key="width_seresnet18_64")
    assert width.value == 64 and "32" in width.help  # the faster CPU choice is named
    width.set_value(32).run()
    at.text_input[0].input("narrow").run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, at.exception
    run = runs.open_run("narrow")
    run.request_cancel()  # only the saved settings matter here, not the training
    assert run.config()["model_config"]["width"] == 32
    assert wait_until_finished(run)["state"] in ("cancelled", "done")


def test_epochs_offered_are_the_demo_best_on_the_demo_and_the_recipe_elsewhere(
        fresh_app, tiny_data, demo_marked_data):
    from asdcore import workspace
    from asdcore.models.autoencoder import AEConfig
    from asdcore.models.seresnet import SEResNetConfig

    workspace.choose_dataset(demo_marked_data)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox[0].select("seresnet18").run()
    assert at.number_input(key="epochs_seresnet18_1").value == 1
    at.selectbox[0].select("ae").run()  # the AE keeps its official epochs on the demo too
    assert at.number_input(key=f"epochs_ae_{AEConfig().epochs}").value == AEConfig().epochs
    workspace.choose_dataset(tiny_data)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox[0].select("seresnet18").run()
    assert at.number_input(key="epochs_seresnet18_10").value == SEResNetConfig().epochs == 10
    assert not at.exception


def test_a_failed_run_shows_its_error_and_log(isolated, tiny_data):
    run = runs.create_run("broken", pipeline.TrainConfig(data=str(tiny_data / "nowhere"),
                                                         model="logmel-stats"))
    pipeline.launch_work(run)
    assert wait_until_finished(run)["state"] == "failed"
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("broken failed" in e.value for e in at.error)
    assert any("nowhere" in c.value for c in at.code)


def test_work_command_executes_a_queued_run(isolated, tiny_data):
    config = pipeline.TrainConfig(data=str(tiny_data), model="logmel-stats", machines=["fan"])
    run = pipeline.queue_run("queued", config, label_sets={"fan": {"fan/train/x.wav": "c0"}})
    assert run.status()["state"] == "queued"
    assert (run.path / "labels" / "fan.csv").is_file()
    assert run.config()["labels"] == [str(run.path / "labels" / "fan.csv")]
    pipeline.launch_work(run)
    assert wait_until_finished(run)["state"] == "done", run.log_tail()
    assert [row["machine"] for row in run.metrics()["table"]] == ["fan"]
    stages = [event["stage"] for event in run.progress()]
    assert any(stage.startswith("scoring") for stage in stages if stage)


def test_a_cancelled_run_is_run_again_from_the_page(isolated, tiny_data):
    config = pipeline.TrainConfig(data=str(tiny_data), model="logmel-stats", machines=["fan"])
    run = pipeline.queue_run("again", config)
    run.request_cancel()  # cancelled before its worker started: the flag stays in the folder
    run.set_status("cancelled", error="cancelled on request")
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("again was cancelled" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Run it again").click().run()
    assert not at.exception, at.exception
    assert not run.cancel_requested()
    assert wait_until_finished(run)["state"] == "done", run.log_tail()
    assert "error" not in run.raw_status()
