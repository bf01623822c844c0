"""What compute device the engine will use, described for people."""

from __future__ import annotations

import contextlib
import os


def device_info() -> dict:
    """``{"device": "cuda"|"cpu", "name": ..., "memory_gb": ..., "cpu_cores": ...}``."""
    import torch

    info = {"device": "cpu", "name": "CPU", "memory_gb": None, "cpu_cores": os.cpu_count(),
            "torch": torch.__version__}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(device="cuda", name=props.name, memory_gb=round(props.total_memory / 2**30, 1),
                    gpu_count=torch.cuda.device_count())
    return info


@contextlib.contextmanager
def torch_threads(n: int):
    """Use ``n`` torch CPU threads inside (0: leave the setting alone); restored afterwards.

    On a small shared CPU, torch's intra-op pool on top of our own worker threads (or beside
    other processes) oversubscribes the cores and its barrier waits collapse throughput.
    """
    import torch

    if n <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def cudnn_autotune(enabled: bool):
    """Let cuDNN time its kernels and keep the fastest inside (worth it when every batch has
    the same shape, as in training); the global setting is restored afterwards."""
    import torch

    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled or before
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before
