"""The seed system against the baselines on the demo preset, with ablations, on CPU.

For each seed (a different demo dataset and initialisation, as in bench_baselines.py):

- training-free baseline (log-mel statistics + each embedding scorer) and the official AE
  baseline (MSE and Mahalanobis; ``--ae-epochs`` instead of the official 100, CPU time);
- the seed system (``seresnet18`` with its CPU defaults) scored with every embedding scorer;
  its full pipeline (audio, training, embedding, scoring, evaluation) is timed, and training
  runs in a child process so its peak memory (max RSS) and clips/s are its own.

Then the ablations (``--ablation-seeds``): without mixup, StatEx, noise mixing (clean + noise
simulation and noise augmentation both off), and with FeatEx (off by default), each against the
default system trained on the same seed. ``--part main|ablations|all`` runs one half (two
1-thread processes in parallel use a shared 2-core machine better than one 2-thread process).
Figures are appended to bench/RESULTS.md after each half, so a cut-short run keeps what
finished.

    python bench/bench_seed.py [--part all] [--seeds 0 1 2] [--ablation-seeds 0]
                               [--ae-epochs 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from asdcore import pipeline, scoring  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_baselines import AE_BACKENDS, STATS_BACKENDS, demo_dataset, table, train_and_score  # noqa: E402

SEED_BACKENDS = tuple(scoring.SCORERS)
ABLATIONS = {
    "without mixup": {"mixup": False},
    "without StatEx": {"statex": False},
    "with FeatEx (the recipe's; off by default since issue 16)": {"featex": True},
    "without noise mixing": {"noise_mixing": False, "noise_augment": False},
}


def train_seed_child(data: Path, name: str, model_config: dict, device: str = "cpu",
                     label_sets: dict[str, dict[str, str]] | None = None) -> dict:
    """Train a seed-model run in a child process; its wall time, peak RSS and the run path.
    ``label_sets``: pseudo-attributes of attribute-less machines (`pipeline.queue_run`)."""
    config = pipeline.TrainConfig(data=str(data), model="seresnet18", device=device,
                                  model_config=model_config)
    run = pipeline.queue_run(name, config, overwrite=True, label_sets=label_sets)
    code = ("import sys; from asdcore import pipeline, runs; run = runs.Run(__import__('pathlib')"
            ".Path(sys.argv[1]));\nwith run.working(): pipeline.train_run(run)")
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code, str(run.path)],
                             cwd=Path(__file__).resolve().parents[1])
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"training {name} failed: {run.log_tail()}")
    return {"run": run, "train_s": time.perf_counter() - start,
            "peak_rss_gib": usage.ru_maxrss / 2**20}


def seed_system(data: Path, name: str, model_config: dict, device: str = "cpu") -> dict:
    trained = train_seed_child(data, name, model_config, device)
    run = trained["run"]
    scores, score_s = {}, {}
    for backend in SEED_BACKENDS:
        start = time.perf_counter()
        scores[backend] = pipeline.score_run(run, backend=backend)["summary"]
        score_s[backend] = time.perf_counter() - start
    meta = json.loads((run.weights_dir / pipeline.JOINT_WEIGHTS / "model.json").read_text())
    return {**trained, "scores": scores, "score_s": score_s,
            "clips_per_second": float(np.mean(meta["history"]["clips_per_second"])),
            "n_classes": len(meta["classes"]), "width": meta["config"]["width"],
            "setup": meta["history"].get("setup", {})}


def record(rows: dict[str, list[dict]], system: dict, label: str) -> str:
    """Add ``system``'s score summaries to ``rows`` as "<label> + <backend>"; returns a one-line
    report of its official scores for the console."""
    for backend, summary in system["scores"].items():
        rows.setdefault(f"{label} + {backend}", []).append(summary)
    return ", ".join(f"{b} {s['official_score']:.4f}" for b, s in system["scores"].items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ablation-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--ae-epochs", type=int, default=20,
                        help="the official 100 epochs take hours on 2 CPU cores")
    parser.add_argument("--epochs", type=int, default=None, help="seed model epochs "
                        "(default: the model's own, 10)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads for training (0: torch's choice); 1 avoids "
                        "oversubscription on a shared machine")
    parser.add_argument("--part", choices=["main", "ablations", "all"], default="all")
    args = parser.parse_args()
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-bench-seed-"))
    if args.threads > 0:  # the AE trains in this process: no oversubscribed OpenMP threads
        torch.set_num_threads(args.threads)
    base_config = {"num_threads": args.threads}
    if args.epochs is not None:
        base_config["epochs"] = args.epochs
    seed_runs = []
    if args.part in ("main", "all"):
        seed_runs = compare(args, base_config)
    if args.part in ("ablations", "all") and args.ablation_seeds:
        ablate(args, base_config, seed_runs)


def compare(args, base_config: dict) -> list[dict]:
    rows: dict[str, list[dict]] = {}
    seed_runs = []
    for seed in args.seeds:
        data = demo_dataset(seed)
        stats = train_and_score(data, f"seedbench-stats-{seed}", "logmel-stats", STATS_BACKENDS)
        ae = train_and_score(data, f"seedbench-ae-{seed}", "ae", AE_BACKENDS,
                             epochs=args.ae_epochs, seed=seed)
        system = seed_system(data, f"seedbench-seed-{seed}", {**base_config, "seed": seed})
        seed_runs.append(system)
        for backend, summary in stats["scores"].items():
            rows.setdefault(f"log-mel statistics + {backend}", []).append(summary)
        for backend, summary in ae["scores"].items():
            rows.setdefault(f"AE ({args.ae_epochs} epochs), {backend}", []).append(summary)
        for backend, summary in system["scores"].items():
            rows.setdefault(f"seed system (SE-ResNet18) + {backend}", []).append(summary)
        print(f"seed {seed}: done, seed system {system['scores']}", flush=True)

    def best(prefix):
        candidates = {k: np.mean([s["official_score"] for s in v])
                      for k, v in rows.items() if k.startswith(prefix)}
        return max(candidates.items(), key=lambda kv: kv[1])

    best_ae, best_seed = best("AE"), best("seed system")
    first_score = {k: np.mean([r["score_s"][k] for r in seed_runs]) for k in SEED_BACKENDS}
    pipeline_s = [r["train_s"] + sum(r["score_s"].values()) for r in seed_runs]
    body = (
        f"Demo preset (7 machines, ~200 train clips each), dataset seeds {args.seeds}, each also "
        f"the model seed. AE trained for {args.ae_epochs} epochs instead of the official 100 "
        f"(CPU time). Seed system: CPU defaults (width {seed_runs[0]['width']}, "
        f"{seed_runs[0]['n_classes']} classes on seed {args.seeds[0]}, 10 epochs) with "
        f"{base_config}.\n\n" + table(rows) + "\n\n"
        f"Best AE mode: {best_ae[0]} {best_ae[1]:.4f}; best seed-system backend: {best_seed[0]} "
        f"{best_seed[1]:.4f}; difference {best_seed[1] - best_ae[1]:+.4f} (goal: >= +0.05).\n\n"
        "Seed system on CPU (2 shared cores, other engineers' jobs running): training "
        f"{np.mean([r['train_s'] for r in seed_runs]):.0f} s per seed (audio loading included), "
        f"{np.mean([r['clips_per_second'] for r in seed_runs]):.1f} training clips/s, peak RSS "
        f"{max(r['peak_rss_gib'] for r in seed_runs):.2f} GiB; scoring "
        + ", ".join(f"{k} {v:.0f} s" for k, v in first_score.items())
        + " (the first backend embeds every clip, the others reuse the saved embeddings). "
        f"Full pipeline (train + score with all 4 backends + evaluate): "
        f"{np.mean(pipeline_s) / 60:.1f} min mean, {max(pipeline_s) / 60:.1f} min max "
        "(goal: < 10 min). GPU figures: pending (no GPU in this session).")
    print(body, flush=True)
    results.append("bench_seed.py: seed system vs baselines on the demo preset", body)
    return seed_runs


def ablate(args, base_config: dict, seed_runs: list[dict]) -> None:
    ablation_rows: dict[str, list[dict]] = {}
    for seed in args.ablation_seeds:
        data = demo_dataset(seed)
        reference = seed_runs[args.seeds.index(seed)] if seed_runs and seed in args.seeds else \
            seed_system(data, f"seedbench-ref-{seed}", {**base_config, "seed": seed})
        for backend, summary in reference["scores"].items():
            ablation_rows.setdefault(f"seed system + {backend}", []).append(summary)
        for label, change in ABLATIONS.items():
            system = seed_system(data, f"seedbench-abl-{seed}-{label.split()[-1]}",
                                 {**base_config, "seed": seed, **change})
            for backend in SEED_BACKENDS:
                ablation_rows.setdefault(f"{label} + {backend}", []).append(
                    system["scores"][backend])
            print(f"ablation {label} seed {seed}: {system['scores']}", flush=True)
    print(table(ablation_rows), flush=True)
    results.append("bench_seed.py: seed system ablations on the demo preset",
                   f"Dataset and model seeds {args.ablation_seeds}; every ablation turns one "
                   f"component off in the CPU default configuration with {base_config}; KNN "
                   "variants of the full system in the first rows.\n\n" + table(ablation_rows))


if __name__ == "__main__":
    main()
