"""Calibration of the demo data against the official AE baseline's published DCASE 2025 figures.

Generates the demo preset for each seed into its own folder (``--data-root``; never the
benchmarks' shared ``cache/bench``), trains the project's ``ae`` (official settings: 100
epochs) and prints, per seed and over the seeds, the harmonic means of AUC_source, AUC_target
and pAUC of both AE modes beside the published development values (`../shared/DCASE.md` 3).
``--machines`` and ``--epochs`` make quick tuning runs; the recorded table is 100 epochs, all
machines, 3 seeds (``--record`` appends it to bench/RESULTS.md).

    python bench/bench_calibration.py --data-root /tmp/cal [--seeds 0 1 2] [--epochs 100]
        [--machines fan valve] [--systems ae stats] [--jobs 1] [--record]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from asdcore import metrics, runs, synth  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_baselines import (  # noqa: E402
    AE_BACKENDS,
    STATS_BACKENDS,
    map_seeds,
    table,
    train_and_score,
)

# Official AE baseline on the DCASE 2025 development set (hmeans, DCASE.md section 3).
PUBLISHED = {"mse": (0.6678, 0.5139, 0.5294), "mahalanobis": (0.6551, 0.5005, 0.5272)}
COLUMNS = ("AUC_source", "AUC_target", "pAUC")
TOLERANCE = 0.05


def per_machine(run_name: str, backend: str) -> pd.DataFrame:
    """The official per-section metrics of a scored run's backend."""
    scores = pd.read_csv(runs.open_run(run_name).scores_dir / f"{backend}.csv")
    return metrics.evaluate(scores)


def calibrate_seed(seed: int, data_root: str, epochs: int, machines: list[str] | None,
                   systems: list[str], threads: int) -> dict:
    if threads > 0:
        torch.set_num_threads(threads)
    data = synth.generate(Path(data_root) / f"demo-seed{seed}", preset="demo", seed=seed,
                          machines=machines)
    out: dict = {"summaries": {}, "tables": {}, "train_s": {}}
    if "ae" in systems:
        name = f"calibration-ae-{seed}"
        ae = train_and_score(data, name, "ae", AE_BACKENDS, epochs=epochs, seed=seed)
        out["train_s"]["ae"] = ae["train_s"]
        for backend in AE_BACKENDS:
            out["summaries"][f"AE ({epochs} epochs), {backend}"] = ae["scores"][backend]
            out["tables"][backend] = per_machine(name, backend)
    if "stats" in systems:
        stats = train_and_score(data, f"calibration-stats-{seed}", "logmel-stats",
                                STATS_BACKENDS)
        out["train_s"]["logmel-stats"] = stats["train_s"]
        for backend, summary in stats["scores"].items():
            out["summaries"][f"log-mel statistics + {backend}"] = summary
    print(f"seed {seed}: " + "; ".join(
        f"{system} " + " ".join(f"{s[c + '_hmean']:.3f}" for c in COLUMNS)
        for system, s in out["summaries"].items()), flush=True)
    return out


def calibration_table(per_seed: list[dict], epochs: int) -> str:
    """The AE per domain (hmean mean ± std over seeds) against the published values."""
    lines = [f"| AE mode | value | demo v{synth.GENERATOR_VERSION} (mean ± std) | per seed | "
             "published (2025 dev) | within ±0.05 |", "|---|---|---|---|---|---|"]
    for backend in AE_BACKENDS:
        key = f"AE ({epochs} epochs), {backend}"
        for column, published in zip(COLUMNS, PUBLISHED[backend], strict=True):
            values = np.array([seed["summaries"][key][f"{column}_hmean"] for seed in per_seed])
            inside = "yes" if abs(values.mean() - published) <= TOLERANCE else "no"
            lines.append(f"| {backend} | {column} hmean | {values.mean():.4f} ± "
                         f"{values.std(ddof=0):.4f} | {' '.join(f'{v:.4f}' for v in values)} | "
                         f"{published:.4f} | {inside} |")
    return "\n".join(lines)


def machine_table(per_seed: list[dict], backend: str) -> str:
    """Per machine, mean over seeds: where the calibration stands machine by machine."""
    frames = pd.concat([seed["tables"][backend] for seed in per_seed])
    means = frames.groupby("machine")[list(COLUMNS)].mean()
    lines = [f"| machine ({backend}) | AUC_source | AUC_target | pAUC |", "|---|---|---|---|"]
    lines += [f"| {machine} | " + " | ".join(f"{row[c]:.3f}" for c in COLUMNS) + " |"
              for machine, row in means.iterrows()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True,
                        help="folder for the generated demo datasets (one per seed)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--machines", nargs="+", choices=synth.MACHINES, default=None)
    parser.add_argument("--systems", nargs="+", choices=["ae", "stats"], default=["ae"])
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in this many processes")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-calibration-"))
    threads = max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else 0
    work = [(seed, args.data_root, args.epochs, args.machines, args.systems, threads)
            for seed in args.seeds]
    per_seed = map_seeds(calibrate_seed, work, args.jobs)

    rows: dict[str, list[dict]] = {}
    for seed in per_seed:
        for system, summary in seed["summaries"].items():
            rows.setdefault(system, []).append(summary)
    machines = ", ".join(args.machines or synth.MACHINES)
    body = (f"Demo preset v{synth.GENERATOR_VERSION}, dataset seeds {args.seeds} (the AE also "
            f"uses the seed for its initialisation), machines: {machines}. AE trained for "
            f"{args.epochs} epochs (official: 100).\n\n")
    if "ae" in args.systems:
        body += (calibration_table(per_seed, args.epochs) + "\n\n"
                 + machine_table(per_seed, "mse") + "\n\n")
    body += table(rows) + "\n\nTraining time per seed: " + ", ".join(
        f"{model} {np.mean([s['train_s'][model] for s in per_seed]):.0f} s"
        for model in per_seed[0]["train_s"])
    print(body)
    if args.record:
        results.append("bench_calibration.py: Calibration of demo "
                       f"v{synth.GENERATOR_VERSION} against the official AE "
                       "baseline", body)


if __name__ == "__main__":
    main()
