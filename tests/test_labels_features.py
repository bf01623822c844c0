"""Clustering features that hold on speed-like hidden attributes (issue 17): line patterns of the
envelope and of the spectrum, and the spectral shape, blocks weighed alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from harmonic_family_data import write_machine
from sklearn.metrics import adjusted_rand_score

from asdcore import cli, dataset
from asdcore.labels import FEATURES, cluster_machine, readable_features
from asdcore.labels.clustering import (
    DEFAULT_FEATURE,
    MODULATION_GRID,
    SHAPE_GRID,
    SPECTRUM_LINE_GRID,
    _pool,
)

SR = 16000


@pytest.fixture(scope="module")
def pump(tmp_path_factory):
    root = tmp_path_factory.mktemp("pump")
    truth = write_machine(root)  # 4 speeds x 9 clips, each clip's strongest member differs
    return dataset.scan(root), truth


def ari(labels, truth):
    files = sorted(labels)
    return adjusted_rand_score([truth[f] for f in files], [labels[f] for f in files])


def test_pump_speeds_cluster_by_where_the_envelope_lines_are(pump):
    # the default log spectrum cannot see these speeds (bench/RESULTS.md: ARI about 0)
    ds, truth = pump
    result = cluster_machine(ds, "pump", feature="modulation")  # k chosen by the rule
    assert ari(result.labels, truth) >= 0.8
    assert result.params["feature"] == "modulation"
    assert result.params["band"] is not None  # the kurtogram's band, recorded


def write_clips(folder, clips):
    folder.mkdir(parents=True)
    rows = []
    for i, y in enumerate(clips):
        path = folder / f"clip_{i:02d}.wav"
        sf.write(path, y.astype(np.float32), SR)
        rows.append({"path": str(path), "file": path.name, "machine": "m"})
    return pd.DataFrame(rows)


def harmonic_clip(f0, rng, tilt, seconds=2.0):
    """Harmonics of ``f0`` over noise, the whole coloured by a first-order ``tilt`` filter."""
    t = np.arange(int(seconds * SR)) / SR
    y = sum(np.sin(2 * np.pi * n * f0 * t + rng.uniform(0, 6)) / n for n in range(1, 8))
    y = y + 0.3 * rng.standard_normal(len(t))
    return np.convolve(y, [1.0, tilt], mode="same")


def test_blocks_weigh_alike_and_line_patterns_ignore_colouring(tmp_path):
    rng = np.random.default_rng(0)
    clips = write_clips(tmp_path / "m", [harmonic_clip(f0, rng, tilt)
                                         for f0 in (200.0, 260.0) for tilt in (-0.9, 0.9, 0.0)])
    vectors, kept, skipped = readable_features(clips, "shape+lines")
    assert not skipped and len(kept) == 6
    shape, lines, modulation = np.split(
        vectors, np.cumsum([len(SHAPE_GRID), len(SPECTRUM_LINE_GRID)]), axis=1)
    assert modulation.shape[1] == len(MODULATION_GRID)
    for block in (shape, lines, modulation):
        assert np.mean((block ** 2).sum(axis=1)) == pytest.approx(1.0)
    # the same harmonics under a strong tilt either way stay closer than another speed's
    same = np.linalg.norm(lines[0] - lines[1])
    other = min(np.linalg.norm(lines[i] - lines[j]) for i in range(3) for j in range(3, 6))
    assert same < 0.5 * other
    spectrum, _, _ = readable_features(clips, "spectrum")
    assert np.linalg.norm(spectrum[0] - spectrum[1]) > np.linalg.norm(spectrum[0] - spectrum[3])


def test_the_level_block_holds_the_gain_the_shape_drops(tmp_path):
    """`shape+lines+level` is `shape+lines` and one block more, each clip's mean band level: a
    clip and a quieter copy have the same shape and lines and differ only in that block."""
    rng = np.random.default_rng(1)
    loud = [harmonic_clip(f0, rng, 0.0) for f0 in (200.0, 200.0, 260.0)]
    loud = [0.9 * y / np.abs(y).max() for y in loud]  # no clipping in the 16-bit files
    clips = write_clips(tmp_path / "m", loud + [0.1 * y for y in loud])
    with_level, _, _ = readable_features(clips, "shape+lines+level")
    without, _, _ = readable_features(clips, "shape+lines")
    assert with_level.shape[1] == without.shape[1] + 1
    level = with_level[:, -1]
    assert np.mean(level ** 2) == pytest.approx(1.0)  # weighed like every other block
    assert level[:3].min() > level[3:].max()  # 20 dB quieter copies
    gap = np.abs(with_level[:3] - with_level[3:])
    assert gap[:, :-1].max() < 0.05 < gap[:, -1].min()


def test_pool_takes_the_maximum_or_mean_and_fills_cells_between_bins():
    freqs = np.arange(0.0, 100.0, 1.0)
    values = np.zeros_like(freqs)
    values[50] = 7.0
    grid = np.array([10.0, 10.25, 10.5, 49.0, 50.5, 80.0])
    pooled = _pool(values, freqs, grid, "max")
    assert pooled[4] == 7.0 and pooled[3] == 0.0  # 50 Hz lies in the cell around 50.5 Hz
    assert pooled[1] == 0.0  # no bin in that narrow cell: interpolated
    assert _pool(np.arange(100.0), freqs, np.array([20.0, 40.0, 60.0]), "mean")[1] == \
        pytest.approx(40.0, abs=0.6)


def test_the_command_line_offers_every_feature_and_the_default():
    parser = cli.build_parser()
    label = next(a for a in parser._subparsers._group_actions[0].choices["label"]._actions
                 if getattr(a, "choices", None) and "cluster" in a.choices)
    feature = next(a for a in label.choices["cluster"]._actions if a.dest == "feature")
    assert set(feature.choices) == set(FEATURES) and feature.default == DEFAULT_FEATURE
