"""Characteristic frequencies as harmonic families: a machine run at several speeds whose clips
each show a different family member strongest gets one label per speed, named after the
shaft rate; bearing fault frequencies from geometry; the CWRU conformance check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from harmonic_family_data import SPEEDS, write_machine
from sklearn.metrics import adjusted_rand_score

from asdcore import dataset, dsp
from asdcore.errors import ASDError
from asdcore.labels import envelope_labels, suggest_band

CWRU = Path(__file__).resolve().parents[2] / "shared" / "real-vibration" / "cwru"


def ari(result, truth):
    files = sorted(result.labels)
    return adjusted_rand_score([truth[f] for f in files], [result.labels[f] for f in files])


@pytest.fixture(scope="module")
def pump(tmp_path_factory):
    root = tmp_path_factory.mktemp("pump")
    truth = write_machine(root)
    return dataset.scan(root), truth


@pytest.mark.parametrize("band", [(2500.0, 3500.0), None], ids=["given band", "suggested band"])
def test_each_speed_is_one_label_named_after_its_shaft_rate(pump, band):
    ds, truth = pump
    result = envelope_labels(ds, "pump", band=band)
    assert ari(result, truth) >= 0.9
    assert sorted(result.centres.values()) == pytest.approx(SPEEDS, rel=0.01)
    for label, family in result.families.items():
        assert {1, 5, 10} <= set(family), label  # shaft, vane pass and its second harmonic


def test_a_speed_twice_another_stays_apart(tmp_path):
    truth = write_machine(tmp_path, speeds=(20.0, 40.0), clips_per_speed=6)
    result = envelope_labels(dataset.scan(tmp_path), "pump", band=(2500, 3500))
    assert ari(result, truth) == 1.0
    assert sorted(result.centres.values()) == pytest.approx([20.0, 40.0], rel=0.01)


def test_envelope_labels_run_at_the_files_own_rate(tmp_path):
    # 48 kHz recordings whose impacts ring at 12 kHz: at the project's 16 kHz it would be gone
    truth = write_machine(tmp_path, speeds=(21.0, 31.0), clips_per_speed=4, sr=48000,
                          carrier=12000.0)
    result = envelope_labels(dataset.scan(tmp_path), "pump")
    assert result.params["sr"] == 48000
    assert result.band[0] <= 12000 <= result.band[1]  # above 16 kHz audio's 8 kHz Nyquist
    assert ari(result, truth) == 1.0


def test_family_fundamental_of_lines_and_its_harmonic_numbers():
    lines = np.array([24.1, 120.5, 241.0, 77.7])
    # the vane-pass line (5x) dominates, the shaft line is clear (4 thresholds over its
    # threshold of 1); a line that barely passed (77.7 Hz) is noise and weighs little
    f0, numbers = dsp.family_fundamental(lines, np.array([5.0, 40.0, 20.0, 1.2]), 5, 250, 1.0)
    assert f0 == pytest.approx(24.1, rel=0.002) and numbers == (1, 5, 10)
    # a shaft line barely over its threshold decides nothing in one clip (the machine's clips
    # together do: `consistent_families`)
    f0, numbers = dsp.family_fundamental(lines, np.array([1.5, 40.0, 20.0, 1.2]), 5, 250, 1.0)
    assert f0 == pytest.approx(120.5, rel=0.002) and numbers == (1, 2)
    assert dsp.family_fundamental(np.empty(0), np.empty(0), 5, 250, 1.0) == (0.0, ())


def test_bearing_multipliers_from_geometry_match_cwru_published_values():
    # SKF 6205: 9 balls, 0.3126 in balls on a 1.537 in pitch circle
    m = dsp.bearing_multipliers(9, 0.3126, 1.537, 0.0)
    assert m["BPFO"] == pytest.approx(3.5848, rel=1e-3)
    assert m["BPFI"] == pytest.approx(5.4152, rel=1e-3)
    assert m["FTF"] == pytest.approx(0.39828, rel=1e-3)
    assert 2 * m["BSF"] == pytest.approx(4.7135, rel=1e-3)  # CWRU publishes 2x ball spin
    with pytest.raises(ASDError, match="geometry is not usable"):
        dsp.bearing_multipliers(9, 2.0, 1.5)


def test_fault_bands_hold_harmonics_and_shaft_sidebands():
    bands = dsp.fault_bands(30.0, {"BPFO": 3.5, "FTF": 0.4}, n_harmonics=2, n_sidebands=1)
    bpfo = sorted(b["centre"] for b in bands if b["line"] == "BPFO")
    assert bpfo == pytest.approx([75, 105, 135, 180, 210, 240])
    assert sorted(b["centre"] for b in bands if b["line"] == "FTF") == pytest.approx([12, 24])
    with pytest.raises(ASDError, match="shaft speed"):
        dsp.fault_bands(0.0, {"BPFO": 3.5})


@pytest.mark.skipif(not (CWRU / "truth.csv").exists(), reason="no shared CWRU data")
def test_cwru_fault_lines_with_the_suggested_band():
    """With the kurtogram's band, at the file's own rate, the strongest envelope line near BPFO
    (outer race) or BPFI (inner race) lies within 2 % of it."""
    truth = pd.read_csv(CWRU / "truth.csv")
    target = {"outer_race": "BPFO", "inner_race": "BPFI"}
    checked = 0
    for row in truth[truth["condition"].isin(target)].itertuples():
        path = str(CWRU / row.file)
        sr = sf.info(path).samplerate
        assert sr == 12000
        band = suggest_band([path], sr=sr)
        y, _ = sf.read(path, dtype="float64")
        spectrum, freqs = dsp.envelope_spectrum(y, sr, band, fmax=1000)
        multipliers = {"BPFO": row.bpfo_hz / row.shaft_hz, "BPFI": row.bpfi_hz / row.shaft_hz}
        bands = dsp.fault_bands(row.shaft_hz, multipliers, n_harmonics=1, n_sidebands=0,
                                width=0.05)
        line = target[row.condition]
        metrics = {b["line"]: b for b in dsp.fault_band_metrics(spectrum, freqs, bands)}
        expected = getattr(row, f"{line.lower()}_hz")
        assert metrics[line]["peak_freq"] == pytest.approx(expected, rel=0.02), row.file
        checked += 1
    assert checked == 8


def test_bearings_are_saved_per_machine_beside_the_bands(tiny_data):
    from asdcore.labels.bands import BandStore, BearingStore

    bearings = BearingStore.open(tiny_data, "bearing")
    saved = bearings.save("drive end", geometry={"n_elements": 9, "ball_diameter": 0.3126,
                                                 "pitch_diameter": 1.537,
                                                 "contact_angle_deg": 0.0}, shaft_hz=29.95)
    assert saved["multipliers"]["BPFO"] == pytest.approx(3.5848, rel=1e-3)
    bearings.save("fan end", multipliers={"BPFO": 3.053, "BPFI": 4.9469})
    BandStore.open(tiny_data, "bearing").save("resonance", (2500, 3500))
    again = BearingStore.open(tiny_data, "bearing").bearings()
    assert list(again) == ["drive end", "fan end"] and again["drive end"] == saved
    assert again["fan end"]["geometry"] is None and again["fan end"]["shaft_hz"] is None
    assert BandStore.open(tiny_data, "bearing").bands() == {"resonance": (2500.0, 3500.0)}
    bearings.delete("fan end")
    assert list(bearings.bearings()) == ["drive end"]
    with pytest.raises(ASDError, match="BPFO multiplier -1"):
        bearings.save("bad", multipliers={"BPFO": -1})
    with pytest.raises(ASDError, match="Unknown bearing lines"):
        bearings.save("bad", multipliers={"BPFX": 3.0})
    with pytest.raises(ASDError, match="geometry or its fault-frequency multipliers"):
        bearings.save("bad")
    assert list(bearings.bearings()) == ["drive end"]


def line_spectrum(lines, df=0.25, top=400.0, weak=()):
    """A LineSpectrum with unit-threshold lines of height 3 at ``lines`` (Hz) and of height 1
    (barely lines) at ``weak``."""
    from asdcore.labels.envelope import LineSpectrum

    heights = np.zeros(int(top / df))
    for f in lines:
        heights[int(round(f / df))] = 3.0
    for f in weak:
        heights[int(round(f / df))] = 1.0
    return LineSpectrum(heights.astype(np.float32), df)


def test_a_straggler_at_a_subharmonic_joins_its_group_and_equal_groups_stay():
    from asdcore.labels.envelope import consistent_families

    family = [50.0, 100.0, 150.0]
    spectra = [line_spectrum(family)] * 10 + [line_spectrum(family)]
    estimates = np.array([50.0] * 10 + [25.0])  # the last clip's estimate: half its rate
    found, seen = consistent_families(estimates, spectra, 5.0)
    assert found == pytest.approx([50.0] * 11) and seen[-1] == (1, 2, 3)
    # two speeds an octave apart, as many clips each: nothing moves
    spectra = [line_spectrum([25.0, 50.0, 75.0])] * 5 + [line_spectrum(family)] * 5
    estimates = np.array([25.0] * 5 + [50.0] * 5)
    found, _ = consistent_families(estimates, spectra, 5.0)
    assert found == pytest.approx(estimates)


def test_a_group_showing_only_weak_lines_between_another_groups_joins_it():
    from asdcore.labels.envelope import consistent_families

    # one speed: 10 clips read 50 Hz; 8 read 25 Hz because they show weak lines at 25 and 75
    # Hz beside the same strong ones (plant seed-2 blower, bench/RESULTS.md)
    strong = [50.0, 100.0, 150.0, 200.0]
    spectra = [line_spectrum(strong)] * 10 + [line_spectrum(strong, weak=[25.0, 75.0])] * 8
    estimates = np.array([50.0] * 10 + [25.0] * 8)
    found, seen = consistent_families(estimates, spectra, 5.0)
    assert found == pytest.approx([50.0] * 18) and seen[-1] == (1, 2, 3, 4)
    # the same lines at equal strength: a speed of their own at 25 Hz, which stays
    spectra[10:] = [line_spectrum([25.0, 50.0, 75.0, 100.0, 125.0, 150.0])] * 8
    found, _ = consistent_families(estimates, spectra, 5.0)
    assert found == pytest.approx(estimates)
    # two such clips beside 16 are stragglers: the straggler step decides, and their own lines
    # at harmonic 2 (50 Hz) fall on the common group, so they join it there too
    spectra = [line_spectrum(strong)] * 16 + [line_spectrum(strong, weak=[25.0, 75.0])] * 2
    found, _ = consistent_families(np.array([50.0] * 16 + [25.0] * 2), spectra, 5.0)
    assert found == pytest.approx([50.0] * 18)
