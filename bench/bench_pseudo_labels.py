"""Is the seed system better trained with pseudo-attribute labels than without them?

For each demo seed: cluster every attribute-less machine's training clips with the default
clustering (`label cluster` defaults: log spectra, PCA, Gaussian mixture with BIC), then train
the seed system twice on the same data and initialisation, once with those labels as its
pseudo-attributes and once without (machine x section x domain classes for those machines),
and compare the official scores. Figures are appended to bench/RESULTS.md.

    python bench/bench_pseudo_labels.py [--seeds 0 1] [--threads 1] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from asdcore import dataset, pipeline  # noqa: E402
from asdcore.labels import cluster_machine, label_quality  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_baselines import demo_dataset, table  # noqa: E402
from bench.bench_seed import SEED_BACKENDS  # noqa: E402


def pseudo_labels(ds: dataset.Dataset) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Default clustering labels of every attribute-less machine, and their ARI lines."""
    label_sets, notes = {}, []
    for machine in (m["name"] for m in ds.machines() if not m["has_attributes"]):
        found = cluster_machine(ds, machine)
        label_sets[machine] = found.labels
        quality = label_quality(found.labels, ds.clips)
        notes.append(f"{machine}: {len(set(found.labels.values()))} labels, "
                     f"ARI {quality['ari']:.3f}" if quality else machine)
    return label_sets, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None,
                        help="seed model epochs (default: the model's own)")
    args = parser.parse_args()
    model_config = {"num_threads": args.threads}
    if args.epochs is not None:
        model_config["epochs"] = args.epochs
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-bench-"))
    torch.set_num_threads(args.threads)

    rows: dict[str, list[dict]] = {}
    notes = []
    for seed in args.seeds:
        data = demo_dataset(seed)
        label_sets, quality = pseudo_labels(dataset.scan(data))
        notes.append(f"seed {seed}: " + "; ".join(quality))
        for variant, sets in (("without pseudo-labels", {}), ("with pseudo-labels", label_sets)):
            config = pipeline.TrainConfig(
                data=str(data), model="seresnet18", device="cpu",
                model_config={**model_config, "seed": seed})
            run = pipeline.queue_run(f"pl-{variant.split()[0]}-{seed}", config, overwrite=True,
                                     label_sets=sets)
            with run.working():
                pipeline.train_run(run)
            for backend in SEED_BACKENDS:
                summary = pipeline.score_run(run, backend=backend)["summary"]
                rows.setdefault(f"seed system {variant} + {backend}", []).append(summary)
            print(f"seed {seed}, {variant}: done", flush=True)

    body = (f"Demo preset, dataset and model seeds {args.seeds}, seed system with its CPU "
            f"defaults and {model_config}. Pseudo-labels of the attribute-less machines "
            "from the default clustering:\n\n"
            + "\n".join(f"- {line}" for line in notes) + "\n\n" + table(rows))
    print(body)
    results.append("bench_pseudo_labels.py: seed system with and without pseudo-labels", body)


if __name__ == "__main__":
    main()
