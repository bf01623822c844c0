"""Official score of the comparison systems on a yardstick (default the demo preset), over
several seeds.

Systems: the training-free baseline (log-mel statistics embeddings + each embedding scorer)
and the official AE baseline (MSE and Mahalanobis modes). Each seed is a different demo
dataset (generated with that seed) and, for the AE, a different initialisation, so the spread
covers both (on the real fan yardstick a seed is a fold, `bench/yardsticks.py`). Runs live in
a temporary workspace; figures are appended to bench/RESULTS.md.

    python bench/bench_baselines.py [--yardstick demo] [--machines M ...] [--seeds 0 1 2]
                                    [--ae-epochs 20] [--systems stats ae] [--device auto]
                                    [--jobs 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from asdcore import pipeline, scoring  # noqa: E402
from asdcore.features import resolve_device  # noqa: E402
from bench import results  # noqa: E402
from bench.yardsticks import YARDSTICKS, dataset_for  # noqa: E402

STATS_BACKENDS = tuple(scoring.SCORERS)
AE_BACKENDS = ("mse", "mahalanobis")


def map_seeds(function, work: list[tuple], jobs: int) -> list:
    """``function(*item)`` for every item of ``work`` (one per seed), in ``jobs`` spawned
    processes at once when ``jobs`` > 1, else one after another in this process."""
    if jobs <= 1:
        return [function(*item) for item in work]
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=_exit_with_parent,
                             initargs=(os.getpid(),)) as pool:
        return list(pool.map(function, *zip(*work, strict=True)))


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit when the benchmark that started it is gone (killed), instead of
    training on for nobody on cores another benchmark is timed on."""
    def watch():
        while os.getppid() == parent:
            time.sleep(2.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def demo_dataset(seed: int) -> Path:
    """The demo preset for ``seed``, generated once into the cache."""
    return dataset_for("demo", seed)


def train_and_score(data: Path, name: str, model: str, backends, device: str = "auto",
                    **model_config) -> dict:
    config = pipeline.TrainConfig(data=str(data), model=model, device=device,
                                  model_config=model_config)
    run = pipeline.queue_run(name, config, overwrite=True)
    start = time.perf_counter()
    with run.working():
        pipeline.train_run(run)
    train_s = time.perf_counter() - start
    scores = {}
    for backend in backends:
        result = pipeline.score_run(run, backend=backend)
        scores[backend] = result["summary"]
    return {"train_s": train_s, "scores": scores}


def table(rows: dict[str, list[dict]]) -> str:
    """A markdown table: official score mean ± std over seeds, and mean harmonic means."""
    lines = ["| system | official (mean ± std) | per seed | AUC_s hmean | AUC_t hmean | "
             "pAUC hmean |", "|---|---|---|---|---|---|"]
    for system, summaries in rows.items():
        official = np.array([s["official_score"] for s in summaries])

        def mean(key, summaries=summaries):
            return np.mean([s[key] for s in summaries])

        lines.append(f"| {system} | {official.mean():.4f} ± {official.std(ddof=0):.4f} | "
                     f"{' '.join(f'{v:.4f}' for v in official)} | "
                     f"{mean('AUC_source_hmean'):.4f} | {mean('AUC_target_hmean'):.4f} | "
                     f"{mean('pAUC_hmean'):.4f} |")
    return "\n".join(lines)


def bench_one_seed(seed: int, systems: list[str], ae_epochs: int, device: str,
                   threads: int, yardstick: str = "demo", machines: list[str] | None = None,
                   ) -> tuple[dict[str, dict], dict[str, float]]:
    """Score summaries ``{system: summary}`` and training times of one seed of ``yardstick``
    (only ``machines``, when given)."""
    if threads > 0:
        torch.set_num_threads(threads)
    data = dataset_for(yardstick, seed, machines)
    summaries, train_times = {}, {}
    if "stats" in systems:
        stats = train_and_score(data, f"bench-{yardstick}-stats-{seed}", "logmel-stats",
                                STATS_BACKENDS)
        train_times["logmel-stats"] = stats["train_s"]
        for backend, summary in stats["scores"].items():
            summaries[f"log-mel statistics + {backend}"] = summary
    if "ae" in systems:
        ae = train_and_score(data, f"bench-{yardstick}-ae-{seed}", "ae", AE_BACKENDS,
                             device=device, epochs=ae_epochs, seed=seed)
        train_times["ae"] = ae["train_s"]
        for backend, summary in ae["scores"].items():
            summaries[f"AE ({ae_epochs} epochs), {backend}"] = summary
    print(f"seed {seed}: done", flush=True)
    return summaries, train_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yardstick", choices=YARDSTICKS, default="demo")
    parser.add_argument("--machines", nargs="+", default=None,
                        help="only these machine types (synthetic yardsticks)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--ae-epochs", type=int, default=20,
                        help="the official 100 epochs take hours on 2 CPU cores")
    parser.add_argument("--systems", nargs="+", choices=["stats", "ae"], default=["stats", "ae"])
    parser.add_argument("--device", default="auto", help="the AE's device: auto, cpu or cuda")
    parser.add_argument("--jobs", type=int, default=1,
                        help="seeds run in this many processes at once (on a GPU machine the "
                        "AE's small steps leave the GPU mostly idle)")
    args = parser.parse_args()
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-bench-"))
    threads = max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else 0
    work = [(seed, args.systems, args.ae_epochs, args.device, threads, args.yardstick,
             args.machines) for seed in args.seeds]
    per_seed = map_seeds(bench_one_seed, work, args.jobs)

    rows: dict[str, list[dict]] = {}
    train_times: dict[str, list[float]] = {}
    for summaries, times in per_seed:
        for system, summary in summaries.items():
            rows.setdefault(system, []).append(summary)
        for model, seconds in times.items():
            train_times.setdefault(model, []).append(seconds)
    ae_note = ""
    if "ae" in args.systems:
        ae_device = resolve_device(args.device).type
        ae_note = f" AE trained on {ae_device} for {args.ae_epochs} epochs" + (
            "." if args.ae_epochs == 100 else " instead of the official 100.")
    parallel = f", {args.jobs} seeds at a time" if args.jobs > 1 else ""
    only = f", machine types {', '.join(args.machines)}" if args.machines else ""
    body = (f"Yardstick {args.yardstick}{only} (bench/yardsticks.py), seeds {args.seeds} (the AE "
            f"also uses the seed for its initialisation); official DCASE score.{ae_note}\n\n"
            + table(rows) + "\n\n"
            + f"Training time per seed (every machine, features included{parallel}): "
            + ", ".join(f"{k} {np.mean(v):.0f} s" for k, v in train_times.items()))
    print(body)
    results.append(f"bench_baselines.py: comparison systems ({args.yardstick}{only})", body)


if __name__ == "__main__":
    main()
