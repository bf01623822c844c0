"""Pseudo-labelling a machine whose clips include an hour-long recording or an unreadable file:
the labelling completes, analyses only a bounded prefix of each clip, and skips (and names) the
clips it cannot use instead of aborting the whole machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from audio_files import PEAK_MEMORY_PRELUDE, write_long, write_truncated_flac

from asdcore import cli, dataset
from asdcore.labels import cluster_machine, envelope_labels, read_label_csv
from asdcore.labels.selection import ANALYSIS_SECONDS

ROOT = Path(__file__).resolve().parents[1]
SR = 16_000
HOUR_S = 3600
MACHINE = "bearing"


def copy_machine(tiny_data: Path, out: Path, machine: str = MACHINE) -> Path:
    shutil.copytree(tiny_data / "dev_data" / "raw" / machine, out / "dev_data" / "raw" / machine)
    return out


def train_folder(data: Path) -> Path:
    return data / "dev_data" / "raw" / MACHINE / "train"


LONG_NAME = "section_00_source_train_normal_0999_noAttribute.wav"


# --- an unreadable clip is skipped, named, and the others are labelled ----------------------


@pytest.mark.slow
def test_a_clip_removed_after_the_scan_is_skipped_by_every_labelling(tiny_data, tmp_path):
    data = copy_machine(tiny_data, tmp_path / "data")
    ds = dataset.scan(data)
    victim = sorted(train_folder(data).glob("*.wav"))[3]
    victim.unlink()  # e.g. the user deleted it while the app's scan was cached
    gone = f"{MACHINE}/train/{victim.name}"
    n_train = len(list(train_folder(data).glob("*.wav")))

    results = [cluster_machine(ds, MACHINE, feature=feature)
               for feature in ("shape+lines+level", "spectrum", "envelope", "logmel")]
    results.append(envelope_labels(ds, MACHINE))
    for result in results:
        assert gone not in result.labels
        assert len(result.labels) == n_train
        assert [s["file"] for s in result.skipped] == [gone]
        assert "no such file" in result.skipped[0]["reason"].lower()
    assert sum(sum(group["sizes"]) for group in results[0].groups) == n_train


def test_label_commands_skip_an_undecodable_clip_and_say_so(tiny_data, tmp_path, capsys):
    data = copy_machine(tiny_data, tmp_path / "data")
    like = min(train_folder(data).glob("*.wav"))
    broken = train_folder(data) / "section_00_source_train_normal_0998_noAttribute.flac"
    write_truncated_flac(broken, like)
    assert dataset.scan(data).problems == []  # its header is fine: only decoding finds it
    n_good = len(list(train_folder(data).glob("*.wav")))

    for how in ("cluster", "envelope"):
        out = tmp_path / f"{how}.csv"
        assert cli.main(["label", how, str(data), "--machine", MACHINE, "--out", str(out)]) == 0
        captured = capsys.readouterr()
        assert "skipped 1 unusable file" in captured.err
        assert broken.name in captured.err and "lost sync" in captured.err
        labels = read_label_csv(out)
        assert len(labels) == n_good
        assert f"{MACHINE}/train/{broken.name}" not in labels


@pytest.mark.slow
def test_clips_too_short_to_analyse_are_skipped_not_fatal(tiny_data, tmp_path):
    data = copy_machine(tiny_data, tmp_path / "data")
    like = min(train_folder(data).glob("*.wav"))
    short = train_folder(data) / "section_00_source_train_normal_0997_noAttribute.wav"
    sf.write(short, sf.read(like, dtype="float32")[0][:100], SR, subtype="PCM_16")
    ds = dataset.scan(data)
    result = cluster_machine(ds, MACHINE)  # the default feature needs 4096 samples
    assert [s["file"] for s in result.skipped] == [f"{MACHINE}/train/{short.name}"]
    assert "too short" in result.skipped[0]["reason"]
    # the kurtogram band suggestion leaves the short clip out instead of refusing, and
    # envelope labelling skips it rather than reading a frequency off a few samples
    result = envelope_labels(ds, MACHINE)
    assert result.labels and f"{MACHINE}/train/{short.name}" not in result.labels
    assert [s["file"] for s in result.skipped] == [f"{MACHINE}/train/{short.name}"]
    assert "too short for an envelope spectrum" in result.skipped[0]["reason"]


def test_a_machine_with_no_usable_clip_is_one_clear_error(tiny_data, tmp_path):
    from asdcore.errors import ASDError

    data = copy_machine(tiny_data, tmp_path / "data")
    ds = dataset.scan(data)
    for path in train_folder(data).glob("*.wav"):
        path.unlink()
    with pytest.raises(ASDError, match="None of the .* clips could be used"):
        cluster_machine(ds, MACHINE, feature="spectrum")
    with pytest.raises(ASDError, match="No clip could be read"):  # the band comes first
        cluster_machine(ds, MACHINE)
    with pytest.raises(ASDError, match="No clip could be read"):
        envelope_labels(ds, MACHINE)


# --- an hour-long clip is labelled on its first minute, in bounded memory -------------------

MEMORY_DRIVER = PEAK_MEMORY_PRELUDE + """
import json, sys
from asdcore.cli import main

def label(how, data, out=None):
    return main(["label", how, data, "--machine", "bearing", *(["--out", out] if out else [])])

minute, hour, out = sys.argv[1:]
for how in ("cluster", "envelope"):  # imports and first-call allocations
    label(how, minute)
measured = {}
for how in ("cluster", "envelope"):
    rc, hour_mb = extra_mb(lambda: label(how, hour, f"{out}/{how}.csv"))
    _, minute_mb = extra_mb(lambda: label(how, minute))
    measured[how] = {"rc": rc, "hour_mb": hour_mb, "minute_mb": minute_mb}
print(json.dumps(measured))
"""


@pytest.mark.slow
def test_an_hour_long_clip_is_labelled_on_its_beginning_in_bounded_memory(tiny_data, tmp_path):
    """The hour-long clip costs what a one-minute clip costs: only its first minute is read."""
    datasets = {}
    for name, seconds in (("minute", ANALYSIS_SECONDS), ("hour", HOUR_S)):
        data = datasets[name] = copy_machine(tiny_data, tmp_path / name)
        like = min(train_folder(data).glob("*.wav"))
        write_long(train_folder(data) / LONG_NAME, like, int(seconds))
    hour = train_folder(datasets["hour"]) / LONG_NAME
    assert sf.info(hour).duration == HOUR_S and hour.stat().st_size > 100e6
    assert dataset.scan(datasets["hour"]).problems == []

    driver = subprocess.run(
        [sys.executable, "-c", MEMORY_DRIVER, str(datasets["minute"]), str(datasets["hour"]),
         str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert driver.returncode == 0, driver.stderr[-3000:]
    measured = json.loads(driver.stdout.strip().splitlines()[-1])
    for how in ("cluster", "envelope"):
        assert measured[how]["rc"] == 0, driver.stderr[-3000:]
        # Decoding the hour whole would add 230 MB (float32) before any analysis, and the
        # analysis of an hour (the kurtogram of one minute takes about 150 MB) gigabytes.
        assert measured[how]["hour_mb"] < measured[how]["minute_mb"] + 60, measured
        assert measured[how]["hour_mb"] < 300, measured
        labels = read_label_csv(tmp_path / f"{how}.csv")
        assert f"{MACHINE}/train/{LONG_NAME}" in labels
        assert len(labels) == len(list(train_folder(datasets["hour"]).glob("*.wav")))
    assert "skipped" not in driver.stderr
