"""The seed model's old defaults against the SSL recipe's way (issue 16), on one yardstick.

Each system is trained once per seed (dataset and model seed, `bench_seed.train_seed_child`,
1 epoch by default: the Training page's demo setting) and scored from its saved embeddings
with every backend (`bench_backends.score_run`), plus knn-dg and knn-ldn with raw k-means
centres (``normalize_centres=False``, deviation c). Paired differences against each of
``--baselines`` (same data and initialisation per seed) are given with their standard error:
the figures the selection rule in bench/RESULTS.md reads. A run already in the workspace is
reused, so several processes can share ``--workspace`` (e.g. the ablations against the
recipe's runs). ``--yardstick`` picks the data (`bench/yardsticks.py`: demo, plant, real-fan;
each seed is a dataset seed or a fold).

    python bench/bench_seed_recipe.py [--yardstick demo] [--systems old recipe ...]
        [--baselines old ...] [--seeds 0 1 2] [--epochs 1] [--threads 1] [--workspace DIR]
        [--pseudo-labels [FEATURE/apart|together|source]] [--append]

``--pseudo-labels`` trains the systems with clustering pseudo-labels for the machines without
attributes (the default clustering's, or the one named); the systems without labels keep one
run name whatever the clustering, so runs made for one clustering serve the next.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from asdcore import atomic, dataset, labels, pipeline, runs, scoring, synth  # noqa: E402
from asdcore.labels.clustering import DEFAULT_FEATURE, DEFAULT_PER_DOMAIN  # noqa: E402
from asdcore.models.seresnet import SEResNetConfig  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_backends import score_run  # noqa: E402
from bench.bench_baselines import table  # noqa: E402
from bench.bench_seed import train_seed_child  # noqa: E402
from bench.yardsticks import YARDSTICKS, dataset_for  # noqa: E402

# name -> (row label, settings over the model's defaults); the ablations are the recipe with
# one setting back at its old value
SYSTEMS = {
    "old": ("old defaults", dict(SEResNetConfig.legacy)),
    "recipe": ("recipe", dict(SEResNetConfig.recipe)),
    "a-only": ("old defaults, main head on every sample (a only)",
               {**SEResNetConfig.legacy, "main_head_samples": "all"}),
    "ab": ("old defaults with (a) and (b): every sample on the main head, adaptive scale, "
           "trainable exchange centres",
           {**SEResNetConfig.legacy, "main_head_samples": "all", "dynamic_scale": True,
            "trainable_exchange_centres": True}),
    "a-off": ("recipe, main head on unexchanged samples only (a off)",
              {**SEResNetConfig.recipe, "main_head_samples": "unexchanged"}),
    "b-off": ("recipe, fixed scale and exchange centres (b off)",
              {**SEResNetConfig.recipe, "dynamic_scale": False,
               "trainable_exchange_centres": False}),
    "d-off": ("recipe, d off (the longest machine's clip length, from the start)",
              {**SEResNetConfig.recipe, "seconds": None, "random_offset": False}),
    "e-off": ("recipe, spectrum in dB (e off)", {**SEResNetConfig.recipe, "spectrum_input": "db"}),
    "e-highpass": ("recipe, spectrum high-passed at 200 Hz",
                   {**SEResNetConfig.recipe, "spectrum_highpass": True}),
    "f-off": ("recipe, no temporal mean normalisation (f off)",
              {**SEResNetConfig.recipe, "temporal_norm": False}),
    # the ablations of the seed system (issue 16, item 4): the recipe without one part
    "no-mixup": ("recipe without mixup", {**SEResNetConfig.recipe, "mixup": False}),
    "no-statex": ("recipe without StatEx", {**SEResNetConfig.recipe, "statex": False}),
    "no-featex": ("recipe without FeatEx", {**SEResNetConfig.recipe, "featex": False}),
    "no-noise": ("recipe without noise mixing",
                 {**SEResNetConfig.recipe, "noise_mixing": False, "noise_augment": False}),
    "no-highpass": ("recipe without the 200 Hz high-pass",
                    {**SEResNetConfig.recipe, "highpass": False}),
    "no-pseudo-labels": ("recipe without pseudo-labels", dict(SEResNetConfig.recipe)),
    "defaults-no-pseudo-labels": ("defaults without pseudo-labels",
                                  {**SEResNetConfig.recipe, "featex": False}),
    # "defaults" here: those from 2026-12-06 to 2026-12-07 22:13 UTC, the recipe without
    # FeatEx (RESULTS; FeatEx is on again since), with one part more off
    "defaults-no-mixup": ("defaults without mixup (recipe without FeatEx or mixup)",
                          {**SEResNetConfig.recipe, "featex": False, "mixup": False}),
    "defaults-e-off": ("defaults with the spectrum in dB (e off)",
                       {**SEResNetConfig.recipe, "featex": False, "spectrum_input": "db"}),
    "defaults-f-off": ("defaults without temporal mean normalisation (f off)",
                       {**SEResNetConfig.recipe, "featex": False, "temporal_norm": False}),
    "defaults-target-x5": ("defaults with each target clip 5 times per epoch",
                           {**SEResNetConfig.recipe, "featex": False, "target_repeats": 5}),
    "defaults-target-1-centre": ("defaults with one AdaCos centre per target-domain class (g)",
                                 {**SEResNetConfig.recipe, "featex": False,
                                  "target_subclusters": 1}),
    "defaults-global-pooling": ("defaults with global pooling (maximum over frequency, mean "
                                "over time; the default before 2026-12-07)",
                                {**SEResNetConfig.recipe, "featex": False, "pooling": "global"}),
    "defaults-auxiliary-auto": ("defaults with the demo's machines as auxiliary classes where "
                                "the data holds one machine type (auxiliary_machines=auto)",
                                {**SEResNetConfig.recipe, "featex": False,
                                 "auxiliary_machines": "auto"}),
    "auxiliary-auto": ("today's defaults with the demo's machines as auxiliary classes where "
                       "the data holds one machine type (auxiliary_machines=auto)",
                       {**SEResNetConfig.recipe, "auxiliary_machines": "auto"}),
    # the network's width (h): the seed's SE-ResNet18 is 64, the CPU default 32, the SSL
    # recipe's 16; a system's own width wins over --width and keeps -wN out of its run name
    **{f"width-{width}": (f"recipe at width {width}", {**SEResNetConfig.recipe, "width": width})
       for width in (16, 32, 64)},
}
# Systems that never take pseudo-labels, even with --pseudo-labels.
WITHOUT_LABELS = {"no-pseudo-labels", "defaults-no-pseudo-labels"}


def _with_params(base: type, **params) -> type:
    """``base`` with other default parameters, registered for this benchmark only."""
    def __init__(self):
        base.__init__(self, **params)
    return type(f"Bench{base.__name__}", (base,), {"__init__": __init__})


# Backend variants scored beside the registered ones: the k-means centres raw (as the SSL
# recipe's code keeps them), and the reference's local-density normalisation, whose scale is
# the mean distance to K = 16 other references (merlresearch/anomaly-score-normalization).
BENCH_BACKENDS = {
    "knn-dg raw centres": _with_params(scoring.DomainGeneralizationKNN, normalize_centres=False),
    "knn-ldn raw centres": _with_params(scoring.LocalDensityKNN, normalize_centres=False),
    "knn-ldn K16": _with_params(scoring.LocalDensityKNN, density_neighbors=16),
    "knn-ldn K16 raw centres": _with_params(scoring.LocalDensityKNN, density_neighbors=16,
                                            normalize_centres=False),
    "knn-ldn-all K16": _with_params(scoring.AllReferencesLocalDensityKNN, density_neighbors=16),
}
RAW_CENTRE_BACKENDS = [name for name in BENCH_BACKENDS if name.endswith(" raw centres")]


def trained_run(data: Path, name: str, settings: dict, train: bool = True,
                label_sets: dict[str, dict[str, str]] | None = None) -> runs.Run | None:
    """The scored run ``name``, trained (with ``label_sets`` as pseudo-attributes) and scored
    unless already done (None when it is not and ``train`` is off)."""
    run = runs.Run(runs.run_path(name))
    if run.metrics_path.is_file():  # written once scoring has saved every embedding
        _check_settings(run, settings, data)
        return run
    if not train:
        return None
    run = train_seed_child(data, name, settings, label_sets=label_sets)["run"]
    pipeline.score_run(run)  # saves every clip's embedding
    return run


def _check_settings(run: runs.Run, settings: dict, data: Path | None = None) -> None:
    """Refuse to reuse a run trained with other settings than ``settings`` (a system whose
    definition changed since, e.g. when a default moved into ``SEResNetConfig.recipe``) or,
    when ``data`` is given, on other data (e.g. a yardstick rebuilt at another SNR)."""
    trained = run_config(run)
    differ = {key: (trained.get(key), value) for key, value in settings.items()
              if key in trained and trained[key] != value}
    trained_on = run.config().get("data")
    if data is not None and trained_on and Path(trained_on) != Path(data):
        differ["data"] = (trained_on, str(data))
    if differ:
        raise SystemExit(f"The run {run.path} was trained with other settings than asked "
                         f"(setting: trained, asked): {differ}; give another --workspace or "
                         "move the run away.")


def run_config(run: runs.Run) -> dict:
    """The model settings a run was trained with (its saved model's config)."""
    return json.loads((run.weights_dir / pipeline.JOINT_WEIGHTS / "model.json")
                      .read_text())["config"]


# How a clustering treats the domains: apart (the engine's per_domain), together, or apart with
# every target clip under one label (the target classes left as without pseudo-labels)
DOMAIN_MODES = ("apart", "together", "source")


def parse_clustering(spec: str) -> tuple[str, str]:
    """``FEATURE/apart|together|source`` (or ``default``) -> (feature, domain mode)."""
    if spec == "default":
        return DEFAULT_FEATURE, "apart" if DEFAULT_PER_DOMAIN else "together"
    feature, _, domains = spec.partition("/")
    if feature not in labels.FEATURES or domains not in DOMAIN_MODES:
        raise SystemExit(f"--pseudo-labels {spec!r}: give default or FEATURE/"
                         f"{'|'.join(DOMAIN_MODES)} with FEATURE one of "
                         f"{', '.join(labels.FEATURES)}.")
    return feature, domains


def clustering_tag(feature: str, domains: str) -> str:
    """A run-name-safe name of a clustering: ``shape_lines_level-apart``."""
    return f"{feature.replace('+', '_')}-{domains}"


def pseudo_labels(data: Path, feature: str, domains: str) -> dict[str, dict[str, str]]:
    """A clustering's labels of every machine without attributes, as the Pseudo-labels page
    makes them, kept beside the dataset so every system and rerun gets the same ones."""
    saved = data.parent / f"{data.name}.pseudo-labels-{clustering_tag(feature, domains)}.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    if domains == "source":  # the per-domain labels (``target-c0`` ...) with the target's merged
        label_sets = {machine: {f: "target" if label.startswith("target-") else label
                                for f, label in found.items()}
                      for machine, found in pseudo_labels(data, feature, "apart").items()}
    else:
        ds = dataset.scan(data)
        label_sets = {m["name"]: labels.cluster_machine(ds, m["name"], feature=feature,
                                                        per_domain=domains == "apart").labels
                      for m in ds.machines() if not m["has_attributes"]}
    atomic.write_text(saved, json.dumps(label_sets))
    return label_sets


def backend_scores(run: runs.Run) -> dict[str, dict]:
    """``{backend: summary}`` of the run's saved embeddings, kept in the run folder so that a
    later report reuses them."""
    saved = run.path / "bench_seed_recipe.json"
    if saved.is_file():
        summaries = json.loads(saved.read_text())
        if set(scoring.SCORERS) <= set(summaries):  # else a backend was added since
            return summaries
    summaries = score_run(run, None)
    saved.write_text(json.dumps(summaries))
    return summaries


def training_seconds(run: runs.Run) -> float:
    """Wall time of the run's training (its status' start to finish), audio loading included."""
    status = json.loads(run.status_path.read_text())
    started, finished = (dt.datetime.fromisoformat(status[k]) for k in ("started", "finished"))
    return (finished - started).total_seconds()


def paired(scores: dict, key: str, base: str, backend: str, base_backend: str | None = None,
           ) -> str:
    """Paired difference of official scores, ``key`` + ``backend`` minus ``base`` +
    ``base_backend``, over the seeds both have: mean ± standard error, per seed."""
    seeds = sorted(s for k, s in scores if k == key and (base, s) in scores)
    diff = np.array([scores[key, s][backend]["official_score"]
                     - scores[base, s][base_backend or backend]["official_score"]
                     for s in seeds])
    if not len(diff):
        return "no common seed"
    se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return (f"{diff.mean():+.4f} ± {se:.4f}, higher on {(diff > 0).sum()} of {len(diff)} "
            f"seeds {seeds} ({' '.join(f'{d:+.3f}' for d in diff)})")


def _values(values: set) -> str:
    return " / ".join(str(v) for v in sorted(values, key=str)) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--yardstick", choices=YARDSTICKS, default="demo")
    parser.add_argument("--machines", nargs="+", default=None,
                        help="generate and train only these machine types (synthetic "
                        "yardsticks; the dcase one needs it on 2 CPU cores)")
    parser.add_argument("--width", type=int, default=None,
                        help="the seed model's width (default: the model's)")
    parser.add_argument("--pseudo-labels", nargs="?", const="default", default=None,
                        metavar="CLUSTERING",
                        help="train every system but those without labels with pseudo-labels "
                        "for the machines without attributes: the default clustering's, or "
                        "FEATURE/apart|together|source's (spectrum/together: the default "
                        "before 2026-12-07; source: apart, every target clip one label)")
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=["old", "recipe"])
    parser.add_argument("--baselines", nargs="+", choices=list(SYSTEMS), default=None,
                        help="the systems the others are paired with (default: the first)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workspace", default=None, help="runs and demo data (default: a new "
                        "temporary folder); give the same one to reuse another process's runs")
    parser.add_argument("--no-train", dest="train", action="store_false",
                        help="only report the runs already finished in the workspace")
    parser.add_argument("--append", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    os.environ["ASD_WORKSPACE_DIR"] = args.workspace or tempfile.mkdtemp(prefix="asd-recipe-")
    scoring.SCORERS.update(BENCH_BACKENDS)
    clustering = parse_clustering(args.pseudo_labels) if args.pseudo_labels else None
    baselines = args.baselines or args.systems[:1]
    systems = list(dict.fromkeys(baselines + args.systems))
    scores: dict[tuple[str, int], dict[str, dict]] = {}
    train_s: dict[str, list[float]] = {}
    trained: dict[str, set] = {"epochs": set(), "width": set(), "num_threads": set()}
    # demo runs keep the names they had before there were other yardsticks
    prefix = "recipebench" + ("" if args.yardstick == "demo" else f"-{args.yardstick}") + (
        f"-{'-'.join(sorted(args.machines))}" if args.machines else "")
    labelled = f"-pl-{clustering_tag(*clustering)}" if clustering else ""
    for seed in args.seeds:
        data = dataset_for(args.yardstick, seed, args.machines) if args.train else None
        label_sets = pseudo_labels(data, *clustering) if clustering and args.train else {}
        for key in systems:
            label, settings = SYSTEMS[key]
            config = {**settings, "epochs": args.epochs, "seed": seed,
                      "num_threads": args.threads}
            own_width = "width" in settings
            # always explicit, so a run trained at another width (e.g. the CPU default before
            # 2026-12-08, 32) is refused rather than reused under the new default's name
            config["width"] = settings.get("width") or args.width or SEResNetConfig().width
            width_tag = f"-w{args.width}" if args.width and not own_width else ""
            # a system without labels is the same run whatever the clustering
            without = key in WITHOUT_LABELS
            name = f"{prefix}{width_tag}{'' if without else labelled}-{key}-{seed}"
            run = trained_run(data, name, config, args.train, None if without else label_sets)
            if run is None:
                continue
            train_s.setdefault(label, []).append(training_seconds(run))
            config_trained = run_config(run)
            for setting, values in trained.items():  # as run, whatever the flags say
                values.add(config_trained[setting])
            scores[key, seed] = backend_scores(run)
            print(f"seed {seed}, {label}: knn-ldn-all "
                  f"{scores[key, seed]['knn-ldn-all']['official_score']:.4f}", flush=True)
    rows: dict[str, list[dict]] = {}
    for key in systems:
        seeds = [s for s in args.seeds if (key, s) in scores]
        for backend in scoring.SCORERS:
            if seeds:
                rows[f"{SYSTEMS[key][0]} (seeds {seeds}) + {backend}"] = [
                    scores[key, s][backend] for s in seeds]
    lines = [f"- {SYSTEMS[key][0]} against {SYSTEMS[base][0]}, {backend}: "
             + paired(scores, key, base, backend)
             for i, base in enumerate(baselines) for key in systems
             if key != base and key not in baselines[:i] for backend in scoring.SCORERS]
    lines += [f"- {SYSTEMS[key][0]}, {raw} against normalised centres: "
              + paired(scores, key, key, raw, raw.replace(" raw centres", ""))
              for key in systems for raw in RAW_CENTRE_BACKENDS]
    lines += [f"- {SYSTEMS[key][0]}, {backend} against knn: "
              + paired(scores, key, key, backend, "knn")
              for key in systems for backend in ("knn-dg", "knn-dg raw centres")]
    lines += [f"- {SYSTEMS[key][0]}, {backend} against knn-dg: "
              + paired(scores, key, key, backend, "knn-dg")
              for key in systems for backend in BENCH_BACKENDS if "K16" in backend]
    lines = [line for line in lines if not line.endswith("no common seed")]
    data_name = {"demo": "Demo preset", "plant": "Plant family, demo preset",
                 "real-fan": "Real fan recordings (folds as seeds, bench/yardsticks.py)",
                 "real-fan-levelled": "Real fan recordings, every clip at one level (folds "
                                      "as seeds, bench/yardsticks.py)",
                 "real-fan-noisy": "Real fan recordings, every clip at one level in the plant "
                                   "hall's background (folds as seeds, bench/yardsticks.py)",
                 "dcase": "DCASE-size preset"}
    data_name = data_name[args.yardstick] + (
        f", machine types {', '.join(args.machines)}" if args.machines else "") + (
        f", pseudo-labels from the clustering {clustering_tag(*clustering)} for the machines "
        "without attributes (all systems but those without them)" if clustering else "")
    body = (f"Yardstick {args.yardstick}: {data_name} (generator version "
            f"{synth.GENERATOR_VERSION}), dataset and model seeds {args.seeds} (where a run "
            "finished), "
            f"{_values(trained['epochs'])} epoch(s), width {_values(trained['width'])}, "
            f"{_values(trained['num_threads'])} CPU thread(s) per run; "
            "every run scored from its saved embeddings with every backend (\"raw centres\": "
            "knn-dg / knn-ldn with normalize_centres=False; \"K16\": density_neighbors=16). "
            "Settings over the model's "
            "defaults: " + "; ".join(f"{SYSTEMS[k][0]}: {SYSTEMS[k][1] or 'none'}"
                                     for k in systems)
            + ".\n\n" + table(rows) + "\n\n"
            "Paired differences (mean ± standard error over the common seeds):\n\n"
            + "\n".join(lines) + "\n\n"
            "Training wall time per run (child process, audio loading included; the machine "
            "was shared with other jobs): "
            + ", ".join(f"{label} {np.mean(t):.0f} s" for label, t in train_s.items()))
    print(body, flush=True)
    if args.append:
        results.append("bench_seed_recipe.py: seed model, old defaults against the recipe's "
                       f"({args.yardstick})", body)


if __name__ == "__main__":
    main()
