"""What compute device the engine will use, described for people."""

from __future__ import annotations

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
