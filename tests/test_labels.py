"""Pseudo-labels on the tiny synthetic dataset: clustering, envelope labels, quality, the
label commands."""

from __future__ import annotations

import numpy as np
import pytest

from asdcore import cli, dataset, dsp, runs
from asdcore.errors import ASDError
from asdcore.labels import (
    LabelStore,
    cluster_machine,
    cluster_points,
    envelope_labels,
    frequency_groups,
    label_quality,
    machine_clips,
    read_label_csv,
    reduce,
    truth_of,
)
from asdcore.labels.envelope import group_names


@pytest.fixture(scope="module")
def tiny(tiny_data):
    return dataset.scan(tiny_data)


def blobs(k=3, per=10, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (k, 4))
    points = np.concatenate([c + rng.normal(0, 0.3, (per, 4)) for c in centres])
    return points, np.repeat(np.arange(k), per)


@pytest.mark.parametrize("method", ["gmm", "kmeans", "ward"])
def test_cluster_points_finds_separated_blobs_and_their_number(method):
    points, truth = blobs()
    found, info = cluster_points(points, method)
    assert info["k"] == 3 and info["criterion"] == "stability+silhouette"
    assert sorted(info["sizes"]) == [10, 10, 10] and info["silhouette"] > 0.8
    assert len(info["scores"]) >= 2 and info["stability"][3] == pytest.approx(1.0)
    # a relabelling of the truth
    assert len({(a, b) for a, b in zip(found, truth, strict=True)}) == 3
    given, info = cluster_points(points, method, k=2)
    assert info["k"] == 2 and info["criterion"] == "given" and len(set(given)) == 2


def test_one_loud_dimension_does_not_decide_alone():
    # two classes apart in three quiet dimensions; a loud fourth one is noise a hundred times
    # larger: raw PCA follows the noise, standardised features the classes
    rng = np.random.default_rng(1)
    truth = np.repeat([0, 1], 30)
    quiet = truth[:, None] * 1.0 + rng.normal(0, 0.15, (60, 3))
    points = np.column_stack([quiet, rng.normal(0, 100, 60)])
    found, info = cluster_points(reduce(points, n_components=2))
    assert info["k"] == 2
    assert len({(a, b) for a, b in zip(found, truth, strict=True)}) == 2


def test_one_blob_is_one_label():
    # no k of 2 or more cuts a single blob the same way on every subsample
    blob = np.random.default_rng(2).normal(0, 1, (60, 3))
    found, info = cluster_points(blob)
    assert info["k"] == 1 and set(found) == {0}
    assert all(s < 0.8 for s in info["stability"].values())


def test_cluster_points_refuses_bad_requests():
    points, _ = blobs()
    with pytest.raises(ASDError, match="Unknown clustering method"):
        cluster_points(points, "dbscan")
    with pytest.raises(ASDError, match="Cannot make 40 clusters"):
        cluster_points(points, "kmeans", k=40)
    with pytest.raises(ASDError, match="positive whole number"):
        cluster_points(points, "kmeans", k=0)
    assert reduce(points, n_components=8).shape == (30, 4)  # never more than the input has
    with pytest.raises(ASDError, match="Unknown reduction"):
        reduce(points, "tsne")
    try:
        import umap  # noqa: F401  (optional; its first use compiles for ~30 s, so not run here)
    except ImportError:
        with pytest.raises(ASDError, match="umap-learn"):
            reduce(points, "umap")


def test_cluster_machine_recovers_hidden_attributes_on_tiny_data(tiny):
    # 14 clips, two of them target clips of their own classes: no stable k of 2 or more
    # keeps every label at 3 clips, so "auto" says one label (and why); k given recovers them
    auto = cluster_machine(tiny, "bearing", feature="spectrum", method="ward", per_domain=False)
    tried = auto.groups[0]
    assert tried["k"] == 1 and all(size < 3 for size in tried["smallest"].values())
    result = cluster_machine(tiny, "bearing", feature="spectrum", method="ward", k=6,
                             per_domain=False)
    clips = machine_clips(tiny, "bearing")
    assert set(result.labels) == set(clips["file"])  # every train clip, keyed by file
    group = result.groups[0]
    assert group["domain"] == "all" and sum(group["sizes"]) == len(clips)
    assert group["sizes"] == sorted(group["sizes"], reverse=True)
    assert set(result.labels.values()) == {f"c{i}" for i in range(group["k"])}
    assert label_quality(result.labels, clips)["ari"] > 0.8
    assert result.params["feature"] == "spectrum" and result.params["method"] == "ward"


def test_cluster_machine_per_domain_and_other_features(tiny):
    result = cluster_machine(tiny, "ToyTrain", feature="logmel", method="kmeans", k=3,
                             per_domain=True)
    assert [g["domain"] for g in result.groups] == ["source", "target"]
    assert [g["k"] for g in result.groups] == [3, 2]  # k is capped by the 2 target clips
    assert {label.split("-")[0] for label in result.labels.values()} == {"source", "target"}
    envelope = cluster_machine(tiny, "bearing", feature="envelope", method="gmm", k=4,
                               per_domain=False)
    assert envelope.params["band"] is not None  # the kurtogram's suggestion is recorded
    assert len(set(envelope.labels.values())) == 4


def test_embedding_feature_uses_a_runs_embeddings(tiny):
    clips = machine_clips(tiny, "slider")
    run = runs.create_run("label-embeddings", {"model": "test"})
    run.embeddings_dir.mkdir(parents=True, exist_ok=True)
    vectors, truth = blobs(k=2, per=len(clips) // 2 + 1)
    # stored under longer clip ids (another dataset level) and in another order
    ids = np.array([f"dev_data/raw/{f}" for f in clips["file"]][::-1])
    np.savez(run.embeddings_dir / "slider.npz", clip_id=ids, embedding=vectors[:len(clips)][::-1])
    result = cluster_machine(tiny, "slider", feature="embedding", method="kmeans", k=2,
                             per_domain=False, run="label-embeddings")
    found = [result.labels[f] for f in clips["file"]]
    assert len({(a, b) for a, b in zip(found, truth[:len(clips)], strict=True)}) == 2
    with pytest.raises(ASDError, match="no embeddings for bearing"):
        cluster_machine(tiny, "bearing", feature="embedding", run="label-embeddings")
    with pytest.raises(ASDError, match="needs a trained run"):
        cluster_machine(tiny, "bearing", feature="embedding")


def test_unknown_machine_and_feature_are_refused(tiny):
    with pytest.raises(ASDError, match="no machine 'lathe'"):
        cluster_machine(tiny, "lathe")
    with pytest.raises(ASDError, match="Unknown feature"):
        cluster_machine(tiny, "bearing", feature="mfcc")


def test_envelope_labels_recover_bearing_speed_classes(tiny):
    result = envelope_labels(tiny, "bearing")
    clips = machine_clips(tiny, "bearing")
    assert result.band in dsp.line_bands(16000)  # the suggestion: one of the candidate bands
    assert list(result.centres) == sorted(result.centres, key=result.centres.get)
    assert set(result.frequencies) == set(result.labels) == set(clips["file"])
    assert label_quality(result.labels, clips, attribute="vel")["ari"] >= 0.9
    given = envelope_labels(tiny, "bearing", band=(2500, 3500), k=2)
    assert given.k == 2 and given.band == (2500.0, 3500.0) and given.criterion == "given"
    with pytest.raises(ASDError, match="search range 250-5 Hz"):
        envelope_labels(tiny, "bearing", band=(2500, 3500), fmin=250.0, fmax=5.0)


def test_frequency_groups_are_ordered_and_named_distinctly():
    frequencies = np.array([120.0, 55.0, 55.4, 121.0, 54.7, 119.5])
    groups, criterion, scores = frequency_groups(frequencies)
    assert criterion == "bic" and groups.tolist() == [1, 0, 0, 1, 0, 1]
    assert frequency_groups(frequencies, k=2)[0].tolist() == groups.tolist()
    with pytest.raises(ASDError, match="Cannot make 9"):
        frequency_groups(frequencies, k=9)
    assert group_names([55.2, 82.0]) == ["cf55Hz", "cf82Hz"]
    assert group_names([7.6, 7.9]) == ["cf7.6Hz", "cf7.9Hz"]


def test_quality_uses_true_attributes_or_the_attributes_a_machine_has(tiny):
    bearing = machine_clips(tiny, "bearing")
    truth = truth_of(bearing)
    assert (truth != "").all() and truth.str.startswith("vel_").all()
    perfect = dict(truth.items())
    assert label_quality(perfect, bearing) == pytest.approx(
        {"ari": 1.0, "nmi": 1.0, "n_clips": len(bearing), "n_labels": truth.nunique(),
         "n_true": truth.nunique()})
    assert truth_of(bearing, "loc").isin(["A", "B"]).all()
    fan = machine_clips(tiny, "fan")
    assert label_quality(dict(truth_of(fan).items()), fan)["ari"] == 1.0
    assert label_quality({"elsewhere.wav": "c0"}, fan) is None


def test_label_commands_write_the_csv_and_the_store(tiny_data, tmp_path, capsys):
    out = tmp_path / "bearing.csv"
    assert cli.main(["label", "envelope", str(tiny_data), "--machine", "bearing",
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "band " in printed and "ARI" in printed and "change set 1" in printed
    written = read_label_csv(out)
    assert out.read_text().splitlines()[0] == "file,label,frequency_hz,harmonics"
    store = LabelStore.open(tiny_data, "bearing")
    assert store.labels() == written
    assert all("frequency_hz" in e["extra"] for e in store.entries().values())

    assert cli.main(["label", "cluster", str(tiny_data), "--machine", "bearing",
                     "--method", "ward", "--k", "4"]) == 0
    assert "change set 2" in capsys.readouterr().out
    assert store.history()[-1]["source"] == "cluster"
    # each domain clustered on its own by default; --no-per-domain clusters them together
    assert {label.split("-")[0] for label in store.labels().values()} == {"source", "target"}
    assert cli.main(["label", "cluster", str(tiny_data), "--machine", "bearing",
                     "--method", "ward", "--k", "2", "--no-per-domain"]) == 0
    assert set(store.labels().values()) == {"c0", "c1"}
    capsys.readouterr()
    assert cli.main(["label", "cluster", str(tiny_data), "--machine", "lathe"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
