"""Page-render benchmark: warm render time of every workbench page (AppTest, tiny demo with one
scored run), and UMAP map times: cold (import + numba compilation + first fit, a fresh
process), a later fit in the same process, and a computed map read back from the disk cache
in a fresh process; plus the Embeddings page showing a cached UMAP map.

    python bench/bench_pages.py [--rounds 3]

Appends a table to bench/RESULTS.md. Goals (issue 6): every page under 2 s warm; a map already
computed appears in under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import append  # noqa: E402

UMAP_SCRIPT = """
import sys, time
import numpy as np
from asdcore import projection  # umap itself is imported by the first UMAP map
t0 = time.perf_counter()
vectors = np.random.default_rng(int(sys.argv[1])).normal(size=(2000, 128)).astype(np.float32)
cached = projection.is_cached(vectors, "umap")
projection.project(vectors, "umap")
t1 = time.perf_counter()
projection.project(vectors + 1.0, "umap") if not cached else None
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {int(cached)}")
"""


def umap_times(env: dict) -> tuple[float, float, float]:
    """(cold first map, a later fit in the same process, a cached map in a fresh process) in s."""
    def once() -> list[str]:
        out = subprocess.run([sys.executable, "-c", UMAP_SCRIPT, "0"], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        return out.stdout.split()
    cold, later, _ = once()
    cached, _, was_cached = once()
    assert was_cached == "1"
    return float(cold), float(later), float(cached)


def render_times(pages: list[Path], rounds: int) -> dict[str, tuple[float, float]]:
    """Per page: (first render, median warm render) in seconds."""
    from streamlit.testing.v1 import AppTest

    times = {}
    for page in pages:
        at = AppTest.from_file(str(page), default_timeout=300)
        start = time.perf_counter()
        at.run()
        first = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(f"{page.name}: {at.exception}")
        warm = []
        for _ in range(rounds):
            start = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - start)
        times[page.name] = (first, statistics.median(warm))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    os.environ.update(ASD_CACHE_DIR=str(base / "cache"), ASD_WORKSPACE_DIR=str(base / "ws"),
                      ASD_DEMO_PRESET="tiny", ASD_UMAP_WARMUP="0")
    from asdcore import pipeline, synth, workspace

    data = synth.generate(base / "tiny", preset="tiny", seed=0)
    workspace.choose_dataset(data)
    pipeline.work_run(pipeline.queue_run("bench", pipeline.TrainConfig(
        data=str(data), model="logmel-stats")))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cold, later, cached = umap_times(env)
    pages = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    times = render_times(pages, args.rounds)

    # The Embeddings page showing the UMAP map of a machine computed once before.
    from streamlit.testing.v1 import AppTest

    embeddings = ROOT / "pages" / "4_Embeddings.py"
    at = AppTest.from_file(str(embeddings), default_timeout=300).run()
    at.radio(key="embedding_method").set_value("UMAP").run()  # computes and caches the map
    fresh = AppTest.from_file(str(embeddings), default_timeout=300)
    fresh.session_state["embedding_method"] = "UMAP"
    start = time.perf_counter()
    fresh.run()
    cached_page = time.perf_counter() - start
    assert not fresh.exception, fresh.exception

    lines = ["Render times by AppTest on the tiny demo with one scored logmel-stats run "
             f"(warm: median of {args.rounds} reruns of the same session; goal < 2 s).", "",
             "| page | first render (s) | warm render (s) |", "|---|---|---|"]
    lines += [f"| {name} | {first:.2f} | {warm:.2f} |" for name, (first, warm) in times.items()]
    lines += ["", f"Embeddings page, fresh session, UMAP map already on disk: {cached_page:.2f} s "
              "(goal < 1 s).", "",
              "UMAP maps of 2,000 x 128 vectors (`asdcore.projection.project`):", "",
              "| case | seconds |", "|---|---|",
              f"| cold: fresh process, import + numba compilation + first fit | {cold:.1f} |",
              f"| later fit in the same process | {later:.1f} |",
              "| map already computed: fresh process, read from cache/projections | "
              f"{cached:.2f} |"]
    body = "\n".join(lines)
    print(body)
    append("Workbench pages: render times and UMAP maps", body)


if __name__ == "__main__":
    main()
