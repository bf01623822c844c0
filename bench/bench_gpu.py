"""The seed model's training throughput on a CUDA GPU: limited by the model or by the data?

On demo seed 0's training clips (~1500 clips of 4-5 s, 35 classes), for ResNet18's full width
(64, the CUDA default) and the CPU default (16), training runs ``--epochs`` epochs twice:

- **host**: clips sit in CPU memory; every step gathers a batch, draws the noise to mix in
  and copies it to the GPU. Log-mel (and the spectrum branch's FFT) are computed on the GPU
  inside the model either way.
- **resident**: the same clips already on the GPU, so a step does no host-side gathering or
  copying: the model's own ceiling. Training takes this path by default when the clips take
  under half the GPU's free memory (`asdcore.train.train`, ``data_on_device``).

Reported per setting: clips/s over the epochs after the first (which includes cuDNN's
autotuning), the share of step time spent assembling batches (``data_fraction``: each step
ends with a sync on the loss, so the GPU idles while the next batch is assembled, and this is
the fraction of time it waits for data), host/resident throughput, and peak GPU memory.

    python bench/bench_gpu.py [--epochs 3] [--widths 64 16] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from asdcore import dataset  # noqa: E402
from asdcore.models.seresnet import SeedModel, SEResNetConfig, SEResNetEmbedder  # noqa: E402
from asdcore.train import TrainingData, train  # noqa: E402
from bench import results  # noqa: E402
from bench.bench_baselines import demo_dataset  # noqa: E402


def measure(data: TrainingData, embedder: SEResNetEmbedder, config: SEResNetConfig,
            resident: bool) -> dict:
    device = torch.device(config.device)
    cuda = device.type == "cuda"
    torch.manual_seed(config.seed)
    model = SeedModel(config, embedder.feature_config(), len(embedder.classes_))
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    history = train(model, data, config, data_on_device=resident)
    if cuda:
        torch.cuda.synchronize()
    later = slice(1, None) if config.epochs > 1 else slice(None)
    return {"clips_per_second": float(np.mean(history["clips_per_second"][later])),
            "data_fraction": float(np.mean(history["data_fraction"][later])),
            "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if cuda else 0.0,
            "seconds": time.perf_counter() - start,
            "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cuda",
                        help="cpu only to try the script out: nothing is recorded then")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_gpu.py measures a CUDA GPU, and torch sees none here.")
    torch.backends.cudnn.benchmark = True

    clips = dataset.scan(demo_dataset(0)).clips
    embedder = SEResNetEmbedder(SEResNetConfig(device=args.device))
    start = time.perf_counter()
    data = embedder.training_data(clips[clips["split"] == "train"],
                                       clips[clips["split"] == "supplemental"])
    load_s = time.perf_counter() - start
    default_path = "resident" if data.fits_on(torch.device(args.device)) else "host"

    lines = ["| width | parameters | batch path | clips/s | data_fraction | peak GPU memory |",
             "|---|---|---|---|---|---|"]
    ratios = []
    for width in args.widths:
        config = dataclasses.replace(embedder.config, width=width, epochs=args.epochs,
                                     batch_size=args.batch_size)
        figures = {}
        for path in ("host", "resident"):
            figures[path] = measure(data, embedder, config, resident=path == "resident")
            f = figures[path]
            print(f"width {width} {path}: {f}", flush=True)
            lines.append(f"| {width} | {f['parameters_m']:.1f} M | {path} | "
                         f"{f['clips_per_second']:.0f} | {f['data_fraction']:.3f} | "
                         f"{f['peak_gib']:.2f} GiB |")
        host_over_resident = (figures["host"]["clips_per_second"]
                              / figures["resident"]["clips_per_second"])
        ratios.append(f"width {width}: {host_over_resident:.2f}")
    body = (f"Demo seed 0: {len(data)} training clips of {embedder.seconds_:.0f} s, "
            f"{len(embedder.classes_)} classes, {len(data.noise)} noise clips; batch "
            f"{args.batch_size}, bf16 autocast, {args.epochs} epochs per setting, clips/s and "
            f"data_fraction over epochs 2..{args.epochs}. Loading the audio into memory took "
            f"{load_s:.1f} s. torch {torch.__version__}. The path `train` takes by default "
            f"here: {default_path}.\n\n" + "\n".join(lines) + "\n\n"
            "Host-path throughput / GPU-resident throughput (1.00: data handling costs "
            "nothing): " + ", ".join(ratios) + ".")
    print(body, flush=True)
    if args.device == "cuda":
            results.append("bench_gpu.py: seed-model training throughput on a GPU", body)


if __name__ == "__main__":
    main()
