"""The command line as a user runs it: exit codes, one-line errors, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asdcore.models import LogMelStatsConfig

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "asdcore", *map(str, args)],
                          check=False, capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_demo_then_info_json(tmp_path):
    out = tmp_path / "demo"
    made = run_cli("demo", out, "--preset", "tiny", "--seed", "3")
    assert made.returncode == 0, made.stderr
    assert Path(made.stdout.strip()) == out
    info = run_cli("info", out, "--json")
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    names = sorted(m["name"] for m in report["machines"])
    assert names == sorted(["ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve"])
    assert report["problems"] == []


def test_demo_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_cli("demo", tmp_path, "--preset", "tiny")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_unknown_preset_is_a_usage_error():
    result = run_cli("demo", "x", "--preset", "huge")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_train_set_reaches_the_saved_config(tiny_data, capsys):
    from asdcore import cli, runs

    assert cli.main(["train", str(tiny_data), "--run", "stats", "--model", "logmel-stats",
                     "--machine", "fan", "--set", "n_mels=64", "--set", "highpass_hz=null"]) == 0
    config = runs.open_run("stats").config()
    # every setting is saved (a later change of a default does not change the run), the
    # given ones as given
    assert {"n_mels": 64, "highpass_hz": None}.items() <= config["model_config"].items()
    assert set(config["model_config"]) == set(LogMelStatsConfig.known_keys())


def test_train_set_refuses_unknown_or_malformed_settings_before_a_run_exists(tiny_data, capsys):
    from asdcore import cli, runs

    assert cli.main(["train", str(tiny_data), "--run", "typo", "--model", "logmel-stats",
                     "--set", "n_mel=64"]) == 2
    error = capsys.readouterr().err
    assert "n_mel" in error and "n_mels" in error and len(error.strip().splitlines()) == 1
    assert cli.main(["train", str(tiny_data), "--run", "typo", "--model", "logmel-stats",
                     "--set", "n_mels"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert not runs.run_path("typo").exists()
    args = ["train", str(tiny_data), "--run", "typo", "--resume", "--set", "n_mels=8"]
    assert cli.main(args) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.slow
def test_train_on_the_demo_preset_starts_from_the_models_demo_settings(demo_marked_data,
                                                                       tiny_data, capsys):
    from asdcore import cli, runs

    common = ["--model", "seresnet18", "--machine", "fan", "--device", "cpu",
              "--set", "width=4", "--set", "spectrum_branch=false", "--set", "featex=false"]
    assert cli.main(["train", str(demo_marked_data), "--run", "on-demo", *common]) == 0
    assert runs.open_run("on-demo").config()["model_config"]["epochs"] == 1
    note = capsys.readouterr().err
    assert "demo preset" in note and "epochs=1" in note
    assert cli.main(["train", str(demo_marked_data), "--run", "chosen", "--epochs", "2",
                     *common]) == 0
    assert runs.open_run("chosen").config()["model_config"]["epochs"] == 2
    assert "demo preset" not in capsys.readouterr().err
    assert cli.main(["train", str(tiny_data), "--run", "elsewhere", "--model", "logmel-stats",
                     "--machine", "fan"]) == 0  # no demo settings off the demo preset
    assert "epochs" not in runs.open_run("elsewhere").config()["model_config"]
