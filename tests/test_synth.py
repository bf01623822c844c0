"""The synthetic DCASE-layout demo data: layout, names, format, determinism, sound, safety."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from asdcore import synth
from asdcore.dataset import parse_attributes
from asdcore.errors import ASDError, Cancelled

TRAIN_TEST = re.compile(
    r"^section_00_(source|target)_(train|test)_(normal|anomaly)_(\d{4})_([A-Za-z0-9.\-_]+)\.wav$")
SUPPLEMENTAL = re.compile(
    r"^section_00_source_supplemental_(clean|noise)_(\d{4})_([A-Za-z0-9.\-_]+)\.wav$")
TINY = synth.PRESETS["tiny"]


def raw(root: Path) -> Path:
    return root / "dev_data" / "raw"


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float64")[0]


def true_attributes(root: Path, machine: str) -> dict[str, str]:
    """Published file name -> true attribute string (correspondence file for hidden machines)."""
    folder = raw(root) / machine
    if machine not in synth.HIDDEN_ATTRIBUTE_MACHINES:
        return {p.name: TRAIN_TEST.match(p.name).group(5)
                for split in ("train", "test") for p in (folder / split).glob("*.wav")}
    rows = (folder / "attributes_correspondence.csv").read_text().splitlines()[1:]
    return {published.split("/")[-1]: TRAIN_TEST.match(true.split("/")[-1]).group(5)
            for published, true in (row.split(",") for row in rows)}


def test_layout_names_and_counts(tiny_data):
    expected = {
        ("train", "source", "normal"): TINY.n_train_source,
        ("train", "target", "normal"): TINY.n_train_target,
        **{("test", d, lab): TINY.n_test_per_cell
           for d in ("source", "target") for lab in ("normal", "anomaly")},
    }
    assert sorted(p.name for p in raw(tiny_data).iterdir()) == sorted(
        [*synth.MACHINES, synth.TRUTH_NAME])
    for machine in synth.MACHINES:
        folder = raw(tiny_data) / machine
        indices: dict[tuple, list[int]] = {}
        for split in ("train", "test"):
            for path in (folder / split).iterdir():
                match = TRAIN_TEST.match(path.name)
                assert match, path.name
                domain, name_split, label, index, attrs = match.groups()
                assert name_split == split
                if machine in synth.HIDDEN_ATTRIBUTE_MACHINES:
                    assert attrs == "noAttribute"
                else:  # key_value pairs
                    assert len(attrs.split("_")) % 2 == 0, attrs
                indices.setdefault((split, domain, label), []).append(int(index))
        assert {key: sorted(v) for key, v in indices.items()} == {
            key: list(range(count)) for key, count in expected.items()}
        kinds = [SUPPLEMENTAL.match(p.name) for p in (folder / "supplemental").iterdir()]
        assert all(kinds)
        assert sum(k.group(1) == "clean" for k in kinds) == TINY.n_supplemental_clean
        noise = [k for k in kinds if k.group(1) == "noise"]
        assert len(noise) == TINY.n_supplemental_noise
        assert all(k.group(3) == "noAttribute" for k in noise)

    manifest = json.loads((tiny_data / synth.MANIFEST_NAME).read_text())
    assert manifest["complete"] is True
    assert (manifest["preset"], manifest["seed"], manifest["version"]) == (
        "tiny", 0, synth.GENERATOR_VERSION)
    assert manifest["total_clips"] == len(list(raw(tiny_data).rglob("*.wav")))
    assert manifest["counts"]["fan"]["test_target_anomaly"] == TINY.n_test_per_cell


def test_audio_format(tiny_data):
    for path in raw(tiny_data).rglob("*.wav"):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), path.name
        machine = path.parts[-3]
        assert info.frames == round(TINY.seconds * synth.CLIP_LENGTH_FACTOR.get(machine, 1) * 16000)
    for path in list(raw(tiny_data).rglob("*_0000_*.wav")):
        samples = sf.read(path, dtype="int16")[0]
        assert np.abs(samples.astype(int)).max() < 32767, f"{path.name} clips"
        assert np.sqrt(np.mean((samples / 32768.0) ** 2)) > 0.01, f"{path.name} is near silent"


def test_attribute_files_match_names(tiny_data):
    for machine in synth.MACHINES:
        folder = raw(tiny_data) / machine
        files = {f"{machine}/{split}/{p.name}"
                 for split in ("train", "test") for p in (folder / split).glob("*.wav")}
        lines = (folder / "attributes_00.csv").read_text().splitlines()
        rows = [line.split(",") for line in lines[1:]]
        assert {row[0] for row in rows} == files
        if machine in synth.HIDDEN_ATTRIBUTE_MACHINES:
            assert lines[0] == "file_name" and all(len(row) == 1 for row in rows)
            correspondence = (folder / "attributes_correspondence.csv").read_text().splitlines()
            assert correspondence[0] == "source_file_name,target_file_name"
            pairs = [line.split(",") for line in correspondence[1:]]
            assert {published for published, _ in pairs} == files
            for published, true in pairs:
                attrs = TRAIN_TEST.match(true.split("/")[-1]).group(5)
                assert true == published.replace("noAttribute", attrs)
                domain = TRAIN_TEST.match(true.split("/")[-1]).group(1)
                assert attrs in synth.ATTRIBUTES[machine][domain]
        else:
            assert not (folder / "attributes_correspondence.csv").exists()
            assert lines[0].startswith("file_name,d1p,d1v")
            for row in rows:
                assert "_".join(row[1:]) == TRAIN_TEST.match(row[0].split("/")[-1]).group(5)


def test_target_attribute_values_are_new():
    for machine, domains in synth.ATTRIBUTES.items():
        assert not set(domains["source"]) & set(domains["target"]), machine


def dominant_frequency(y: np.ndarray, low: float, high: float) -> float:
    freqs, power = signal.welch(y, 16000, nperseg=8192)
    band = (freqs >= low) & (freqs <= high)
    return float(freqs[band][np.argmax(power[band])])


def test_speed_attribute_moves_the_motor_frequency(tiny_data):
    """ToyCar motor fundamental is 9.5 Hz per volt of supply."""
    attrs = true_attributes(tiny_data, "ToyCar")
    seen = set()
    for path in (raw(tiny_data) / "ToyCar" / "train").glob("section_00_source_*.wav"):
        volts = float(parse_attributes(attrs[path.name])["spd"].rstrip("V"))
        assert dominant_frequency(read(path), 200, 450) == pytest.approx(9.5 * volts, rel=0.03)
        seen.add(volts)
    assert len(seen) >= 3


def envelope_rate(y: np.ndarray, low: float, high: float) -> float:
    """Strongest envelope-spectrum line (30-250 Hz) of a band: the impact rate."""
    sos = signal.butter(4, [low, high], "bandpass", fs=16000, output="sos")
    envelope = np.abs(signal.hilbert(signal.sosfiltfilt(sos, y)))
    return dominant_frequency(envelope - envelope.mean(), 30, 250)


def test_hidden_bearing_speed_is_the_envelope_rate(tiny_data):
    attrs = true_attributes(tiny_data, "bearing")
    for path in (raw(tiny_data) / "bearing" / "train").glob("section_00_source_*.wav"):
        velocity = float(parse_attributes(attrs[path.name])["vel"])
        expected = 3.0 * velocity * synth.BALL_PASS_RATIO
        assert envelope_rate(read(path), 2600, 3400) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("machine", sorted(synth.HIDDEN_ATTRIBUTE_MACHINES))
def test_hidden_attributes_cluster_from_the_spectrum(tiny_data, machine):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    attrs = true_attributes(tiny_data, machine)
    paths = sorted((raw(tiny_data) / machine / "train").glob("section_00_source_*.wav"))
    truth = [attrs[p.name] for p in paths]
    features = [mean_log_spectrum([p]) for p in paths]
    found = KMeans(len(set(truth)), n_init=10, random_state=0).fit_predict(features)
    assert adjusted_rand_score(truth, found) >= 0.8


@pytest.mark.parametrize("machine", synth.MACHINES)
def test_every_fault_kind_changes_the_sound(machine):
    model = synth.SOUND_MODELS[machine]
    attrs = parse_attributes(synth.ATTRIBUTES[machine]["source"][0])

    def sound(kind, severity):
        return model(16000, attrs, kind, severity, np.random.default_rng(7),
                     np.random.default_rng(8))

    normal = sound("", 0.0)
    for kind in synth.ANOMALIES[machine]:
        assert synth.rms(sound(kind, 1.0) - normal) > 0.05 * synth.rms(normal), kind


def mean_log_spectrum(paths) -> np.ndarray:
    return np.mean([10 * np.log10(signal.welch(read(p), 16000, nperseg=1024)[1] + 1e-12)
                    for p in paths], axis=0)


@pytest.mark.parametrize("machine", synth.MACHINES)
def test_target_domain_sounds_different(tiny_data, machine):
    train = sorted((raw(tiny_data) / machine / "train").glob("*.wav"))
    source = [p for p in train if "_source_" in p.name]
    target = [p for p in train if "_target_" in p.name]
    # the variation within the source: its first half against its second, each holding every
    # attribute value (attributes cycle over clip indices, so even against odd clips would be
    # one load against another for the gearbox)
    half = len(source) // 2
    halves = np.mean(np.abs(mean_log_spectrum(source[:half]) - mean_log_spectrum(source[half:])))
    shift = np.mean(np.abs(mean_log_spectrum(source) - mean_log_spectrum(target)))
    assert shift > 2 * halves


@pytest.mark.parametrize("machine", synth.MACHINES)
def test_the_domain_shift_moves_the_normal_sound_more_than_the_faults(tiny_data, machine):
    test = sorted((raw(tiny_data) / machine / "test").glob("*.wav"))
    source_normal = mean_log_spectrum([p for p in test if "_source_test_normal_" in p.name])
    source_anomaly = mean_log_spectrum([p for p in test if "_source_test_anomaly_" in p.name])
    target_normal = mean_log_spectrum([p for p in test if "_target_test_normal_" in p.name])
    fault = np.mean(np.abs(source_anomaly - source_normal))
    assert np.mean(np.abs(target_normal - source_normal)) > fault


def read_truth(root: Path) -> list[dict]:
    with open(raw(root) / synth.TRUTH_NAME, newline="") as handle:
        return list(csv.DictReader(handle))


def test_truth_table_lists_every_clip_with_its_attributes_fault_and_severity(tiny_data):
    rows = read_truth(tiny_data)
    assert tuple(rows[0]) == synth.TRUTH_COLUMNS
    assert {row["file"] for row in rows} == {
        str(p.relative_to(raw(tiny_data))) for p in raw(tiny_data).rglob("*.wav")}
    for row in rows:
        machine, split, name = row["file"].split("/")
        assert (row["machine"], row["split"], row["section"]) == (machine, split, "00")
        if split in ("train", "test"):
            assert true_attributes(tiny_data, machine)[name] == row["attributes"]
            assert name.startswith(f"section_00_{row['domain']}_{split}_{row['label']}_")
        if row["label"] == "anomaly":
            assert row["fault"] in synth.ANOMALIES[machine]
            assert 0.05 <= float(row["severity"]) <= 1.0
        else:
            assert (row["fault"], float(row["severity"])) == ("", 0.0)
    for machine in synth.MACHINES:
        faults = {r["fault"] for r in rows if r["machine"] == machine and r["fault"]}
        assert len(faults) >= 2, machine


def test_the_dataset_reads_hidden_attributes_from_truth_csv(tiny_data, tmp_path):
    from asdcore import dataset

    copy = tmp_path / "dcase"
    shutil.copytree(tiny_data, copy)
    for path in raw(copy).glob("*/attributes_correspondence.csv"):
        path.unlink()  # truth.csv alone tells the hidden attributes
    clips = dataset.scan(copy).clips
    hidden = clips[clips["machine"].isin(synth.HIDDEN_ATTRIBUTE_MACHINES)
                   & clips["split"].isin(["train", "test"])]
    assert len(hidden) and (hidden["attributes"] == "noAttribute").all()
    truth = {row["file"]: row["attributes"] for row in read_truth(tiny_data)}
    assert (hidden["true_attributes"] == hidden["file"].map(truth)).all()


def test_a_truth_csv_of_another_kind_is_ignored(tiny_data, tmp_path):
    from asdcore import dataset

    copy = tmp_path / "dcase"
    shutil.copytree(tiny_data, copy)
    (raw(copy) / synth.TRUTH_NAME).write_text("file,state,label\nx.wav,OFF,normal\n")
    ds = dataset.scan(copy)
    assert not ds.problems
    hidden = ds.clips[(ds.clips["machine"] == "bearing") & (ds.clips["split"] != "supplemental")]
    assert (hidden["true_attributes"] != "").all()  # the correspondence files still tell


def test_some_machines_only(tiny_data, tmp_path):
    out = tmp_path / "two"
    assert synth.generate(out, preset="tiny", seed=0, machines=["valve", "fan"]) == out
    assert sorted(p.name for p in raw(out).iterdir()) == ["fan", synth.TRUTH_NAME, "valve"]
    assert synth.read_manifest(out)["machines"] == ["fan", "valve"]
    assert synth.is_dataset(out, "tiny", 0, machines=["fan", "valve"])
    assert not synth.is_dataset(out, "tiny", 0)
    full = digests(tiny_data)
    assert all(full[name] == digest for name, digest in digests(out).items()
               if name.endswith(".wav"))
    with pytest.raises(ASDError, match="Unknown machine type 'pump'"):
        synth.generate(tmp_path / "other", preset="tiny", machines=["pump"])


def test_demo_command_takes_presets_and_machines(tmp_path, capsys):
    from asdcore import cli

    out = tmp_path / "one"
    assert cli.main(["demo", str(out), "--preset", "tiny", "--machine", "gearbox"]) == 0
    assert synth.read_manifest(out)["machines"] == ["gearbox"]
    assert cli.main(["demo", str(out), "--preset", "tiny", "--machine", "pump"]) != 0
    assert "Unknown machine type" in capsys.readouterr().err


def test_presets_have_dcase_sizes():
    dcase = synth.PRESETS["dcase"]
    assert (dcase.n_train_source, dcase.n_train_target, dcase.n_test_per_cell,
            dcase.seconds) == (990, 10, 50, 10.0)
    assert dcase.n_supplemental_clean > 0 and dcase.n_supplemental_noise > 0
    demo = synth.PRESETS["demo"]
    assert demo.n_train_target == 10
    demo_bytes = sum(2 * c.samples for m in synth.MACHINES
                     for c in synth.plan_machine(m, demo))
    assert demo_bytes < 320e6


def test_same_seed_same_bytes_whatever_the_worker_count(tiny_data, tmp_path):
    out = tmp_path / "again"
    out.mkdir()  # an empty folder is fine to write into
    calls = []
    assert synth.generate(out, preset="tiny", seed=0, workers=2,
                          progress=lambda done, total, msg="": calls.append((done, total))) == out
    assert digests(out) == digests(tiny_data)
    assert calls[-1][0] == calls[-1][1] == len(list(raw(out).rglob("*.wav")))
    assert not [p for p in tmp_path.iterdir() if p.name != "again"]  # no staging left behind


@pytest.mark.slow
def test_different_seed_replaces_an_older_demo_and_differs(tiny_data, tmp_path):
    out = tmp_path / "dcase"
    shutil.copytree(tiny_data, out)
    synth.generate(out, preset="tiny", seed=1)
    assert json.loads((out / synth.MANIFEST_NAME).read_text())["seed"] == 1
    before, after = digests(tiny_data), digests(out)
    assert before.keys() == after.keys()
    wavs = [name for name in before if name.endswith(".wav")]
    assert all(before[name] != after[name] for name in wavs)


def test_rerun_is_a_no_op(tiny_data):
    stamps = {p: p.stat().st_mtime_ns for p in tiny_data.rglob("*")}
    start = time.perf_counter()
    assert synth.generate(tiny_data, preset="tiny", seed=0) == tiny_data
    assert time.perf_counter() - start < 1.0
    assert {p: p.stat().st_mtime_ns for p in tiny_data.rglob("*")} == stamps


def test_refuses_a_foreign_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(ASDError):
        synth.generate(mine, preset="tiny")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    with pytest.raises(ASDError):
        synth.generate(mine / "notes.txt", preset="tiny")
    with pytest.raises(ASDError):
        synth.generate(tmp_path / "new", preset="huge")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_cancelled_generation_is_resumed(tiny_data, tmp_path, workers):
    """Cancelled (or killed) part-way: no dataset appears, the finished clips wait in the
    hidden staging folder, and the next generation renders only the others."""
    polls = []

    def cancel():
        polls.append(1)
        return len(polls) > 3

    out = tmp_path / "dcase"
    with pytest.raises(Cancelled):
        synth.generate(out, preset="tiny", cancel=cancel, workers=workers)
    assert not out.exists()
    [staging] = tmp_path.iterdir()
    assert staging.name.startswith(".dcase.partial-")
    done = {p.relative_to(staging): p.stat().st_mtime_ns for p in staging.rglob("*.wav")}
    assert 0 < len(done) < len(list(tiny_data.rglob("*.wav")))
    assert synth.generate(out, preset="tiny", workers=workers) == out
    assert digests(out) == digests(tiny_data)
    assert {p: (out / p).stat().st_mtime_ns for p in done} == done
    assert [p.name for p in tmp_path.iterdir()] == ["dcase"]


def test_a_staging_folder_of_another_generation_is_removed(tmp_path):
    out = tmp_path / "dcase"
    with pytest.raises(Cancelled):
        synth.generate(out, preset="tiny", seed=3, cancel=lambda: True)
    synth.generate(out, preset="tiny", seed=0, machines=["fan"])
    assert [p.name for p in tmp_path.iterdir()] == ["dcase"]


@pytest.mark.slow
def test_concurrent_generations_of_one_dataset_render_it_once(tmp_path, monkeypatch):
    """Two app sessions opening at once: one renders, the other waits and finds it done."""
    import threading

    rendered = []
    real_render = synth.write._render_all
    monkeypatch.setattr(synth.write, "_render_all",
                        lambda *args, **kw: (rendered.append(1), real_render(*args, **kw)))
    out = tmp_path / "demo"
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        synth.generate(out, preset="tiny", seed=0))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [out, out] and len(rendered) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_more_clips_in_a_preset_leave_the_existing_clips_as_they_were():
    """Each clip has its own random stream: a preset with more target clips (the demo went
    from 2 to 10) keeps every clip of the smaller one, name and audio alike."""
    import dataclasses

    smaller, larger = TINY, dataclasses.replace(TINY, n_train_target=TINY.n_train_target + 3)
    for machine in ("fan", "ToyTrain"):
        before, after = synth.plan_machine(machine, smaller), synth.plan_machine(machine, larger)
        by_name = {clip.name: clip for clip in after}
        assert len(after) == len(before) + 3
        for clip in before:
            assert clip.name in by_name
        for clip in before[-4:] + [c for c in before if c.domain == "target"]:
            assert np.array_equal(synth.render(clip, 7), synth.render(by_name[clip.name], 7))

