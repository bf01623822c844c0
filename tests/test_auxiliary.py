"""Auxiliary machines: other machine types trained beside the user's as extra classes, never
scored (`asdcore.auxiliary`, the seed model's ``auxiliary_machines``)."""

import dataclasses
import shutil

import pytest

from asdcore import dataset, pipeline, runs, workspace
from asdcore.auxiliary import PREFIX
from asdcore.errors import ASDError
from asdcore.models.saved import MODEL_JSON
from asdcore.models.seresnet import SEResNetConfig, SEResNetEmbedder

TINY = dict(width=4, embedding_dim=16, subclusters=4, batch_size=16, device="cpu",
            num_threads=1, epochs=1)


@pytest.fixture(scope="module")
def train_clips(tiny_data):
    clips = dataset.scan(tiny_data).clips
    return clips[clips["split"] == "train"]


@pytest.fixture
def tiny_demo(monkeypatch):
    """The app's demo at the tiny preset, as the auxiliary machines of `demo` and `auto`."""
    monkeypatch.setenv("ASD_DEMO_PRESET", "tiny")
    clips = dataset.scan(workspace.ensure_demo()).clips
    return clips[clips["split"] == "train"]


def _training(train, setting, progress=None):
    embedder = SEResNetEmbedder(SEResNetConfig(**TINY, auxiliary_machines=setting))
    return embedder, embedder.training_data(train, progress=progress)


def test_auto_trains_a_single_machine_type_beside_the_demo_machines(train_clips, tiny_demo):
    fan = train_clips[train_clips["machine"] == "fan"]
    messages = []
    embedder, data = _training(fan, "auto", lambda done, total, message="": messages.append(
        message))
    others = tiny_demo[tiny_demo["machine"] != "fan"]  # the demo's own fan is left out
    assert len(data) == len(fan) + len(others)
    said = f"beside {others['machine'].nunique()} auxiliary machine types from "
    assert any(said in m and f"({len(others)} clips)" in m for m in messages), messages
    assert embedder.machines_ == ["fan"]  # only the user's machines are scored
    machines_of_classes = {key.split("/")[0] for key in embedder.classes_}
    assert machines_of_classes == {"fan"} | {PREFIX + m for m in others["machine"].unique()}
    alone, _ = _training(fan, "none")
    assert [c for c in embedder.classes_ if c.startswith("fan/")] == alone.classes_


def test_auto_leaves_data_of_several_machine_types_as_it_is(train_clips, tiny_demo):
    two = train_clips[train_clips["machine"].isin(["fan", "valve"])]
    auto, auto_data = _training(two, "auto")
    none, none_data = _training(two, "none")
    assert auto.classes_ == none.classes_ and len(auto_data) == len(none_data) == len(two)
    demo, demo_data = _training(two, "demo")  # asked for: added whatever the data holds
    assert len(demo_data) > len(two) and any(c.startswith(PREFIX) for c in demo.classes_)


def test_a_folder_gives_its_other_machines_and_a_clear_error_when_it_has_none(
        train_clips, tiny_data, tmp_path):
    fan = train_clips[train_clips["machine"] == "fan"]
    embedder, _ = _training(fan, str(tiny_data))
    assert f"{PREFIX}valve/00/source/" in " ".join(embedder.classes_)
    assert not any(c.startswith(f"{PREFIX}fan/") for c in embedder.classes_)
    only_fan = tmp_path / "only-fan"
    shutil.copytree(next(tiny_data.rglob("fan")), only_fan / "fan")
    with pytest.raises(ASDError, match="other than fan"):
        _training(fan, str(only_fan))
    with pytest.raises(ASDError, match="does not exist"):
        _training(fan, str(tmp_path / "missing"))


def test_a_relative_folder_is_kept_as_the_folder_it_named_where_it_was_given(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = SEResNetConfig(auxiliary_machines="other-data")
    assert config.auxiliary_machines == str(tmp_path / "other-data")
    assert SEResNetConfig.from_saved(config.to_dict()) == config  # saved and read back as is
    assert SEResNetConfig(auxiliary_machines="auto").auxiliary_machines == "auto"


def test_saved_models_without_the_setting_load_as_trained_alone():
    assert SEResNetConfig().auxiliary_machines == "none"  # the recipe's: the data given
    assert SEResNetConfig.from_saved({}).auxiliary_machines == "none"
    with pytest.raises(ASDError, match="auxiliary_machines"):
        SEResNetConfig(auxiliary_machines=" ")
    with pytest.raises(ASDError, match="auxiliary_machines"):
        SEResNetConfig(auxiliary_machines=3)


@pytest.mark.slow
def test_a_run_with_auxiliary_machines_scores_only_the_users(tiny_data, tiny_demo):
    config = pipeline.TrainConfig(data=str(tiny_data), model="seresnet18", machines=["fan"],
                                  device="cpu",
                                  model_config={**TINY, "auxiliary_machines": "auto"})
    run = pipeline.queue_run("with-auxiliary", config)
    with run.working():
        pipeline.train_run(run)
    saved = SEResNetEmbedder.load(next(run.path.rglob(MODEL_JSON)).parent)
    assert saved.auxiliary_["clips"] == len(tiny_demo[tiny_demo["machine"] != "fan"])
    result = pipeline.score_run(runs.open_run("with-auxiliary"))
    assert {row["machine"] for row in result["table"]} == {"fan"}
    assert 0.0 <= result["official_score"] <= 1.0


def test_a_misspelt_mode_is_refused_when_the_run_is_queued_and_saved_runs_still_load(
        tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = pipeline.TrainConfig(data=str(tiny_data), model="seresnet18", machines=["fan"],
                                  device="cpu",
                                  model_config={**TINY, "auxiliary_machines": "dmeo"})
    with pytest.raises(ASDError, match=r"dmeo does not exist; give one of none, auto, demo"):
        pipeline.queue_run("misspelt", config)
    assert "misspelt" not in {row["name"] for row in runs.list_runs()}
    # a run queued with a folder that has gone since: its config still loads, training says why
    (tmp_path / "other-data").mkdir()
    moved = pipeline.queue_run("moved", dataclasses.replace(
        config, model_config={**TINY, "auxiliary_machines": "other-data"}))
    (tmp_path / "other-data").rmdir()
    saved = pipeline.model_for(pipeline.TrainConfig.from_dict(runs.open_run("moved").config()),
                               saved=True)
    assert saved.config.auxiliary_machines == str(tmp_path / "other-data")
    with pytest.raises(ASDError, match="other-data does not exist"):
        with moved.working():
            pipeline.train_run(moved)


def test_the_auxiliary_clips_are_summarised_for_the_saved_model(train_clips, tiny_data, tmp_path):
    fan = train_clips[train_clips["machine"] == "fan"]
    other = tmp_path / "other"
    shutil.copytree(tiny_data, other)
    first, data = _training(fan, str(other))
    summary = first.auxiliary_
    assert summary["folders"] == [str(other)] and summary["clips"] == len(data) - len(fan)
    assert fan["machine"].iloc[0] not in summary["machines"]
    again, _ = _training(fan, str(other))
    assert again.auxiliary_ == summary  # the same clips: the same fingerprint
    changed = next(p for p in (other).rglob("*.wav") if "/train/" in str(p)
                   and "/fan/" not in str(p))
    changed.write_bytes(changed.read_bytes()[:-2] + b"\x01\x00")
    assert _training(fan, str(other))[0].auxiliary_["sha256"] != summary["sha256"]
    assert _training(fan, "none")[0].auxiliary_ is None
