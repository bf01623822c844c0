"""Is the seed system better trained with pseudo-attribute labels than without them?

For each demo seed: cluster every attribute-less machine's training clips with the default
clustering (`label cluster` defaults: log spectra, PCA, Gaussian mixture with BIC), then train
the seed system on the same data and initialisation three times: without labels for those
machines (machine x section x domain classes), with the clustering labels as their
pseudo-attributes, and with their true hidden attributes (from the demo's correspondence
files: the best any labelling could do). Official scores are reported over all machines and
over the attribute-less machines alone (the only ones whose classes change). Figures are
appended to bench/RESULTS.md.

    python bench/bench_pseudo_labels.py [--seeds 0 1] [--threads 1] [--epochs N] [--jobs N]
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

from asdcore import dataset, metrics, pipeline  # noqa: E402
from asdcore.labels import cluster_machine, label_quality  # noqa: E402
from asdcore.labels.quality import truth_of  # noqa: E402
from asdcore.models.seresnet import SEResNetEmbedder  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_baselines import demo_dataset, map_seeds, table  # noqa: E402
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


def true_labels(ds: dataset.Dataset, machines) -> dict[str, dict[str, str]]:
    """The hidden true attributes of ``machines``' training clips, as label sets."""
    train = ds.clips[ds.clips["split"] == "train"]
    truth = truth_of(train)
    by_file = train.set_index("file")["machine"]
    return {m: {f: t for f, t in truth.items() if t and by_file[f] == m} for m in machines}


def paired_differences(groups: dict[str, dict[str, list[dict]]], variants: list[str],
                       backend: str) -> str:
    """Per group of machines, each variant's official score minus the first variant's on the
    same seed: mean, standard error and how many seeds it was higher, as markdown lines."""
    lines = [f"Paired differences against {variants[0]} ({backend}, same data and "
             "initialisation per seed):", ""]
    for group, rows in groups.items():
        def official(variant, rows=rows):
            summaries = rows[f"seed system {variant} + {backend}"]
            return np.array([s["official_score"] for s in summaries])

        for variant in variants[1:]:
            diff = official(variant) - official(variants[0])
            error = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
            lines.append(f"- {group}, {variant}: {diff.mean():+.4f} ± {error:.4f} (standard "
                         f"error), higher on {(diff > 0).sum()} of {len(diff)} seeds "
                         f"({' '.join(f'{d:+.3f}' for d in diff)})")
    return "\n".join(lines)


VARIANTS = ("without pseudo-labels", "with pseudo-labels", "with the true attributes")


def bench_one_seed(seed: int, model_config: dict) -> tuple[dict, dict, str]:
    """One demo seed, three trainings: score summaries over all machines and over the
    attribute-less ones, ``{"<variant> + <backend>": summary}``, and the seed's ARI line."""
    torch.set_num_threads(model_config["num_threads"])
    data = demo_dataset(seed)
    ds = dataset.scan(data)
    label_sets, quality = pseudo_labels(ds)
    rows, attribute_less_rows = {}, {}
    sets_of = dict(zip(VARIANTS, ({}, label_sets, true_labels(ds, label_sets)), strict=True))
    for (variant, sets), tag in zip(sets_of.items(), ("none", "pseudo", "true"), strict=True):
        config = pipeline.TrainConfig(data=str(data), model="seresnet18", device="cpu",
                                      model_config={**model_config, "seed": seed})
        run = pipeline.queue_run(f"pl-{tag}-{seed}", config, overwrite=True, label_sets=sets)
        with run.working():
            pipeline.train_run(run)
        for backend in SEED_BACKENDS:
            scored = pipeline.score_run(run, backend=backend)
            rows[f"seed system {variant} + {backend}"] = scored["summary"]
            own = [r for r in scored["table"] if r["machine"] in label_sets]
            attribute_less_rows[f"seed system {variant} + {backend}"] = metrics.summarize(
                pd.DataFrame(own))
        print(f"seed {seed}, {variant}: done", flush=True)
    return rows, attribute_less_rows, f"seed {seed}: " + "; ".join(quality)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None,
                        help="seed model epochs (default: the model's own)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="seeds run in this many processes at once")
    args = parser.parse_args()
    model_config = {"num_threads": args.threads}
    if args.epochs is not None:
        model_config["epochs"] = args.epochs
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-bench-"))
    work = [(seed, model_config) for seed in args.seeds]
    per_seed = map_seeds(bench_one_seed, work, args.jobs)

    rows: dict[str, list[dict]] = {}
    attribute_less_rows: dict[str, list[dict]] = {}
    for seed_rows, seed_attribute_less_rows, _ in per_seed:
        for grouped, found in ((rows, seed_rows), (attribute_less_rows, seed_attribute_less_rows)):
            for name, summary in found.items():
                grouped.setdefault(name, []).append(summary)
    notes = [note for _, _, note in per_seed]
    body = (f"Demo preset, dataset and model seeds {args.seeds}, seed system with its CPU "
            f"defaults and {model_config}. Pseudo-labels of the attribute-less machines "
            "from the default clustering:\n\n"
            + "\n".join(f"- {line}" for line in notes) + "\n\n" + table(rows)
            + "\n\nThe attribute-less machines alone (official score over their values only):"
            + "\n\n" + table(attribute_less_rows) + "\n\n"
            + paired_differences({"all machines": rows,
                                  "the attribute-less machines": attribute_less_rows},
                                 list(VARIANTS), SEResNetEmbedder.backends[0]))
    print(body)
    results.append("bench_pseudo_labels.py: seed system with and without pseudo-labels", body)


if __name__ == "__main__":
    main()
