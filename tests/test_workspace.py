import pytest

from asdcore import workspace
from asdcore.errors import ASDError


def test_no_settings_means_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("ASD_WORKSPACE_DIR", str(tmp_path / "ws"))
    assert workspace.chosen_dataset() is None


def test_choose_dataset_round_trip_and_back_to_demo(tmp_path, monkeypatch):
    monkeypatch.setenv("ASD_WORKSPACE_DIR", str(tmp_path / "ws"))
    data = tmp_path / "data"
    data.mkdir()
    workspace.choose_dataset(data)
    assert workspace.chosen_dataset() == data.resolve()
    workspace.choose_dataset(None)
    assert workspace.chosen_dataset() is None


def test_choose_missing_folder_is_refused_and_keeps_previous(tmp_path, monkeypatch):
    monkeypatch.setenv("ASD_WORKSPACE_DIR", str(tmp_path / "ws"))
    data = tmp_path / "data"
    data.mkdir()
    workspace.choose_dataset(data)
    with pytest.raises(ASDError, match="not a folder"):
        workspace.choose_dataset(tmp_path / "missing")
    assert workspace.chosen_dataset() == data.resolve()


def test_corrupt_settings_file_reads_as_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("ASD_WORKSPACE_DIR", str(tmp_path / "ws"))
    workspace.settings_path().parent.mkdir(parents=True)
    workspace.settings_path().write_text("{not json")
    assert workspace.load_settings() == {}


def test_demo_preset_from_environment(monkeypatch):
    monkeypatch.setenv("ASD_DEMO_PRESET", "tiny")
    assert workspace.demo_preset() == "tiny"
    assert workspace.demo_dataset_path().name == "tiny-seed0"
    monkeypatch.setenv("ASD_DEMO_PRESET", "huge")
    with pytest.raises(ASDError):
        workspace.demo_preset()
