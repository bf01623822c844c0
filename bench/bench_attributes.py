"""Do attribute classes help the seed system on the demo at all?

Pseudo-labels for attribute-less machines did not raise the seed system's score on the demo
(bench_pseudo_labels.py). This asks the question behind it: train the seed system on the demo
as it is (4 of 7 machines with their true attributes), and on a copy in which every machine's
attributes are hidden (train, test and supplemental file names end in ``noAttribute``, no
attribute tables: machine x section x domain classes only). If the true attributes do not
help either, pseudo-labels that recover them cannot be expected to.

The copy is made of hard links (no audio is duplicated) next to the demo in the cache.

    python bench/bench_attributes.py [--seeds 0 1 2] [--epochs 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import results  # noqa: E402
from bench.bench_baselines import demo_dataset, table  # noqa: E402
from bench.bench_seed import record, seed_system  # noqa: E402

# section_SS_<domain>_<split>_<label>_<NNNN>_<attributes>.wav -> ..._<NNNN>_noAttribute.wav
_ATTRIBUTES = re.compile(r"^(section_\d+_[a-z]+_[a-z]+_[a-z]+_\d+)_.+\.wav$")


def hidden_attribute_copy(data: Path) -> Path:
    """A hard-linked copy of ``data`` whose clips all read ``noAttribute``."""
    out = data.with_name(data.name + "-hidden")
    if (out / "done").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    for source in sorted(data.rglob("*")):
        if not source.is_file() or source.name.startswith("attributes_"):
            continue  # no attribute tables, no true-attribute correspondences
        relative = source.relative_to(data)
        renamed = relative.parent.name in ("train", "test", "supplemental")
        match = _ATTRIBUTES.match(source.name) if renamed else None
        target = out / relative.parent / (f"{match.group(1)}_noAttribute.wav" if match
                                          else source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    (out / "done").write_text("")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("ASD_WORKSPACE_DIR", tempfile.mkdtemp(prefix="asd-bench-attr-"))
    rows: dict[str, list[dict]] = {}
    classes = {}
    for seed in args.seeds:
        demo = demo_dataset(seed)
        for variant, data in (("true attributes", demo),
                              ("all attributes hidden", hidden_attribute_copy(demo))):
            config = {"epochs": args.epochs, "seed": seed, "num_threads": args.threads}
            system = seed_system(data, f"attrbench-{variant.split()[0]}-{seed}", config)
            classes.setdefault(variant, []).append(system["n_classes"])
            scores = record(rows, system, f"seed system, {variant}")
            print(f"seed {seed}, {variant}: {system['n_classes']} classes, {scores}", flush=True)
    body = (f"Demo preset, dataset and model seeds {args.seeds}, "
            "seed system with its CPU defaults, "
            f"{args.epochs} epoch(s), {args.threads} thread(s). Classes per run: "
            + "; ".join(f"{variant} {counts}" for variant, counts in classes.items())
            + ".\n\n" + table(rows))
    print(body, flush=True)
    results.append("bench_attributes.py: do attribute classes help the seed system?", body)


if __name__ == "__main__":
    main()
