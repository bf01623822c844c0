"""Training the seed model on the tiny demo: loss, determinism, cancel, resume, pipeline, DDP."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asdcore import dataset, pipeline, runs
from asdcore.errors import ASDError, Cancelled
from asdcore.models.seresnet import FULL_WIDTH, SEResNetConfig, SEResNetEmbedder

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(width=4, embedding_dim=16, subclusters=4, batch_size=16, device="cpu", num_threads=1)


@pytest.fixture(scope="module")
def tiny_clips(tiny_data):
    clips = dataset.scan(tiny_data).clips
    return clips[clips["split"] == "train"], clips[clips["split"] == "supplemental"]


def _fit(tiny_clips, checkpoint=None, cancel=None, progress=None, **settings):
    embedder = SEResNetEmbedder(SEResNetConfig(**{**TINY, **settings}))
    return embedder.fit_clips(*tiny_clips, cancel=cancel, checkpoint=checkpoint,
                              progress=progress)


def _weights(embedder):
    return {k: v.clone() for k, v in embedder.model_.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_classes_machines_and_clip_length(tiny_clips):
    embedder = _fit(tiny_clips, epochs=1, seconds=None)
    train, supplemental = tiny_clips
    assert embedder.machines_ == sorted(train["machine"].unique())
    assert embedder.seconds_ == pytest.approx(2.4)  # the longest machine (ToyCar), under 10 s
    assert SEResNetConfig().seconds == 10.0  # by default every clip is repeated to 10 s
    # Attribute-less machines contribute machine x section x domain classes.
    assert "slider/00/source/" in embedder.classes_
    assert any(c.startswith("fan/00/target/") for c in embedder.classes_)
    embeddings = embedder.embed_clips(train["path"].tolist()[:5])
    assert embeddings.shape == (5, 32) and np.isfinite(embeddings).all()


@pytest.mark.slow
def test_loss_decreases(tiny_clips):
    messages = []
    embedder = _fit(tiny_clips, epochs=6, mixup=False, statex=False, featex=False,
                    noise_augment=False, lr=3e-3,
                    progress=lambda done, total, message="": messages.append(message))
    assert "training on cpu" in messages  # where it trains is the first training message
    assert embedder.history_["setup"] == {"device": "cpu", "processes": 1, "backend": None,
                                          "data_on_device": False}
    losses = embedder.history_["loss"]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(tiny_clips):
    first = _weights(_fit(tiny_clips, epochs=1, seed=3))
    assert _same(first, _weights(_fit(tiny_clips, epochs=1, seed=3)))
    assert not _same(first, _weights(_fit(tiny_clips, epochs=1, seed=4)))


@pytest.mark.slow
def test_cancel_then_resume_gives_the_uninterrupted_weights(tiny_clips, tmp_path):
    uninterrupted = _weights(_fit(tiny_clips, epochs=2, seed=1))
    checkpoint = tmp_path / "checkpoint.pt"
    calls = []

    def cancel_mid_second_epoch():
        calls.append(1)  # 2 checks while loading the audio, then one per step (7 per epoch)
        return len(calls) >= 12

    with pytest.raises(Cancelled):
        _fit(tiny_clips, checkpoint=checkpoint, cancel=cancel_mid_second_epoch, epochs=2, seed=1)
    saved = torch.load(checkpoint, weights_only=True)
    assert (saved["epoch"], saved["step"]) == (1, 2)
    resumed = _fit(tiny_clips, checkpoint=checkpoint, epochs=2, seed=1)
    assert _same(uninterrupted, _weights(resumed))
    assert len(resumed.history_["loss"]) == 2


def test_the_final_checkpoint_keeps_no_optimizer_state_and_resuming_it_does_nothing(
        tiny_clips, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    trained = _fit(tiny_clips, checkpoint=checkpoint, epochs=1, seed=2)
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 1 and saved["optimizer"] is None  # Adam's moments left out
    again = _fit(tiny_clips, checkpoint=checkpoint, epochs=1, seed=2)  # a finished run resumed
    assert _same(_weights(trained), _weights(again))
    assert again.history_["loss"] == trained.history_["loss"]
    with pytest.raises(ASDError, match="finished training"):  # no optimizer to go on with
        _fit(tiny_clips, checkpoint=checkpoint, epochs=2, seed=2)


def test_pseudo_labels_become_classes(tiny_clips):
    slider = [file for part in tiny_clips for file in part[part["machine"] == "slider"]["file"]]
    labels = {file: str(i % 2) for i, file in enumerate(slider)}  # train and supplemental
    embedder = SEResNetEmbedder(SEResNetConfig(**TINY, epochs=1))
    embedder.fit_clips(*tiny_clips, pseudo_labels=labels)
    assert {"slider/00/source/label=0", "slider/00/source/label=1"} <= set(embedder.classes_)
    assert "slider/00/source/" not in embedder.classes_


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "asdcore", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


@pytest.mark.slow
def test_cli_train_score_with_labels_resume(tiny_data, tmp_path):
    label_csv = tmp_path / "slider.csv"
    clips = dataset.scan(tiny_data).clips
    slider = clips[(clips["machine"] == "slider") & (clips["split"] == "train")]
    label_csv.write_text("file,label\n" + "".join(f"{f},{i % 2}\n"
                                                   for i, f in enumerate(slider["file"])))
    run_dir = tmp_path / "seed-run"
    made = cli("train", tiny_data, "--run", run_dir, "--model", "seresnet18", "--epochs", "1",
               "--device", "cpu", "--labels", label_csv)
    assert made.returncode == 0, made.stderr
    run = runs.open_run(run_dir)
    assert run.status()["state"] == "done"
    assert run.config()["labels"] == [str(label_csv)]
    meta = json.loads((run.weights_dir / "joint" / "model.json").read_text())
    assert "slider/00/source/label=1" in meta["classes"]
    assert meta["config"]["width"] == FULL_WIDTH == 64  # the seed's width, on CPU too
    assert (run.path / "checkpoint.pt").is_file()

    scored = cli("score", run_dir, "--backend", "knn")
    assert scored.returncode == 0, scored.stderr
    official = float(scored.stdout.split("official_score")[-1])
    assert 0.0 < official < 1.0
    saved = np.load(run.embeddings_dir / "slider.npz")
    assert any("/supplemental/" in c for c in saved["clip_id"])  # supplemental embedded too
    assert saved["embedding"].shape[1] == 256

    # Resuming a finished run continues from its last checkpoint: nothing left to do.
    resumed = cli("train", tiny_data, "--run", run_dir, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    bad = cli("train", tiny_data, "--run", tmp_path / "x", "--model", "seresnet18",
              "--labels", tmp_path / "missing.csv")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_pipeline_backends(tiny_data):
    config = pipeline.TrainConfig(data=str(tiny_data), model="seresnet18", device="cpu",
                                  model_config={**TINY, "epochs": 1})
    run = pipeline.queue_run("seed-pipeline", config, overwrite=True)
    with run.working():
        pipeline.train_run(run)
    assert pipeline.backends_for("seresnet18")[0] == "knn-dg"  # the recipe's
    for backend in pipeline.backends_for("seresnet18"):
        result = pipeline.score_run(run, backend=backend)
        assert len(result["table"]) == 7 and result["official_score"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("processes, device", [
    (2, "cpu"),
    (1, "cpu"),  # one process under torchrun still takes the DDP path
    pytest.param(1, "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                     reason="needs CUDA")),
])
def test_torchrun_ddp(tiny_data, tmp_path, processes, device):
    """torchrun: rank 0 alone writes the run, the model trains under DDP (gloo on CPU, NCCL on
    CUDA), and scoring works after."""
    run_dir = tmp_path / "ddp-run"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         str(processes), "-m", "asdcore", "train", str(tiny_data), "--run-name", str(run_dir),
         "--model", "seresnet18", "--epochs", "1", "--device", device],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    run = runs.open_run(run_dir)
    assert run.status()["state"] == "done"
    assert result.stdout.count(str(run_dir)) == 1  # one rank reported
    meta = json.loads((run.weights_dir / "joint" / "model.json").read_text())
    assert len(meta["history"]["loss"]) == 1
    assert meta["history"]["setup"] == {"device": device, "processes": processes,
                                        "backend": "gloo" if device == "cpu" else "nccl",
                                        "data_on_device": device == "cuda"}
    assert sorted(p.name for p in run.path.iterdir() if not p.name.startswith(".")) == [
        "checkpoint.pt", "config.json", "progress.jsonl", "status.json", "weights"]
    scored = pipeline.score_run(run, backend="knn-dg")
    assert scored["official_score"] is not None


def test_training_labels_snapshot_the_store_and_csvs_override(tiny_data, tmp_path):
    import shutil

    from asdcore.labels import LabelStore

    data = tmp_path / "data"
    shutil.copytree(tiny_data / "dev_data" / "raw" / "slider", data / "slider")
    files = sorted(f"slider/train/{p.name}" for p in (data / "slider" / "train").glob("*.wav"))
    store = LabelStore.open(data, "slider")
    store.apply({f: "stored" for f in files}, source="manual")
    csv = tmp_path / "labels.csv"
    csv.write_text(f"file,label\n{files[0]},fromcsv\n")
    config = pipeline.TrainConfig(data=str(data), model="seresnet18", labels=[str(csv)])
    run = pipeline.queue_run("labelled", config,
                             label_sets=pipeline.stored_labels(str(data), ["slider"]))
    store.apply({files[1]: "edited-later"}, source="manual")  # the run keeps what it started with
    labels = pipeline.training_labels(pipeline.TrainConfig.from_dict(run.config()))
    assert labels[files[0]] == "fromcsv"  # the user's CSVs override the store's copy
    assert all(labels[f] == "stored" for f in files[1:])
    without_store = pipeline.training_labels(config)
    assert without_store == {files[0]: "fromcsv"}




@pytest.mark.parametrize("before", [False, True])
def test_cudnn_autotune_and_threads_leave_the_global_settings_as_they_were(before):
    """Training switches cuDNN autotuning on for CUDA and sets its thread count; a library
    caller must find both as it left them."""
    from asdcore.device import cudnn_autotune, torch_threads

    saved = torch.backends.cudnn.benchmark, torch.get_num_threads()
    torch.backends.cudnn.benchmark = before
    try:
        with torch_threads(1), cudnn_autotune(True):
            assert torch.backends.cudnn.benchmark and torch.get_num_threads() == 1
        with cudnn_autotune(False):
            assert torch.backends.cudnn.benchmark == before
        assert (torch.backends.cudnn.benchmark, torch.get_num_threads()) == (before, saved[1])
    finally:
        torch.backends.cudnn.benchmark = saved[0]


@pytest.mark.slow
def test_a_run_resumes_at_the_width_it_started_with(tiny_clips, tmp_path, monkeypatch):
    """An unset width (runs queued before 2026-12-08) depends on the device, and the default
    has changed between versions: a run checkpointed at one width resumes at it, where it would
    otherwise fail to load."""
    from asdcore.models import seresnet

    checkpoint = tmp_path / "checkpoint.pt"
    monkeypatch.setattr(seresnet, "LEGACY_CPU_WIDTH", 4)
    with pytest.raises(Cancelled):
        calls = []
        _fit(tiny_clips, checkpoint=checkpoint, epochs=2, width=None,
             cancel=lambda: calls.append(1) or len(calls) >= 12)
    monkeypatch.setattr(seresnet, "LEGACY_CPU_WIDTH", 8)
    resumed = _fit(tiny_clips, checkpoint=checkpoint, epochs=2, width=None)
    assert resumed.config.width == 4 and len(resumed.history_["loss"]) == 2
    assert _fit(tiny_clips, epochs=1, width=None).config.width == 8  # a new run


def test_target_repeats_bring_each_target_clip_that_many_times_per_epoch(tiny_clips):
    train, supplemental = tiny_clips
    embedder = SEResNetEmbedder(SEResNetConfig(**TINY, target_repeats=3))
    data = embedder.training_data(train, supplemental)
    rows = data.epoch_rows()
    counts = np.bincount(rows.numpy(), minlength=len(data))
    target = np.zeros(len(data), dtype=bool)
    target[:len(train)] = (train["domain"] == "target").to_numpy()
    assert target.any() and (counts[target] == 3).all() and (counts[~target] == 1).all()
    progress = []
    trained = _fit(tiny_clips, epochs=1, target_repeats=3,
                   progress=lambda done, total, message="", **_: progress.append(total))
    assert progress[-1] == -(-len(rows) // TINY["batch_size"])  # the steps of a longer epoch
    assert SEResNetConfig().target_repeats == 1 and trained.config.target_repeats == 3
