"""The seed system's training length on the demo preset, against an untrained control.

bench_seed.py found fewer epochs better on the demo (5 beat 10). This measures 1, 2, 3 and 5
epochs on the same seeds, and a control: the same network and pipeline with a learning rate
of 0 (one epoch; only the batch-norm statistics follow the data). If the control scores as
well as the trained nets, the score comes from the architecture and the KNN backend on
generic features, not from what training taught the network.

    python bench/bench_seed_epochs.py [--seeds 0 1 2] [--epochs 1 2 3 5] [--threads 1]
        [--device cpu] [--set KEY=VALUE ...] [--tag NAME] [--no-control] [--append]

``--append`` adds the table to bench/RESULTS.md; several processes can split the work
(e.g. ``--epochs 1 2`` and ``--epochs 3 5 --no-control``) and print their tables.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from asdcore.cli import parse_setting  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_baselines import demo_dataset, table  # noqa: E402
from bench.bench_seed import record, seed_system  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 3, 5])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the model's width is "
                        "that device's default: 16 on CPU, ResNet18's 64 on CUDA)")
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="a seed-model setting for every run "
                        "(repeatable, as in `train --set`)")
    parser.add_argument("--tag", default="", help="added to the run names and table rows")
    parser.add_argument("--no-control", dest="control", action="store_false")
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-bench-epochs-"))
    settings = dict(parse_setting(text) for text in args.settings)
    label = f", {args.tag}" if args.tag else ""
    systems = {f"{n} epoch(s){label}": {**settings, "epochs": n} for n in args.epochs}
    if args.control:
        systems[f"untrained control (lr 0, 1 epoch){label}"] = {**settings, "epochs": 1,
                                                                 "lr": 0.0}
    rows: dict[str, list[dict]] = {}
    train_s: dict[str, list[float]] = {}
    for name, system_settings in systems.items():
        for seed in args.seeds:
            config = {**system_settings, "seed": seed, "num_threads": args.threads}
            tag = name.split(" ")[0] if "control" not in name else "control"
            system = seed_system(demo_dataset(seed), f"epochbench{args.tag}-{tag}-{seed}", config,
                                 args.device)
            scores = record(rows, system, f"seed system, {name}")
            train_s.setdefault(name, []).append(system["train_s"])
            print(f"{name}, seed {seed}: train {system['train_s']:.0f} s, {scores}", flush=True)
    body = (f"Demo preset, dataset and model seeds {args.seeds}, seed system with its "
            f"defaults on {args.device} (width {system['width']}) but the epochs named"
            f"{f' and {settings}' if settings else ''} "
            f"({args.threads} CPU thread(s)).\n\n" + table(rows) + "\n\n"
            + "Training time per run, audio loading included: "
            + ", ".join(f"{name} {np.mean(t):.0f} s" for name, t in train_s.items()))
    print(body, flush=True)
    if args.append:
        results.append("bench_seed_epochs.py: seed-system training length on the demo", body)


if __name__ == "__main__":
    main()
