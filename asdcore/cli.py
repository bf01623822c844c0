"""The command line: ``python -m asdcore <command> ...`` (contract in DESIGN.md).

Each command is a thin wrapper over an engine function. User mistakes end in one sentence on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from asdcore.constants import CHARACTERISTIC_RANGE
from asdcore.errors import ASDError, disk_full_error, is_disk_full
from asdcore.progress import terminal_progress

if TYPE_CHECKING:
    from asdcore.dataset import Dataset


def _cmd_demo(args: argparse.Namespace) -> int:
    from asdcore import synth

    with terminal_progress(f"demo ({args.family}, {args.preset})") as bar:
        root = synth.generate(args.out, preset=args.preset, seed=args.seed, progress=bar,
                              machines=args.machine, family=args.family)
    print(root)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from asdcore import dataset

    with terminal_progress("scanning") as bar:
        ds = dataset.scan(args.data, mapping=args.mapping, progress=bar)
    if args.json:
        print(json.dumps(ds.info(), indent=2, default=str))
    else:
        print(format_info(ds))
    return 0 if ds.usable else 1


def format_info(ds: Dataset, max_problems: int = 50) -> str:
    """``info``'s terminal summary: one table row per machine folder, then the problems."""
    import pandas as pd

    from asdcore.dataset.discover import printable

    machines = ds.machines()
    lines = [f"Dataset {ds.root}: {len(machines)} machine folder(s), {len(ds.clips)} clips, "
             f"{len(ds.problems)} problem(s)", ""]
    # Folder paths only when machine names alone are ambiguous.
    show_folder = len({f.name for f in ds.folders}) < len(ds.folders)
    table = pd.DataFrame([{
        **({"folder": folder.rel} if show_folder else {}),
        "machine": m["name"],
        "subset": m["subset"] or "-",
        "sections": ",".join(m["sections"]) or "-",
        "train (src/tgt)": f"{m['n_train']} ({m['n_source']}/{m['n_target']})",
        "test": m["n_test"],
        "suppl.": m["n_supplemental"],
        "attributes": ",".join(m["attribute_keys"]) if m["has_attributes"]
        else "hidden (truth known)" if m["has_ground_truth_attributes"] else "hidden",
        "length (s)": _range_text(m["durations"]["min"], m["durations"]["max"]),
        "rate (Hz)": ",".join(map(str, m["sample_rates"])) or "-",
        "ch": ",".join(map(str, m["channels"])) or "-",
        "problems": m["n_problems"],
    } for folder, m in zip(ds.folders, machines, strict=True)])
    lines.append(table.to_string(index=False))
    if ds.problems:
        lines += ["", f"Problems ({len(ds.problems)}):"]
        lines += [f"  {p.file}: {p.reason}" for p in ds.problems[:max_problems]]
        if len(ds.problems) > max_problems:
            lines.append(f"  ... and {len(ds.problems) - max_problems} more (use --json for all).")
    if not ds.usable:
        lines += ["", "No readable clips: this dataset cannot be used."]
    return printable("\n".join(lines))  # a folder name may not be valid UTF-8


def _range_text(low: float | None, high: float | None) -> str:
    if low is None:
        return "-"
    return f"{low:.1f}" if round(low, 1) == round(high, 1) else f"{low:.1f}-{high:.1f}"


def _cluster_count(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, not {text!r}") from None


def _cmd_label(args: argparse.Namespace) -> int:
    from asdcore import dataset, labels

    ds = dataset.scan(args.data)
    store = labels.LabelStore.open(args.data, args.machine)
    band = tuple(args.band) if args.band else None
    with terminal_progress(f"label {args.how} {args.machine}") as bar:
        if args.how == "cluster":
            result = labels.cluster_machine(
                ds, args.machine, feature=args.feature, method=args.method, k=args.k,
                reduction=args.reduce, per_domain=args.per_domain, band=band, run=args.run,
                seed=args.seed, progress=bar)
        else:
            result = labels.envelope_labels(ds, args.machine, band=band, fmin=args.fmin,
                                            fmax=args.fmax, k=args.k, seed=args.seed, progress=bar)
    _warn_skipped(result.skipped)  # unreadable clips: unlabelled, the others are labelled
    change_set = labels.save_result(store, result)
    if args.out:
        labels.write_label_csv(args.out, result.labels,
                               labels.extra_columns(labels.clip_extras(result)))
    _print_label_summary(args, ds, result, change_set, store)
    return 0


def _print_label_summary(args, ds, result, change_set, store) -> None:
    from collections import Counter

    from asdcore import labels

    if args.how == "envelope":
        print(f"band {result.band[0]:g}-{result.band[1]:g} Hz")
    counts = Counter(result.labels.values())
    for label in result.centres if args.how == "envelope" else sorted(counts):
        count = counts[label]
        centre = ""
        if args.how == "envelope":
            family = " ".join(map(str, result.families.get(label, [])[:12]))
            centre = (f" (median {result.centres[label]:.2f} Hz"
                      + (f", harmonics seen {family})" if family else ")"))
        print(f"{label}: {count} clips{centre}")
    for group in getattr(result, "groups", []):  # clustering: why this many labels
        if group["criterion"] != "given":
            tried = " ".join(f"{k}:{group['scores'][k]:.2f}/{group['stability'][k]:.2f}"
                             for k in group["scores"])
            print(f"k={group['k']} ({group['domain']}): highest silhouette among stable k "
                  f"(silhouette/stability per k: {tried or 'none'})")
    quality = labels.label_quality(result.labels, labels.machine_clips(ds, args.machine))
    if quality is not None:
        print(f"against the known attributes: ARI {quality['ari']:.3f} NMI {quality['nmi']:.3f} "
              f"({quality['n_clips']} clips)")
    recorded = f"change set {change_set['change_set']}" if change_set else "no change"
    print(f"store: {store.path} ({recorded})")
    if args.out:
        print(f"labels: {args.out}")


def _recording(run, bar):
    """A progress callback that drives the terminal bar and appends to the run's progress log."""
    def progress(done: int, total: int, message: str = "", **fields) -> None:
        bar(done, total, message)
        run.record_progress(done, total, message, **fields)
    return progress


def _cmd_train(args: argparse.Namespace) -> int:
    from asdcore import dataset, pipeline, runs, train

    # Under torchrun every rank runs this command; rank 0 alone creates and writes the run.
    dist = train.init_distributed(args.device)
    try:
        if args.resume:
            if args.settings:
                raise ASDError("--resume continues with the run's own settings; drop --set.")
            run = runs.open_run(args.run)
            if dist.is_main:
                runs.reopen(run)
            dist.barrier()
        else:
            ds = dataset.scan(args.data)  # fail on a bad folder before a run is created
            config = pipeline.TrainConfig(
                data=str(Path(args.data).resolve()), model=args.model,
                machines=args.machine or [], device=args.device,
                model_config=_model_settings(args, pipeline.demo_settings(args.model, args.data),
                                             announce=dist.is_main),
                labels=[str(Path(p).resolve()) for p in args.labels or []])
            if dist.is_main:  # the store's labels are copied into the run: it stays reproducible
                machines = config.machines or ds.trainable_machines()
                pipeline.queue_run(args.run, config, overwrite=args.overwrite,
                                   label_sets=pipeline.stored_labels(config.data, machines))
            dist.barrier()
            run = runs.Run(runs.run_path(args.run))
        if not dist.is_main:
            pipeline.train_run(run)
            return 0
        with terminal_progress(f"train {run.name}") as bar, run.working():
            skipped = pipeline.train_run(run, progress=_recording(run, bar),
                                         cancel=run.cancel_requested)
        _warn_skipped([p.as_row() for p in skipped])
        print(run.path)
        return 0
    finally:
        train.close_distributed()


def _warn_skipped(skipped: list[dict], shown: int = 20) -> None:
    """Name the unusable files a command left out (on stderr, after its progress bar)."""
    if not skipped:
        return
    print(f"warning: skipped {len(skipped)} unusable file(s) (`info DATA` lists every problem):",
          file=sys.stderr)
    for problem in skipped[:shown]:
        print(f"  {problem['file']}: {problem['reason']}", file=sys.stderr)
    if len(skipped) > shown:
        print(f"  ... and {len(skipped) - shown} more.", file=sys.stderr)


def _model_settings(args: argparse.Namespace, starting: dict, announce: bool) -> dict:
    """The model settings the flags give, on top of ``starting`` (the model's demo settings on
    the demo preset); the ones the flags leave in place are named on stderr."""
    settings = dict(parse_setting(text) for text in args.settings)
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    if args.seed is not None:
        settings["seed"] = args.seed
    kept = {key: value for key, value in starting.items() if key not in settings}
    if kept and announce:
        shown = ", ".join(f"{key}={value}" for key, value in kept.items())
        print(f"note: {args.data} is the demo preset; {args.model} trains with {shown}, its best "
              "there (--epochs / --set override it).", file=sys.stderr)
    return {**kept, **settings}


def parse_setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> (key, value); the value is read as JSON (numbers, true/false, lists)
    when it parses as such, else kept as text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ASDError(f"--set takes KEY=VALUE, got {text!r}.")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _cmd_score(args: argparse.Namespace) -> int:
    from asdcore import pipeline, runs

    run = runs.open_run(args.run)
    with terminal_progress(f"score {run.name}") as bar:
        result = pipeline.score_run(run, backend=args.backend,
                                    data=str(args.data) if args.data else None, progress=bar)
    _warn_skipped(result["skipped"])
    print(f"submission: {run.submission_dir}")
    if result["official_score"] is None:
        print(f"official_score unknown: {result['note']}")
    else:
        print(f"official_score {result['official_score']:.4f}")
    return 0


def _cmd_work(args: argparse.Namespace) -> int:
    from asdcore import pipeline, runs

    run = runs.open_run(args.run)
    with terminal_progress(f"work {run.name}") as bar:
        result = pipeline.work_run(run, progress=_recording(run, bar), cancel=run.cancel_requested)
    _warn_skipped(result["skipped"])
    print(run.path)
    if result["official_score"] is not None:
        print(f"official_score {result['official_score']:.4f}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from asdcore import report, runs

    run = runs.open_run(args.run)
    with terminal_progress(f"report {run.name}") as bar:
        out = report.write_report(run, args.out, backend=args.backend, progress=bar)
    print(out)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from asdcore import dataset, metrics

    ds = dataset.scan(args.data, mapping=args.mapping)
    truth = metrics.truth_from_clips(ds.clips)
    if truth.empty:
        raise ASDError(f"{args.data} has no labelled test clips to evaluate against "
                       "(for eval data, give the ground-truth list with --mapping).")
    table, official = metrics.evaluate_submission(args.submission_dir, truth)
    if args.json:
        print(json.dumps({"table": table.to_dict(orient="records"),
                          **metrics.summarize(table)}, indent=2))
        return 0
    for row in table.itertuples(index=False):
        print(f"{row.machine} section {row.section}: AUC_source {row.AUC_source:.4f} "
              f"AUC_target {row.AUC_target:.4f} pAUC {row.pAUC:.4f}")
    print(f"official_score {official:.6f}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from asdcore import runs

    rows = runs.list_runs()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no runs yet")
    for row in rows:
        score = "-" if row["official_score"] is None else f"{row['official_score']:.4f}"
        print(f"{row['name']:<30} {row['status']:<10} {row['model'] or '?':<14} {score}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from asdcore import atomic, check

    loaded = check.CheckRun(args.run, backend=args.backend)
    with terminal_progress(f"check with {loaded.run.name}") as bar:
        checked = loaded.check(args.paths, machine=args.machine, section=args.section,
                               progress=bar)
    if not checked:
        raise ASDError("No audio files to check in " + ", ".join(map(str, args.paths)) + ".")
    if args.out:
        atomic.write_text(args.out, check.results_table(checked).to_csv(index=False))
    if args.json:
        print(json.dumps(checked, indent=2))
    else:
        for result in checked:
            print(_verdict_line(result))
    return 1 if any(result["error"] for result in checked) else 0


def _verdict_line(result: dict) -> str:
    """``ANOMALOUS|normal score S (threshold T, P% of normal training clips lower) FILE``."""
    if result["error"]:
        return f"unusable  {result['file']}: {result['error']}"
    verdict = "ANOMALOUS" if result["decision"] else "normal   "
    return (f"{verdict} score {result['score']:.4g} (threshold {result['threshold']:.4g}, "
            f"percentile {result['percentile']:.0f} among normal training clips) "
            f"{result['machine']} section {result['section']}  {result['file']}")


def _cmd_import(args: argparse.Namespace) -> int:
    from asdcore import ingest

    with terminal_progress("import") as bar:
        summary = ingest.import_recordings(
            args.src, args.out, layout=args.layout, normal=args.normal, exclude=args.exclude,
            test_fraction=args.test_fraction, seed=args.seed, copy=args.copy,
            clip_seconds=args.clip_seconds, machine=args.machine, progress=bar)
    _warn_skipped(summary["skipped"])
    print(f"layout {summary['layout']}; excluded {len(summary['excluded'])} file(s)")
    for row in summary["counts"]:
        print(f"{row['machine']} section {row['section']} {row['split']} {row['label']}: "
              f"{row['clips']} clips")
    print(f"mapping: {summary['mapping']}")
    print(summary["out"])
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from asdcore import reproduce

    recipe = reproduce.Recipe(
        device=args.device, epochs_ae=args.epochs_ae, epochs_seed=args.epochs_seed,
        ae_settings=dict(map(parse_setting, args.set_ae)),
        seed_settings=dict(map(parse_setting, args.set_seed)))
    steps = _StepBars()
    try:
        summary = reproduce.reproduce(args.data, args.out, recipe, progress=steps,
                                      on_step=steps.on_step)
    finally:
        steps.close()
    _warn_skipped(summary["skipped"])
    for system in summary["systems"].values():
        ours, published = system["ours"]["official_score"], system["published"]["official_score"]
        shown = "unknown" if ours is None else f"{ours:.4f}"
        print(f"{system['name']}: official_score {shown} (published {published:.4f})")
    print(summary["report"])
    return 0


class _StepBars:
    """Progress of `reproduce`: one terminal bar per step that runs, one line per step that
    ends or is skipped."""

    def __init__(self):
        self.bar: terminal_progress | None = None

    def __call__(self, done: int, total: int, message: str = "", **fields) -> None:
        if self.bar is not None:
            self.bar(done, total, message)

    def on_step(self, step: str, status: str, detail: str) -> None:
        self.close()
        if status == "started":
            self.bar = terminal_progress(step)
        else:
            print(f"{status}: {step}" + (f" ({detail})" if detail else ""), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asdcore",
        description="Anomalous sound detection workbench, headless.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="write a synthetic DCASE-layout dataset")
    p.add_argument("out", type=Path, help="folder to create (the dataset root)")
    p.add_argument("--preset", choices=["tiny", "demo", "dcase"], default="demo",
                   help="tiny (tests), demo (the app's, ~300 MB) or dcase (DCASE 2025 size, "
                   "~3 GB: 990 + 10 training and 200 test clips of 10 s per machine)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--family", choices=["demo", "plant"], default="demo",
                   help="demo (the seven DCASE 2025 machine types) or plant (pump, compressor, "
                   "blower, conveyor, motor in reverberant halls with intermittent noise)")
    p.add_argument("--machine", action="append", metavar="M",
                   help="generate only this machine type (repeatable; default all of the "
                   "family's)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("info", help="what a dataset holds, and what is wrong with it")
    p.add_argument("data", type=Path, help="folder of machine folders, or any folder above it")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--mapping", type=Path, default=None,
                   help="eval ground-truth list mapping anonymous test names to full names")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("label", help="pseudo-labels for a machine (recorded in the label store)")
    label_sub = p.add_subparsers(dest="how", required=True, metavar="HOW")
    for how, help_text in (("cluster", "cluster the clips' sounds"),
                           ("envelope", "group clips by the characteristic frequency of a band")):
        q = label_sub.add_parser(how, help=help_text)
        q.add_argument("data", type=Path, help="dataset folder (DCASE layout)")
        q.add_argument("--machine", required=True, help="machine type to label")
        q.add_argument("--k", type=_cluster_count, default="auto",
                       help="number of labels, or auto (default)")
        q.add_argument("--out", type=Path, default=None, help="also write the labels to this CSV")
        q.add_argument("--seed", type=int, default=0)
        q.set_defaults(func=_cmd_label)
    cluster, envelope = label_sub.choices["cluster"], label_sub.choices["envelope"]
    # asdcore.labels.FEATURES, spelled out: importing it here would load scikit-learn for --help
    cluster.add_argument("--feature", default="shape+lines+level",
                         choices=["shape+lines+level", "shape+lines", "modulation", "spectrum",
                                  "envelope", "logmel", "embedding"],
                         help="what is clustered (default %(default)s; bench/RESULTS.md compares "
                              "them)")
    cluster.add_argument("--method", choices=["gmm", "kmeans", "ward"], default="gmm")
    cluster.add_argument("--reduce", choices=["pca", "umap"], default="pca")
    cluster.add_argument("--per-domain", action=argparse.BooleanOptionalAction, default=True,
                         help="cluster source and target clips separately (the default) or, "
                              "with --no-per-domain, together")
    cluster.add_argument("--run", default=None,
                         help="run whose embeddings --feature embedding uses")
    cluster.add_argument("--band", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                         help="band of the envelope features (envelope, modulation, "
                              "shape+lines[+level]) in Hz (default: kurtogram suggestion)")
    envelope.add_argument("--band", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                          help="band in Hz whose envelope is analysed (default: the band "
                               "whose envelope shows the clearest lines)")
    envelope.add_argument("--fmin", type=float, default=CHARACTERISTIC_RANGE[0],
                          help="lowest characteristic frequency searched (Hz)")
    envelope.add_argument("--fmax", type=float, default=CHARACTERISTIC_RANGE[1],
                          help="highest characteristic frequency searched (Hz)")

    p = sub.add_parser("train", help="train a model (per machine, or one joint model) into a run")
    p.add_argument("data", type=Path, help="dataset folder (DCASE layout)")
    # --run-name: under torchrun, whose parser takes --run for its own --run-path.
    p.add_argument("--run", "--run-name", dest="run", required=True,
                   help="run name (kept in workspace/runs) or a path")
    p.add_argument("--model", default="ae", help="model name: ae (official baseline), "
                   "logmel-stats (training-free) or seresnet18 (the seed model)")
    p.add_argument("--machine", action="append", help="train only this machine (repeatable)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run")
    p.add_argument("--labels", nargs="+", metavar="CSV", default=None,
                   help="label CSVs (file,label): pseudo-attributes of attribute-less machines")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a model setting without a flag of its own (repeatable), e.g. width=32, "
                   "batch_size=128, num_threads=1")
    p.add_argument("--resume", action="store_true",
                   help="continue an existing run from its checkpoint (its own settings)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("score", help="score the test clips with a trained run")
    p.add_argument("run", help="run name or path")
    p.add_argument("--backend", default=None,
                   help="ae: mse|mahalanobis; embedding models: "
                   "knn|knn-dg|knn-ldn|knn-ldn-all|mahalanobis")
    p.add_argument("--data", type=Path, default=None, help="score another dataset folder")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("work", help="execute a queued run: train it, then score it with the "
                       "model's default backend (what the app's Training page launches)")
    p.add_argument("run", help="run name or path")
    p.set_defaults(func=_cmd_work)

    p = sub.add_parser("report", help="write a run's self-contained HTML report")
    p.add_argument("run", help="run name or path")
    p.add_argument("--out", type=Path, required=True, help="HTML file to write")
    p.add_argument("--backend", default=None, help="scores to report (default: the latest scored)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("evaluate", help="official metrics of a submission folder")
    p.add_argument("submission_dir", type=Path)
    p.add_argument("data", type=Path, help="dataset folder with the test clips' labels")
    p.add_argument("--mapping", type=Path, default=None,
                   help="eval ground-truth list for anonymous eval test names")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("runs", help="list runs with status, model and score")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser("check", help="verdicts on new recordings with a trained run")
    p.add_argument("run", help="run name or path")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="audio file, or folder searched recursively")
    p.add_argument("--machine", default=None,
                   help="machine type of the files (default: the run's only one, or the "
                   "machine folder the file is in)")
    p.add_argument("--section", default=None,
                   help="section, e.g. 00 (default: the machine's only one, or the file name's)")
    p.add_argument("--backend", default=None,
                   help="score backend (default: the one the run was scored with)")
    p.add_argument("--json", action="store_true", help="print a list, one object per file")
    p.add_argument("--out", type=Path, default=None, help="also write a CSV table here")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("import", help="bring recordings in another layout into a new "
                       "DCASE-layout dataset")
    p.add_argument("src", type=Path, help="folder of recordings")
    p.add_argument("out", type=Path, help="new dataset folder (must not exist or be empty)")
    p.add_argument("--layout", choices=["auto", "mimii", "toyadmos", "folders"], default="auto")
    p.add_argument("--normal", nargs="+", default=None, metavar="NAME",
                   help="folders layout: the normal conditions (the others are anomalies)")
    p.add_argument("--exclude", nargs="+", default=None, metavar="NAME",
                   help="conditions to leave out (e.g. a machine that is off)")
    p.add_argument("--machine", default=None,
                   help="folders layout: machine name (default: the source folder's name)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of normal recordings held out for test (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    p.add_argument("--clip-seconds", type=float, default=None,
                   help="cut longer recordings into clips of this length")
    p.add_argument("--copy", action="store_true", help="copy files instead of linking them")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("reproduce", help="the published recipe end to end on a development "
                       "set: pseudo-labels, the AE baseline and the seed system, official "
                       "metrics, a report beside the published figures (finished steps skipped)")
    p.add_argument("data", type=Path, help="development set: folder of machine folders, or any "
                   "folder above it")
    p.add_argument("--out", type=Path, default=None, help="folder for the labels, runs and "
                   "report.html (default: workspace/reproduce/<dataset>)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--epochs-ae", type=int, default=None,
                   help="AE epochs (default: the official baseline's 100)")
    p.add_argument("--epochs-seed", type=int, default=None,
                   help="seed system epochs (default: the recipe's 10)")
    p.add_argument("--set-ae", action="append", default=[], metavar="KEY=VALUE",
                   help="another AE setting (repeatable), for quick checks")
    p.add_argument("--set-seed", action="append", default=[], metavar="KEY=VALUE",
                   help="another seed model setting (repeatable), e.g. width=16")
    p.set_defaults(func=_cmd_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ASDError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `... --json | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except OSError as err:
        if not is_disk_full(err):
            raise
        print(f"error: {disk_full_error(err)}", file=sys.stderr)
        return 2
