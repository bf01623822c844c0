"""How long checking one 10 s recording takes with a loaded run (`asdcore.check`), on the CPU.

Imports the real fan recordings (../shared/real-fan: ON normal, BLADE FAULT and TAPPING
anomalies, cut into 10 s clips) into a temporary folder, trains a run of each model there (the
AE and the seed model for one epoch: the time of a check does not depend on training), then per
model times:

- loading: opening the run and building the section's reference (models, training embeddings
  or scores, scorer and threshold), what the Check page does once per run;
- one check of a 10 s clip with the loaded run (decode, features, score, 3 nearest normals,
  explanation): the best and the median of ``--repeats`` checks of a held-out ON clip.

Appends the figures to bench/RESULTS.md. Usage:
``python bench/bench_check.py [--models logmel-stats ae seresnet18] [--repeats 20]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
REAL_FAN = PROJECT.parent / "shared" / "real-fan"

from asdcore import check, ingest, pipeline, runs  # noqa: E402
from bench import results  # noqa: E402

ONE_EPOCH = {"ae": {"epochs": 1}, "seresnet18": {"epochs": 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["logmel-stats", "ae", "seresnet18"])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not REAL_FAN.is_dir():
        sys.exit(f"{REAL_FAN} is not present.")
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        os.environ["ASD_WORKSPACE_DIR"] = str(Path(tmp) / "workspace")
        os.environ["ASD_CACHE_DIR"] = str(Path(tmp) / "cache")
        data = Path(tmp) / "fan"
        ingest.import_recordings(REAL_FAN, data, normal=["ON"], exclude=["OFF", "FAN_GUARDS"],
                                 machine="fan", clip_seconds=10.0)
        clip = next((data / "fan" / "test").glob("*_normal_*.wav"))
        rows = [time_model(model, data, clip, args.repeats) for model in args.models]
    load = os.getloadavg()[0]
    lines = ["Checking one 10 s clip of the real fan with a loaded run, CPU "
             f"(`python bench/bench_check.py`, {args.repeats} checks, one torch thread as "
             f"`check` sets it; load average {load:.1f} at the end: other work shared the "
             "cores):", "",
             "| model | load run + reference (s) | one check, best (ms) | median (ms) |",
             "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['load_s']:.2f} | {r['best_ms']:.0f} | {r['median_ms']:.0f} |"
              for r in rows]
    text = "\n".join(lines)
    print(text)
    results.append("Check a recording: time per clip (issue 18)", text)


def time_model(model: str, data: Path, clip: Path, repeats: int) -> dict:
    config = pipeline.TrainConfig(data=str(data), model=model, device="cpu",
                                  model_config=ONE_EPOCH.get(model, {}))
    run = pipeline.queue_run(f"bench-{model}", config, overwrite=True)
    pipeline.work_run(run)
    start = time.perf_counter()
    loaded = check.CheckRun(runs.open_run(run.name))
    loaded.reference("fan", "00")
    load_s = time.perf_counter() - start
    loaded.check_file(clip, "fan")  # warm-up: first-call allocations, the nearest clips' cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loaded.check_file(clip, "fan")
        times.append(time.perf_counter() - start)
    return {"model": model, "load_s": load_s, "best_ms": 1000 * min(times),
            "median_ms": 1000 * statistics.median(times)}


if __name__ == "__main__":
    main()
