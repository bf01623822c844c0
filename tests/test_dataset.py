"""The DCASE dataset reader: names, layouts, attribute tables, mappings, broken files, CLI."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from asdcore import cli, dataset
from asdcore.dataset import CLIP_COLUMNS, Problem, parse_attributes, parse_name, scan
from asdcore.errors import ASDError, Cancelled

PROJECT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# Helpers: tiny audio files and DCASE layouts in tmp folders


def write_audio(path: Path, seconds: float = 0.05, sr: int = 16000, channels: int = 1,
                subtype: str = "PCM_16", format: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    data = 0.1 * rng.standard_normal((int(seconds * sr), channels))
    sf.write(path, data, sr, subtype=subtype, format=format)
    return path


def dcase_name(section="00", domain="source", split="train", label="normal", index=0,
               attrs="car_A1_spd_28V_mic_1"):
    return f"section_{section}_{domain}_{split}_{label}_{index:04d}_{attrs}.wav"


def make_machine(folder: Path, sections=("00",), n_train=3, n_test=2, attrs="car_A1_spd_28V_mic_1",
                 supplemental=0) -> Path:
    """A machine folder: per section n_train source + 1 target train clips, and n_test test clips
    per domain x label."""
    for section in sections:
        for i in range(n_train):
            write_audio(folder / "train"
                        / dcase_name(section, "source", "train", "normal", i, attrs))
        write_audio(folder / "train" / dcase_name(section, "target", "train", "normal", 0, attrs))
        for domain in ("source", "target"):
            for label in ("normal", "anomaly"):
                for i in range(n_test):
                    write_audio(folder / "test"
                                / dcase_name(section, domain, "test", label, i, attrs))
    for i in range(supplemental):
        kind = "clean" if i % 2 == 0 else "noise"
        attr = attrs if kind == "clean" else "noAttribute"
        write_audio(folder / "supplemental"
                    / f"section_00_source_supplemental_{kind}_{i:04d}_{attr}.wav")
    return folder


def by_name(ds, name: str) -> pd.Series:
    ids = ds.clips["clip_id"]
    rows = ds.clips[(ids == name) | ids.str.endswith("/" + name)]
    assert len(rows) == 1, f"{name}: {len(rows)} rows"
    return rows.iloc[0]


def problem_files(ds) -> dict[str, str]:
    return {p.file: p.reason for p in ds.problems}


# --------------------------------------------------------------------------------------------
# parse_name / parse_attributes


@pytest.mark.parametrize("name, expected", [
    # 2023 real samples
    ("section_00_source_train_normal_0362_car_C2_spd_31V_mic_1.wav",
     dict(section="00", domain="source", split="train", label="normal", index=362,
          attributes="car_C2_spd_31V_mic_1", naming="dcase")),
    ("section_00_target_test_anomaly_0015_car_A2_spd_6_mic_2.wav",
     dict(domain="target", split="test", label="anomaly", index=15,
          attributes="car_A2_spd_6_mic_2")),
    ("section_00_source_test_anomaly_0022_m-n_W.wav", dict(label="anomaly", attributes="m-n_W")),
    ("section_00_source_test_normal_0027_vel_730_ac_0.11.wav", dict(attributes="vel_730_ac_0.11")),
    ("section_00_source_train_normal_0073_volt_1.5_wt_0.wav", dict(attributes="volt_1.5_wt_0")),
    # 2025 names, hidden attributes, values with underscores
    ("section_00_source_train_normal_0000_car_A1_spd_28V_mic_1_noise_1.wav",
     dict(attributes="car_A1_spd_28V_mic_1_noise_1", naming="dcase")),
    ("section_00_target_train_normal_0009_noAttribute.wav",
     dict(domain="target", index=9, attributes="noAttribute", naming="dcase")),
    ("section_00_source_test_normal_0001_mic_imp34dt05_mic_pos_A_grind_100_bkg_A.wav",
     dict(attributes="mic_imp34dt05_mic_pos_A_grind_100_bkg_A")),
    # 2021/2022: several sections, names without attributes, odd attribute strings
    ("section_02_target_test_anomaly_0007.wav",
     dict(section="02", domain="target", label="anomaly", index=7, attributes="", naming="dcase")),
    ("section_01_source_train_normal_0000_strength_1_ambient.wav",
     dict(section="01", attributes="strength_1_ambient")),
    ("section_00_source_train_normal_0000_0_g_25_mm_2000_mV_none.wav",
     dict(attributes="0_g_25_mm_2000_mV_none", naming="dcase")),
    # lenient: missing parts become unknowns instead of failures
    ("section_00_source_train_0003_a_1.wav",
     dict(domain="source", split="train", label="unknown", index=3, attributes="a_1",
          naming="dcase")),
    ("section_00_source_train_normal.wav", dict(label="normal", index=-1, naming="dcase")),
    # eval anonymous names (2022-2025, and 2021 with domain)
    ("section_00_0000.wav", dict(section="00", domain="unknown", label="unknown", index=0,
                                 attributes="", naming="eval")),
    ("section_00_0199", dict(index=199, naming="eval")),
    ("section_03_source_test_0012.wav", dict(section="03", domain="source", label="unknown",
                                             index=12, naming="eval")),
    # ground-truth targets come without .wav
    ("section_00_target_test_anomaly_0001_mdl_B_spd_2",
     dict(domain="target", label="anomaly", index=1, attributes="mdl_B_spd_2")),
    # supplemental, by tokens not position (incl. the ToyCar noise_1 trap)
    ("section_00_source_supplemental_clean_0003_car_A1_spd_28V_mic_1_noise_1.wav",
     dict(split="supplemental", supplemental_kind="clean", naming="supplemental", index=3,
          attributes="car_A1_spd_28V_mic_1_noise_1")),
    ("section_00_source_supplemental_noise_0004_noAttribute.wav",
     dict(supplemental_kind="noise", attributes="noAttribute")),
    ("section_00_noise_supplemental_normal_0000.wav",
     dict(domain="unknown", label="normal", supplemental_kind="noise", naming="supplemental")),
    ("section_00_source_supplemental_machine_0000.wav", dict(supplemental_kind="clean")),
    ("section_00_source_supplemental_0005_noise.wav", dict(supplemental_kind="noise")),
    ("section_00_source_supplemental_0005_car_A1_noise_1.wav", dict(supplemental_kind="unknown")),
    # legacy DCASE 2020 / MIMII
    ("normal_id_00_00000000.wav", dict(section="00", domain="source", label="normal", index=0,
                                       naming="legacy")),
    ("anomaly_id_02_00000012.wav", dict(section="02", label="anomaly", index=12)),
    ("id_05_00000003.wav", dict(section="05", label="unknown", index=3, naming="legacy")),
    # paths are reduced to their name; other extensions are fine
    ("ToyCar/train/section_00_source_train_normal_0001_a_1.wav", dict(index=1, attributes="a_1")),
    ("section_00_source_train_normal_0001_a_1.flac", dict(index=1, attributes="a_1")),
    # unknown
    ("recording 1.wav",
     dict(section="", domain="unknown", label="unknown", index=-1, naming="unknown")),
    ("sección_00.wav", dict(naming="unknown")),
    ("", dict(naming="unknown")),
])
def test_parse_name(name, expected):
    parsed = parse_name(name)
    assert set(parsed) == {"section", "domain", "split", "label", "index", "attributes",
                           "supplemental_kind", "naming"}
    for key, value in expected.items():
        assert parsed[key] == value, (key, parsed)


@pytest.mark.parametrize("raw, expected", [
    ("car_A1_spd_28V_mic_1_noise_1", {"car": "A1", "spd": "28V", "mic": "1", "noise": "1"}),
    ("pro_A_vel_12_loc_B", {"pro": "A", "vel": "12", "loc": "B"}),
    ("mic_imp34dt05_mic_pos_A_grind_100_bkg_A",
     {"mic": "imp34dt05", "mic_pos": "A", "grind": "100", "bkg": "A"}),
    ("m-n_W", {"m-n": "W"}),
    ("vel_730_ac_0.11", {"vel": "730", "ac": "0.11"}),
    ("volt_1.5_wt_150", {"volt": "1.5", "wt": "150"}),
    ("pat_03", {"pat": "03"}),
    ("id_C1_spd_2_mic_2", {"id": "C1", "spd": "2", "mic": "2"}),
    ("pat_00_panel_open_v1pat_00_v2pat_01",
     {"pat": "00", "panel": "open", "v1pat": "00", "v2pat": "01"}),
    ("strength_1_ambient", {"strength": "1", "ambient": ""}),
    ("car_A_1", {"car": "A_1"}),
    ("mic_1_mic_2", {"mic": "1", "mic.2": "2"}),
    ("noAttribute", {}),
    ("noattribute", {}),
    ("", {}),
])
def test_parse_attributes(raw, expected):
    assert parse_attributes(raw) == expected


def test_parse_attributes_never_fails_on_odd_strings():
    for raw in ("_", "__a__", "A", "1_2_3", "a", "é_ü", "0_g_25_mm_2000_mV_none"):
        assert isinstance(parse_attributes(raw), dict)


# --------------------------------------------------------------------------------------------
# Layouts


def test_folder_of_machines_multi_section(tmp_path):
    raw = tmp_path / "raw"
    make_machine(raw / "fan", sections=("00", "01", "02"), attrs="m-n_W")
    make_machine(raw / "ToyCar", supplemental=4)
    ds = scan(raw)
    assert ds.usable and ds.problems == []
    assert list(ds.clips.columns) == CLIP_COLUMNS
    machines = {m["name"]: m for m in ds.machines()}
    assert set(machines) == {"fan", "ToyCar"}
    fan = machines["fan"]
    assert fan["sections"] == ["00", "01", "02"]
    assert (fan["n_train"], fan["n_test"], fan["n_supplemental"]) == (12, 24, 0)
    assert (fan["n_source"], fan["n_target"]) == (9, 3)
    assert fan["has_attributes"] and fan["attribute_keys"] == ["m-n"]
    assert fan["sample_rates"] == [16000] and fan["channels"] == [1]
    assert fan["durations"] == {"min": pytest.approx(0.05), "max": pytest.approx(0.05)}
    assert machines["ToyCar"]["n_supplemental"] == 4
    clip = by_name(ds, dcase_name("01", "target", "test", "anomaly", 1, "m-n_W"))
    assert clip["file"] == f"fan/test/{dcase_name('01', 'target', 'test', 'anomaly', 1, 'm-n_W')}"
    assert clip["clip_id"] == "fan/" + clip["file"].split("/", 1)[1]
    assert (clip["section"], clip["domain"], clip["label"], clip["index"]) == \
        ("01", "target", "anomaly", 1)
    assert clip["attr"] == {"m-n": "W"}
    assert clip["subset"] == "" and clip["naming"] == "dcase"
    assert Path(clip["path"]).is_file() and Path(clip["path"]).is_absolute()
    assert clip["sample_rate"] == 16000 and clip["frames"] == 800 and clip["subtype"] == "PCM_16"
    assert clip["format"] == "WAV" and clip["channels"] == 1


def test_row_order_is_sorted_and_deterministic(tmp_path):
    raw = tmp_path / "raw"
    make_machine(raw / "valve", supplemental=2)
    make_machine(raw / "ToyCar")
    first, second = scan(raw).clips, scan(raw).clips
    pd.testing.assert_frame_equal(first, second)
    assert list(first["machine"].unique()) == ["ToyCar", "valve"]
    for _, group in first.groupby("machine"):
        assert list(group["split"].unique()) == [s for s in ("train", "test", "supplemental")
                                                 if s in set(group["split"])]
        for _, split in group.groupby("split"):
            names = [f.rsplit("/", 1)[1] for f in split["file"]]
            assert names == sorted(names)
    assert first["clip_id"].is_unique


def test_folder_above_single_machine_and_subsets(tmp_path):
    top = tmp_path / "dcase2025t2"
    make_machine(top / "dev_data" / "raw" / "ToyCar")
    make_machine(top / "dev_data" / "raw" / "fan")
    eval_car = top / "eval_data" / "raw" / "AutoTrash"
    make_machine(eval_car, n_test=0)
    for i in range(3):
        write_audio(eval_car / "test" / f"section_00_{i:04d}.wav")

    above = scan(top)
    assert {(m["name"], m["subset"]) for m in above.machines()} == {
        ("ToyCar", "dev"), ("fan", "dev"), ("AutoTrash", "eval")}
    raw = scan(top / "dev_data" / "raw")
    assert set(raw.clips["subset"]) == {"dev"}
    assert len(raw.clips) == len(above.clips[above.clips["subset"] == "dev"])
    # the file column is relative to the machine folder's parent whatever DATA is
    assert set(raw.clips["file"]) == set(above.clips[above.clips["subset"] == "dev"]["file"])
    assert above.clips["clip_id"].str.startswith(("dev_data/raw/", "eval_data/raw/")).all()

    single = scan(top / "dev_data" / "raw" / "ToyCar")
    assert [m["name"] for m in single.machines()] == ["ToyCar"]
    assert len(single.clips) == (raw.clips["machine"] == "ToyCar").sum()
    assert single.clips["clip_id"].str.startswith(("train/", "test/")).all()

    anonymous = above.clips[above.clips["naming"] == "eval"]
    assert len(anonymous) == 3
    assert set(anonymous["domain"]) == {"unknown"} and set(anonymous["label"]) == {"unknown"}


def test_missing_or_empty_data_is_a_user_error(tmp_path):
    with pytest.raises(ASDError, match="does not exist"):
        scan(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ASDError, match="not a folder"):
        scan(tmp_path / "file.txt")
    (tmp_path / "empty" / "some" / "folder").mkdir(parents=True)
    with pytest.raises(ASDError, match="No machine folders.*train/"):
        scan(tmp_path / "empty")
    make_machine(tmp_path / "ok" / "fan")
    with pytest.raises(ASDError, match="mapping file or folder .* does not exist"):
        scan(tmp_path / "ok", mapping=tmp_path / "no_mapping.csv")


def test_hidden_folders_and_symlink_loops(tmp_path):
    raw = tmp_path / "raw"
    make_machine(raw / "fan")
    make_machine(raw / ".trash" / "old")
    (raw / "fan" / "train" / ".DS_Store").write_bytes(b"\x00\x01")
    (raw / "loop").mkdir()
    (raw / "loop" / "back").symlink_to(raw, target_is_directory=True)
    ds = scan(raw)
    assert [m["name"] for m in ds.machines()] == ["fan"]
    assert ds.problems == []


def test_missing_train_folder_is_a_problem_but_usable(tmp_path):
    raw = tmp_path / "raw"
    make_machine(raw / "fan")
    write_audio(raw / "valve" / "test" / dcase_name(split="test"))
    ds = scan(raw)
    assert ds.usable
    assert problem_files(ds) == {"valve": "no train folder: cannot train on this machine."}
    valve = next(m for m in ds.machines() if m["name"] == "valve")
    assert valve["n_train"] == 0 and valve["n_test"] == 1 and valve["n_problems"] == 1
    assert ds.trainable_machines() == ["fan"]  # valve has test clips only


def test_dataset_with_only_broken_files_is_not_usable(tmp_path):
    (tmp_path / "fan" / "train").mkdir(parents=True)
    (tmp_path / "fan" / "train" / dcase_name()).write_bytes(b"garbage")
    ds = scan(tmp_path)
    assert not ds.usable and len(ds.problems) == 1
    info = ds.info()
    assert info["machines"][0]["durations"] == {"min": None, "max": None}
    assert "cannot be used" in cli.format_info(ds)


def test_legacy_layout(tmp_path):
    for machine, ids in (("pump", ("00", "02")), ("ToyCar", ("01",))):
        for section in ids:
            for i in range(2):
                write_audio(tmp_path / machine / "train" / f"normal_id_{section}_{i:08d}.wav")
                write_audio(tmp_path / machine / "test" / f"anomaly_id_{section}_{i:08d}.wav")
                write_audio(tmp_path / machine / "test" / f"normal_id_{section}_{i:08d}.wav")
    ds = scan(tmp_path)
    assert ds.problems == []
    assert set(ds.clips["naming"]) == {"legacy"} and set(ds.clips["domain"]) == {"source"}
    pump = next(m for m in ds.machines() if m["name"] == "pump")
    assert pump["sections"] == ["00", "02"] and pump["n_train"] == 4 and pump["n_test"] == 8
    clip = by_name(ds, "anomaly_id_02_00000001.wav")
    assert (clip["section"], clip["label"], clip["split"], clip["index"]) == \
        ("02", "anomaly", "test", 1)


# --------------------------------------------------------------------------------------------
# Supplemental


def test_supplemental_classification_in_a_scan(tmp_path):
    car = make_machine(tmp_path / "ToyCar")
    supplemental = {
        "section_00_source_supplemental_clean_0000_car_A1_spd_28V_mic_1_noise_1.wav": "clean",
        "section_00_source_supplemental_noise_0001_noAttribute.wav": "noise",
        "section_00_noise_supplemental_normal_0002.wav": "noise",
        "section_00_source_supplemental_machine_0003.wav": "clean",
        "section_00_source_supplemental_0004_car_A1_noise_1.wav": "unknown",
    }
    for name in supplemental:
        write_audio(car / "supplemental" / name)
    ds = scan(tmp_path)
    for name, kind in supplemental.items():
        clip = by_name(ds, name)
        assert clip["supplemental_kind"] == kind, name
        assert clip["split"] == "supplemental" and clip["naming"] == "supplemental"
    assert set(ds.clips.loc[ds.clips["split"] != "supplemental", "supplemental_kind"]) == {""}
    assert by_name(ds, "section_00_source_supplemental_clean_0000_car_A1_spd_28V_mic_1_noise_1.wav"
                   )["attr"] == {"car": "A1", "spd": "28V", "mic": "1", "noise": "1"}


# --------------------------------------------------------------------------------------------
# attributes_00.csv variants


def _attribute_machine(tmp_path) -> tuple[Path, str, str]:
    """A machine whose file names hide attributes (``noAttribute``), like ToyTrain 2025."""
    folder = make_machine(tmp_path / "raw" / "ToyTrain", attrs="noAttribute")
    train = dcase_name(index=1, attrs="noAttribute")
    test = dcase_name(split="test", label="anomaly", index=0, attrs="noAttribute")
    return folder, train, test


@pytest.mark.parametrize("variant",
                         ["prefixed", "bare", "bom", "trailing_empty", "no_header", "crlf"])
def test_attribute_table_variants(tmp_path, variant):
    folder, train, test = _attribute_machine(tmp_path)
    header = "file_name,d1p,d1v,d2p,d2v"
    rows = [f"ToyTrain/train/{train},car,B2,spd,10", f"ToyTrain/test/{test},car,C1,spd,7"]
    if variant == "bare":
        rows = [r.replace("ToyTrain/train/", "").replace("ToyTrain/test/", "") for r in rows]
    if variant == "trailing_empty":
        header += ",,"
        rows = [r + ",," for r in rows]
    lines = rows if variant == "no_header" else [header, *rows]
    text = ("\r\n" if variant == "crlf" else "\n").join(lines) + "\n"
    encoding = "utf-8-sig" if variant == "bom" else "utf-8"
    (folder / "attributes_00.csv").write_text(text, encoding=encoding, newline="")
    ds = scan(tmp_path / "raw")
    assert ds.problems == []
    assert by_name(ds, train)["attr"] == {"car": "B2", "spd": "10"}
    assert by_name(ds, test)["attr"] == {"car": "C1", "spd": "7"}
    assert by_name(ds, train)["attributes"] == "noAttribute"  # the raw string stays the name's
    other = by_name(ds, dcase_name(index=0, attrs="noAttribute"))
    assert other["attr"] == {}  # not listed: parsed from its name
    assert ds.machines()[0]["has_attributes"]


def test_attribute_table_overrides_name_and_handles_attributeless_rows(tmp_path):
    folder = make_machine(tmp_path / "raw" / "fan", attrs="m-n_W")
    listed = dcase_name(index=0, attrs="m-n_W")
    (folder / "attributes_00.csv").write_text(
        f"file_name,d1p,d1v\nfan/train/{listed},m-n,X\n")
    ds = scan(tmp_path / "raw")
    assert by_name(ds, listed)["attr"] == {"m-n": "X"}
    assert by_name(ds, dcase_name(index=1, attrs="m-n_W"))["attr"] == {"m-n": "W"}


@pytest.mark.parametrize("content", [
    "file_name\nToyTrain/train/{train}\n",                     # no attribute columns at all
    "file_name,d1p,d1v\nToyTrain/train/{train},noAttribute,\n",  # explicit noAttribute
])
def test_attributeless_tables_leave_machine_without_attributes(tmp_path, content):
    folder, train, _ = _attribute_machine(tmp_path)
    (folder / "attributes_00.csv").write_text(content.format(train=train))
    ds = scan(tmp_path / "raw")
    assert ds.problems == []
    machine = ds.machines()[0]
    assert not machine["has_attributes"] and machine["attribute_keys"] == []


@pytest.mark.parametrize("content, reason", [
    (b"PK\x03\x04\x00\x00\x08\x00 zipped", "binary data"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
    (b"\xff\xfe\xfa not utf8 \xc3\x28", "not UTF-8"),
    (b"a,b,c\n1,2,3\n", "lists no audio files"),
    (b"file_name,d1p,d1v\nToyTrain/train/x.wav,car,A\nrubbish\n", "1 rows do not start"),
    (b'file_name,d1p\n"unterminated,car\n', "lists no audio files"),
])
def test_malformed_attribute_table_is_a_problem(tmp_path, content, reason):
    folder, train, _ = _attribute_machine(tmp_path)
    (folder / "attributes_00.csv").write_bytes(content)
    ds = scan(tmp_path / "raw")
    assert ds.usable
    problems = problem_files(ds)
    assert list(problems) == ["ToyTrain/attributes_00.csv"]
    assert reason in problems["ToyTrain/attributes_00.csv"]


def test_several_section_tables(tmp_path):
    folder = make_machine(tmp_path / "gearbox", sections=("00", "01"), attrs="noAttribute")
    for section, value in (("00", "1.0"), ("01", "2.0")):
        (folder / f"attributes_{section}.csv").write_text(
            "file_name,d1p,d1v\n"
            f"gearbox/train/{dcase_name(section, attrs='noAttribute')},volt,{value}\n")
    ds = scan(tmp_path)
    assert by_name(ds, dcase_name("00", attrs="noAttribute"))["attr"] == {"volt": "1.0"}
    assert by_name(ds, dcase_name("01", attrs="noAttribute"))["attr"] == {"volt": "2.0"}


# --------------------------------------------------------------------------------------------
# True attributes (correspondence files)


@pytest.mark.parametrize("orientation", ["hidden_first", "official_true_first"])
def test_attribute_correspondence(tmp_path, orientation):
    folder, train, test = _attribute_machine(tmp_path)
    true_train = train.replace("noAttribute", "car_B2_spd_10_mic_1")
    pairs = [(f"ToyTrain/train/{train}", f"ToyTrain/train/{true_train}")]
    if orientation == "official_true_first":  # bare names, true name in the first column
        pairs = [(true_train, train)]
        name = "attributes_00_train_correspondence.csv"
    else:
        name = "attributes_correspondence.csv"
    (folder / name).write_text("source_file_name,target_file_name\n"
                               + "".join(f"{a},{b}\n" for a, b in pairs))
    ds = scan(tmp_path / "raw")
    assert ds.problems == []
    assert by_name(ds, train)["true_attributes"] == "car_B2_spd_10_mic_1"
    assert by_name(ds, test)["true_attributes"] == ""
    machine = ds.machines()[0]
    assert not machine["has_attributes"] and machine["has_ground_truth_attributes"]


# --------------------------------------------------------------------------------------------
# Eval anonymous names and mappings


def _eval_machines(root: Path) -> Path:
    """eval_data/raw with two machines holding anonymous test clips section_00_0000..0003."""
    raw = root / "eval_data" / "raw"
    for machine in ("AutoTrash", "Polisher"):
        make_machine(raw / machine, n_test=0, attrs="id_A1_spd_1_mic_2")
        for i in range(4):
            write_audio(raw / machine / "test" / f"section_00_{i:04d}.wav")
    return raw


_TRUTH = [("source", "normal"), ("target", "anomaly"), ("target", "normal"), ("source", "anomaly")]


def _list_lines(machine: str, suffix=".wav") -> list[str]:
    return [f"section_00_{i:04d}.wav,"
            f"section_00_{domain}_test_{label}_{i + 10:04d}_id_C{i}_spd_2{suffix}"
            for i, (domain, label) in enumerate(_TRUTH)]


def _assert_mapped(ds, machine: str):
    clips = ds.clips[(ds.clips["machine"] == machine) & (ds.clips["split"] == "test")]
    for i, (domain, label) in enumerate(_TRUTH):
        clip = clips[clips["file"] == f"{machine}/test/section_00_{i:04d}.wav"].iloc[0]
        assert (clip["domain"], clip["label"]) == (domain, label)
        assert clip["attributes"] == f"id_C{i}_spd_2"
        assert clip["attr"] == {"id": f"C{i}", "spd": "2"}
        assert clip["naming"] == "eval" and clip["index"] == i


def test_eval_without_mapping_stays_unknown(tmp_path):
    ds = scan(_eval_machines(tmp_path))
    test = ds.clips[ds.clips["split"] == "test"]
    assert len(test) == 8 and set(test["label"]) == {"unknown"} and set(test["naming"]) == {"eval"}


def test_eval_data_list_mapping_file_and_autodetect(tmp_path):
    raw = _eval_machines(tmp_path)
    text = "\n".join(["AutoTrash", *_list_lines("AutoTrash"), "Polisher", *_list_lines("Polisher")])
    mapping = tmp_path / "eval_data_list_2025.csv"
    mapping.write_text(text + "\n")
    ds = scan(raw, mapping=mapping)
    assert ds.problems == []
    _assert_mapped(ds, "AutoTrash")
    _assert_mapped(ds, "Polisher")
    # the same list lying in DATA is picked up without --mapping
    (tmp_path / "eval_data" / "eval_data_list_2025.csv").write_text(text + "\n")
    auto = scan(tmp_path / "eval_data")
    _assert_mapped(auto, "Polisher")


def test_ground_truth_folder_mapping(tmp_path):
    raw = _eval_machines(tmp_path)
    truth = tmp_path / "truth"
    (truth / "attributes").mkdir(parents=True)
    (truth / "attributes" / "ground_truth_AutoTrash_section_00_test.csv").write_text(
        "\n".join(_list_lines("AutoTrash", suffix="")) + "\n")  # targets without .wav
    # the official evaluator's 0/1 files: labels in ground_truth_data, domains in
    # ground_truth_domain
    (truth / "ground_truth_data").mkdir()
    (truth / "ground_truth_domain").mkdir()
    (truth / "ground_truth_data" / "ground_truth_Polisher_section_00_test.csv").write_text(
        "".join(f"section_00_{i:04d}.wav,{int(label == 'anomaly')}\n"
                for i, (_, label) in enumerate(_TRUTH)))
    (truth / "ground_truth_domain" / "ground_truth_Polisher_section_00_test.csv").write_text(
        "".join(f"section_00_{i:04d}.wav,{int(domain == 'target')}\n"
                for i, (domain, _) in enumerate(_TRUTH)))
    (truth / "notes.csv").write_text("unrelated,table\n")  # ignored inside a mapping folder
    ds = scan(raw, mapping=truth)
    assert ds.problems == []
    _assert_mapped(ds, "AutoTrash")
    polisher = ds.clips[(ds.clips["machine"] == "Polisher") & (ds.clips["split"] == "test")]
    assert list(zip(polisher["domain"], polisher["label"], strict=True)) == _TRUTH
    assert set(polisher["attributes"]) == {""}


def test_ground_truth_attributes_file_gives_true_attributes(tmp_path):
    raw = _eval_machines(tmp_path)
    gt = tmp_path / "ground_truth_AutoTrash_section_00_test.csv"
    gt.write_text("section_00_0000.wav,section_00_source_test_anomaly_0037_noAttribute,"
                  "section_00_source_test_anomaly_0037_id_B2_spd_2_mic_1.wav\n")
    clip = by_name(scan(raw, mapping=gt), "AutoTrash/test/section_00_0000.wav")
    assert (clip["domain"], clip["label"], clip["attributes"]) == \
        ("source", "anomaly", "noAttribute")
    assert clip["true_attributes"] == "id_B2_spd_2_mic_1"


def test_unrecognised_mapping_file_is_a_problem(tmp_path):
    raw = _eval_machines(tmp_path)
    bad = tmp_path / "mapping.csv"
    bad.write_text("hello\nworld,again\n")
    ds = scan(raw, mapping=bad)
    assert ds.usable
    assert "not a recognised" in problem_files(ds)[str(bad)]


# --------------------------------------------------------------------------------------------
# Broken, odd and unusual files


def _truncate_data(path: Path) -> None:
    """Cut a WAV's data in half while its header still promises all of it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_bad_input_corpus(tmp_path):
    fan = make_machine(tmp_path / "raw" / "fan", n_train=1, n_test=1)
    train, test = fan / "train", fan / "test"
    name = lambda i, attrs="a_1": dcase_name(index=100 + i, attrs=attrs)  # noqa: E731
    (train / name(0)).write_bytes(os.urandom(3000))                     # corrupt bytes
    (train / name(1)).write_bytes(b"")                                  # empty
    header = write_audio(train / name(2)).read_bytes()[:30]
    (train / name(2)).write_bytes(header)                               # truncated header
    _truncate_data(write_audio(train / name(3), seconds=0.2))           # truncated data
    write_audio(train / name(4), channels=2)                            # stereo
    write_audio(train / name(5), sr=44100)                              # 44.1 kHz
    write_audio(train / name(6), subtype="PCM_24")                      # 24-bit
    write_audio(train / name(7), subtype="FLOAT")                       # float32
    write_audio(train / name(8).replace(".wav", ".flac"), format="FLAC")  # FLAC
    (train / name(9)).write_text("this is a text file\n" * 20)          # text named .wav
    write_audio(train / name(10, attrs="ünïcødé_名前 with space"))        # unicode + spaces
    (train / "notes.txt").write_text("my notes")                        # non-audio in train/
    (train / "subfolder").mkdir()                                       # folder in train/
    write_audio(train / "recording 1.wav")                              # unknown name
    write_audio(train / name(11), seconds=0.0001)                       # 1 frame: fine
    header_only = write_audio(train / name(12)).read_bytes()[:44]
    (train / name(12)).write_bytes(header_only)                         # header, no frames
    write_audio(tmp_path / "raw" / "valve" / "test" / dcase_name(split="test"))  # no train/
    (test / ".hidden.wav").write_bytes(b"ignored")                      # hidden: ignored

    ds = scan(tmp_path / "raw")
    assert ds.usable
    problems = problem_files(ds)
    expected = {
        name(0): "cannot be read as audio", name(1): "empty file",
        name(2): "cannot be read as audio",
        name(3): "truncated", name(9): "cannot be read as audio", "notes.txt": "not an audio file",
        "subfolder": "folders inside train/", "recording 1.wav": "does not follow the DCASE naming",
        name(12): "holds no audio frames",
    }
    for file, reason in expected.items():
        assert reason in problems.pop(f"fan/train/{file}"), file
    assert problems == {"valve": "no train folder: cannot train on this machine."}
    for reason in problem_files(ds).values():
        assert reason.endswith(".") and "\n" not in reason and reason.count(". ") == 0

    def facts(file):
        clip = by_name(ds, file)
        return clip["sample_rate"], clip["channels"], clip["subtype"], clip["format"]

    assert facts(name(4)) == (16000, 2, "PCM_16", "WAV")
    assert facts(name(5)) == (44100, 1, "PCM_16", "WAV")
    assert facts(name(6)) == (16000, 1, "PCM_24", "WAV")
    assert facts(name(7)) == (16000, 1, "FLOAT", "WAV")
    assert facts(name(8).replace(".wav", ".flac")) == (16000, 1, "PCM_16", "FLAC")
    assert by_name(ds, name(4))["duration"] == pytest.approx(0.05)
    unicode = by_name(ds, name(10, attrs="ünïcødé_名前 with space"))
    assert unicode["attributes"] == "ünïcødé_名前 with space" and Path(unicode["path"]).is_file()
    assert by_name(ds, name(11))["frames"] == 1
    fan_summary = next(m for m in ds.machines() if m["name"] == "fan")
    assert fan_summary["sample_rates"] == [16000, 44100] and fan_summary["channels"] == [1, 2]
    assert fan_summary["n_problems"] == 9
    json.dumps(ds.info())  # JSON-able without help
    text = cli.format_info(ds)
    assert "truncated" in text and "fan" in text and "valve" in text


def test_truncation_check_does_not_flag_complete_or_padded_files(tmp_path):
    path = write_audio(tmp_path / "fan" / "train" / dcase_name(), seconds=0.1)
    with open(path, "ab") as fh:
        fh.write(b"LIST" + struct.pack("<I", 4) + b"INFO")  # a trailing chunk after data
    ds = scan(tmp_path)
    assert ds.problems == [] and len(ds.clips) == 1


def test_unicode_machine_and_folder_names(tmp_path):
    root = tmp_path / "données réelles"
    make_machine(root / "máquina 1", n_train=1, n_test=1)
    ds = scan(root)
    assert ds.problems == [] and ds.machines()[0]["name"] == "máquina 1"
    assert ds.clips["file"].str.startswith("máquina 1/").all()
    assert "máquina 1" in cli.format_info(ds)


def test_file_names_that_are_not_utf8(tmp_path):
    make_machine(tmp_path / "fan", n_train=1, n_test=1)
    good = tmp_path / "fan" / "train" / dcase_name(index=7)
    odd = (os.fsencode(tmp_path / "fan" / "train")
           + b"/section_00_source_train_normal_0008_a_\xff.wav")
    os.link(write_audio(good), odd)
    ds = scan(tmp_path)
    assert [(p.file, p.reason) for p in ds.problems] == [
        ("fan/train/section_00_source_train_normal_0008_a_\\udcff.wav",
         "file name is not valid UTF-8; rename the file to use it.")]
    assert len(ds.clips) == 7
    json.dumps(ds.info())
    cli.format_info(ds).encode("utf-8")


# --------------------------------------------------------------------------------------------
# Progress, cancel, summaries


def test_progress_and_cancel(tmp_path):
    make_machine(tmp_path / "fan")
    calls = []
    scan(tmp_path, progress=lambda done, total, message="": calls.append((done, total)))
    assert calls[0] == (0, 12) and calls[-1] == (12, 12)
    with pytest.raises(Cancelled):
        scan(tmp_path, cancel=lambda: True)


def test_overview_and_info(tmp_path):
    make_machine(tmp_path / "fan", supplemental=2)
    ds = scan(tmp_path)
    table = dataset.overview(ds.clips)
    assert list(table.columns) == ["subset", "machine", "split", "domain", "label", "clips"]
    assert table["clips"].sum() == len(ds.clips)
    row = table[(table["split"] == "test") & (table["domain"] == "target")
                & (table["label"] == "anomaly")]
    assert row["clips"].tolist() == [2]
    assert dataset.overview(ds.clips.iloc[0:0]).empty
    info = ds.info()
    assert json.loads(json.dumps(info)) == info
    assert info["n_clips"] == len(ds.clips) and info["usable"] is True
    contract = {"name", "sections", "n_train", "n_test", "n_supplemental", "has_attributes"}
    assert contract <= set(info["machines"][0])
    assert Problem("a", "b") == Problem("a", "b")


# --------------------------------------------------------------------------------------------
# Real samples


def test_real_dcase2023_samples(real_samples):
    ds = scan(real_samples / "dcase2023_dev")
    assert ds.problems == []
    machines = {m["name"]: m for m in ds.machines()}
    assert set(machines) == {"ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve"}
    for m in machines.values():
        assert (m["n_train"], m["n_test"], m["sections"]) == (2, 2, ["00"])
        assert m["has_attributes"] and m["sample_rates"] == [16000] and m["channels"] == [1]
    assert machines["ToyCar"]["durations"] == {"min": 12.0, "max": 12.0}
    assert machines["fan"]["durations"] == {"min": 10.0, "max": 10.0}
    assert machines["ToyCar"]["attribute_keys"] == ["car", "mic", "spd"]
    clips = ds.clips
    assert len(clips) == 28 and set(clips["naming"]) == {"dcase"}
    assert (clips["label"] == "anomaly").sum() == 5 and (clips["label"] == "normal").sum() == 23
    assert set(clips.loc[clips["split"] == "train", "domain"]) == {"source"}
    assert set(clips.loc[clips["split"] == "test", "domain"]) == {"source", "target"}
    clip = by_name(ds, "section_00_target_test_anomaly_0015_car_A2_spd_6_mic_2.wav")
    assert clip["file"] == \
        "ToyTrain/test/section_00_target_test_anomaly_0015_car_A2_spd_6_mic_2.wav"
    assert clip["attr"] == {"car": "A2", "spd": "6", "mic": "2"} and clip["frames"] == 192000


def test_real_dcase2020_samples(real_samples):
    ds = scan(real_samples / "dcase2020_dev")
    machines = {m["name"]: m for m in ds.machines()}
    assert set(machines) == {"ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve"}
    assert all(m["n_train"] == 0 and m["n_test"] == 2 for m in machines.values())
    assert machines["ToyCar"]["sections"] == ["01"] and machines["fan"]["sections"] == ["00"]
    assert set(ds.clips["naming"]) == {"legacy"} and set(ds.clips["split"]) == {"test"}
    assert sorted(ds.clips["label"].value_counts().items()) == [("anomaly", 6), ("normal", 6)]
    assert ds.usable
    assert {p.reason for p in ds.problems} == {"no train folder: cannot train on this machine."}
    assert len(ds.problems) == 6


# --------------------------------------------------------------------------------------------
# The tiny synthetic demo


def _synth_available() -> bool:
    try:
        import asdcore.synth  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _synth_available(), reason="asdcore.synth cannot be imported yet")
def test_tiny_demo(tiny_data):
    ds = scan(tiny_data)
    assert ds.usable
    machines = {m["name"]: m for m in ds.machines()}
    assert set(machines) == {"ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve"}
    clips = ds.clips
    for name, m in machines.items():
        mine = clips[clips["machine"] == name]
        assert m["n_train"] + m["n_test"] + m["n_supplemental"] == len(mine)
        assert m["n_train"] > 0 and m["n_test"] > 0 and m["n_supplemental"] > 0
        assert m["n_source"] + m["n_target"] == m["n_train"]
        assert m["subset"] == "dev" and m["sections"] == ["00"]
        hidden = name in ("ToyTrain", "bearing", "slider")
        assert m["has_attributes"] is not hidden, name
        assert m["has_ground_truth_attributes"] is hidden, name
    hidden_clips = clips[clips["machine"].isin(["ToyTrain", "bearing", "slider"])
                         & (clips["split"] != "supplemental")]
    assert (hidden_clips["true_attributes"] != "").all()
    assert set(hidden_clips["attributes"]) == {"noAttribute"}
    supplemental = clips[clips["split"] == "supplemental"]
    assert set(supplemental["supplemental_kind"]) == {"clean", "noise"}
    test = clips[clips["split"] == "test"]
    assert set(test["label"]) == {"normal", "anomaly"}
    assert set(test["domain"]) == {"source", "target"}
    assert not any("attributes" in p.file for p in ds.problems), ds.problems


# --------------------------------------------------------------------------------------------
# Command line


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asdcore", *map(str, args)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120)


def test_cli_info_json(tmp_path):
    make_machine(tmp_path / "raw" / "fan", supplemental=2)
    (tmp_path / "raw" / "fan" / "train" / dcase_name(index=50)).write_bytes(b"broken")
    result = _cli("info", tmp_path / "raw", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    machine = info["machines"][0]
    assert machine["name"] == "fan" and machine["sections"] == ["00"]
    assert (machine["n_train"], machine["n_test"], machine["n_supplemental"]) == (4, 8, 2)
    assert machine["has_attributes"] is True
    assert info["problems"] == [{"file": f"fan/train/{dcase_name(index=50)}",
                                 "reason": "cannot be read as audio (format not recognised)."}]
    text = _cli("info", tmp_path / "raw")
    assert text.returncode == 0 and "fan" in text.stdout and "format not recognised" in text.stdout


def test_cli_info_missing_folder(tmp_path):
    result = _cli("info", tmp_path / "missing")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0]
