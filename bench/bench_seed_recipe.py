"""The seed model's old defaults against the SSL recipe's way (issue 16), on the demo preset.

Each system is trained once per seed (dataset and model seed, `bench_seed.train_seed_child`,
1 epoch by default: the Training page's demo setting) and scored from its saved embeddings
with every backend (`bench_backends.score_run`), plus knn-dg and knn-ldn with raw k-means
centres (``normalize_centres=False``, deviation c). Paired differences against ``--baseline``
(same data and initialisation per seed) are given with their standard error: the figures the
selection rule in bench/RESULTS.md reads. A run already in the workspace is reused, so several
processes can share ``--workspace`` (e.g. the ablations against the recipe's runs).

    python bench/bench_seed_recipe.py [--systems old recipe ...] [--baseline old]
        [--seeds 0 1 2] [--epochs 1] [--threads 1] [--workspace DIR] [--append]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from asdcore import pipeline, runs, scoring  # noqa: E402
from asdcore.models.seresnet import SEResNetConfig  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_backends import score_run  # noqa: E402
from bench.bench_baselines import demo_dataset, table  # noqa: E402
from bench.bench_seed import train_seed_child  # noqa: E402

# name -> (row label, settings over the model's defaults)
SYSTEMS = {
    "old": ("old defaults", dict(SEResNetConfig.legacy)),
    "recipe": ("recipe defaults", {}),
    "a-off": ("recipe, main head on unexchanged samples only (a off)",
              {"main_head_samples": "unexchanged"}),
    "b-off": ("recipe, fixed scale and exchange centres (b off)",
              {"dynamic_scale": False, "trainable_exchange_centres": False}),
    "d-off": ("recipe, clips at the longest machine's length from the start (d off)",
              {"seconds": None, "random_offset": False}),
    "e-off": ("recipe, spectrum in dB (e off)", {"spectrum_input": "db"}),
    "e-highpass": ("recipe, spectrum high-passed at 200 Hz", {"spectrum_highpass": True}),
    "f-off": ("recipe, no temporal mean normalisation (f off)", {"temporal_norm": False}),
}


def _raw_centres(base: type) -> type:
    """``base`` with raw k-means centres as its default, registered for this benchmark only."""
    def __init__(self):
        base.__init__(self, normalize_centres=False)
    return type(f"RawCentres{base.__name__}", (base,), {"__init__": __init__})


RAW_CENTRE_BACKENDS = {"knn-dg raw centres": _raw_centres(scoring.DomainGeneralizationKNN),
                       "knn-ldn raw centres": _raw_centres(scoring.LocalDensityKNN)}


def trained_run(data: Path, name: str, settings: dict) -> tuple[runs.Run, float | None]:
    """The scored run ``name`` (reused when already trained); its training time if trained."""
    path = runs.run_path(name)
    joint = runs.Run(path).weights_dir / pipeline.JOINT_WEIGHTS / "model.json"
    if joint.is_file() and any(runs.Run(path).embeddings_dir.glob("*.npz")):
        return runs.Run(path), None
    trained = train_seed_child(data, name, settings)
    pipeline.score_run(trained["run"])  # saves every clip's embedding
    return trained["run"], trained["train_s"]


def paired(rows: dict[str, list[dict]], label: str, baseline: str, backend: str) -> str:
    ours = [s["official_score"] for s in rows[f"{label} + {backend}"]]
    theirs = [s["official_score"] for s in rows[f"{baseline} + {backend}"]]
    diff = np.array(ours) - np.array(theirs)
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return (f"{diff.mean():+.4f} ± {se:.4f}, higher on {(diff > 0).sum()} of {len(diff)} "
            f"({' '.join(f'{d:+.3f}' for d in diff)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=["old", "recipe"])
    parser.add_argument("--baseline", choices=list(SYSTEMS), default=None,
                        help="the system the others are paired with (default: the first)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workspace", default=None, help="runs and demo data (default: a new "
                        "temporary folder); give the same one to reuse another process's runs")
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    os.environ["ASD_WORKSPACE_DIR"] = args.workspace or tempfile.mkdtemp(prefix="asd-recipe-")
    scoring.SCORERS.update(RAW_CENTRE_BACKENDS)
    baseline = args.baseline or args.systems[0]
    systems = [baseline] + [s for s in args.systems if s != baseline]
    rows: dict[str, list[dict]] = {}
    train_s: dict[str, list[float]] = {}
    for seed in args.seeds:
        data = demo_dataset(seed)
        for key in systems:
            label, settings = SYSTEMS[key]
            config = {**settings, "epochs": args.epochs, "seed": seed,
                      "num_threads": args.threads}
            run, seconds = trained_run(data, f"recipebench-{key}-{seed}", config)
            if seconds is not None:
                train_s.setdefault(label, []).append(seconds)
            for backend, summary in score_run(run, None).items():
                rows.setdefault(f"{label} + {backend}", []).append(summary)
            default = rows[f"{label} + knn-ldn-all"][-1]["official_score"]
            print(f"seed {seed}, {label}: knn-ldn-all {default:.4f}", flush=True)
    base_label = SYSTEMS[baseline][0]
    lines = [f"- {SYSTEMS[key][0]} + {backend}: "
             f"{paired(rows, SYSTEMS[key][0], base_label, backend)}"
             for key in systems[1:] for backend in scoring.SCORERS]
    meta = json.loads((run.weights_dir / pipeline.JOINT_WEIGHTS / "model.json").read_text())
    body = (f"Demo preset (v2), dataset and model seeds {args.seeds}, {args.epochs} epoch(s), "
            f"width {meta['config']['width']}, {args.threads} CPU thread(s); every run scored "
            "from its saved embeddings with every backend (\"raw centres\": knn-dg / knn-ldn "
            "with normalize_centres=False). Settings over the model's defaults: "
            + "; ".join(f"{SYSTEMS[k][0]}: {SYSTEMS[k][1] or 'none'}" for k in systems)
            + ".\n\n" + table(rows) + "\n\n"
            f"Paired differences against {base_label} (mean ± standard error over seeds):\n\n"
            + "\n".join(lines) + "\n\n"
            "Training time per run (child process, audio loading included): "
            + (", ".join(f"{label} {np.mean(t):.0f} s" for label, t in train_s.items())
               or "all runs reused"))
    print(body, flush=True)
    if args.append:
        results.append("bench_seed_recipe.py: seed model, old defaults against the recipe's",
                       body)


if __name__ == "__main__":
    main()
