"""Training loop of the jointly trained embedding models (the seed model), on CPU, CUDA or DDP.

`train(model, data, config, ...)` runs AdamW (lr, weight decay, batch size and epochs from the
config) over `TrainingData`; the model's ``forward(waves, labels, generator)`` returns the loss.
One code path for every device: on CUDA the forward runs under bf16 autocast (the heads cast
back to float32), on CPU in float32.

- Seeded: the network's initial weights come from ``config.seed``; the clip order of epoch e
  from (seed, e); every augmentation draw from one ``torch.Generator`` (seed, rank) whose state
  is checkpointed. The same seed on the CPU gives the same weights; on CUDA nearly the same
  (cuDNN picks its kernels by timing them, and some sum in a varying order).
- Checkpoints: after every epoch and when cancelled, ``checkpoint`` receives the model,
  optimizer and generator states and the position (epoch, step); a later call with the same
  file resumes exactly there (mid-epoch included). The last one, after the final epoch, keeps
  no optimizer state (a third of the size): resuming a finished training does nothing.
- Progress is reported and the cancel check polled between steps.
- Distributed: under ``torchrun`` (`init_distributed` reads its environment) the model is wrapped
  in DistributedDataParallel (gloo on CPU, NCCL on CUDA). Each global batch of ``batch_size``
  clips is split across the ranks, so the optimisation matches a single process; rank 0 alone
  reports progress and writes checkpoints; the ranks agree on a cancel by an all-reduce.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from torch import nn

from asdcore import atomic, audio, augment
from asdcore.device import cudnn_autotune, torch_threads
from asdcore.errors import ASDError, Cancelled
from asdcore.features import resolve_device
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report

_LOAD_THREADS = 2
_REPORT_EVERY_CLIPS = 64


# --- distributed -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Distributed:
    """This process's place in a (possibly one-process) training job."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            torch_dist.barrier()

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when ``flag`` is true on any rank."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([int(flag)], device=device)
        torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MAX)
        return bool(value.item())


def init_distributed(device: str = "auto") -> Distributed:
    """Join the process group when started by ``torchrun`` (or a launcher that sets the same
    variables), with one process too: then ``torchrun --nproc-per-node 1`` runs the very code
    path of N processes (DDP, gloo or NCCL) on a one-GPU machine. Otherwise a plain
    one-process job. On CUDA each process takes the GPU of its ``LOCAL_RANK``."""
    if not all(key in os.environ for key in ("WORLD_SIZE", "RANK", "MASTER_ADDR")):
        return Distributed()
    if not torch_dist.is_initialized():
        use_cuda = resolve_device(device).type == "cuda"
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch_dist.init_process_group("nccl" if use_cuda else "gloo")
    return current_distributed()


def close_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def current_distributed() -> Distributed:
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return Distributed()
    return Distributed(torch_dist.get_rank(), torch_dist.get_world_size())


# --- data ------------------------------------------------------------------------------------

def load_waveforms(paths, seconds: float, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None) -> torch.Tensor:
    """``[N, seconds * 16 kHz]`` float32 waveforms (`audio.load_clip`), decoded in threads."""
    paths = [str(p) for p in paths]
    n_samples = round(seconds * audio.SAMPLE_RATE)
    waves = torch.empty((len(paths), n_samples), dtype=torch.float32)
    with ThreadPoolExecutor(_LOAD_THREADS, thread_name_prefix="load-wave") as pool:
        for first in range(0, len(paths), _REPORT_EVERY_CLIPS):
            check_cancel(cancel)
            chunk = paths[first:first + _REPORT_EVERY_CLIPS]
            loaded = pool.map(lambda p: audio.load_clip(p, audio.SAMPLE_RATE, seconds), chunk)
            for offset, wave in enumerate(loaded):
                waves[first + offset] = torch.from_numpy(wave)
            report(progress, first + len(chunk), len(paths), "loading audio")
    return waves


@dataclasses.dataclass
class TrainingData:
    """Training clips in memory with their class ids, and the noise clips used for mixing.

    ``is_clean`` marks clean machine clips (supplemental): they always get noise added (the
    simulated recordings of noise mixing). ``noise_pool[m]`` lists the noise clips of machine
    ``m`` (every noise clip when the machine has none of its own).
    """

    waves: torch.Tensor  # [N, samples]
    classes: torch.Tensor  # [N] long
    is_clean: torch.Tensor  # [N] bool
    machine_ids: torch.Tensor  # [N] long
    noise: torch.Tensor  # [M, samples]
    noise_pool: list[torch.Tensor]
    repeats: torch.Tensor | None = None  # [N] long: times each clip comes per epoch (None: 1)

    def __len__(self) -> int:
        return len(self.waves)

    def epoch_rows(self) -> torch.Tensor:
        """Every clip's row, each as many times as it comes in one epoch."""
        rows = torch.arange(len(self))
        return rows if self.repeats is None else rows.repeat_interleave(self.repeats)

    @classmethod
    def load(cls, examples: pd.DataFrame, class_ids, is_clean, noise: pd.DataFrame,
             seconds: float, progress: ProgressFn | None = None,
             cancel: CancelFn | None = None, repeats: np.ndarray | None = None
             ) -> TrainingData:
        machines = sorted(set(examples["machine"]) | set(noise["machine"]))
        machine_index = {m: i for i, m in enumerate(machines)}
        paths = list(examples["path"]) + list(noise["path"])
        waves = load_waveforms(paths, seconds, progress, cancel)
        noise_machines = np.array([machine_index[m] for m in noise["machine"]], dtype=int)
        pool = []
        for m in range(len(machines)):
            own = np.flatnonzero(noise_machines == m)
            pool.append(torch.from_numpy(own if own.size else np.arange(len(noise))))
        return cls(waves=waves[:len(examples)],
                   classes=torch.as_tensor(list(class_ids), dtype=torch.long),
                   is_clean=torch.tensor(np.array(is_clean, dtype=bool)),
                   machine_ids=torch.as_tensor([machine_index[m] for m in examples["machine"]]),
                   noise=waves[len(examples):], noise_pool=pool,
                   repeats=None if repeats is None else torch.as_tensor(repeats,
                                                                         dtype=torch.long))

    def batch(self, rows: torch.Tensor, n_classes: int, config, generator: torch.Generator,
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms (noise mixed in where due) and one-hot labels of ``rows``, on ``device``."""
        waves = self.waves[rows]
        labels = F.one_hot(self.classes[rows], n_classes).float()
        if len(self.noise):
            augmented = torch.rand(len(rows), generator=generator) < config.noise_augment_p
            chosen = self.is_clean[rows] | (augmented & config.noise_augment)
            noise = torch.stack([self._random_noise(int(m), generator)
                                 for m in self.machine_ids[rows]])
            waves = augment.add_noise(waves.to(device), noise.to(device), chosen.to(device),
                                      config.snr_db, generator)
        return waves.to(device), labels.to(device)

    def to(self, device: torch.device) -> TrainingData:
        """These clips with their waveforms and noise on ``device`` (class ids and indices stay
        on the CPU, where `batch` draws them)."""
        return dataclasses.replace(self, waves=self.waves.to(device), noise=self.noise.to(device))

    def fits_on(self, device: torch.device, share: float = 0.5) -> bool:
        """Whether the waveforms take less than ``share`` of the GPU's free memory."""
        if device.type != "cuda":
            return False
        free, _ = torch.cuda.mem_get_info(device)
        return self.waves.nbytes + self.noise.nbytes < share * free

    def _random_noise(self, machine: int, generator: torch.Generator) -> torch.Tensor:
        pool = self.noise_pool[machine]
        return self.noise[pool[int(torch.randint(len(pool), (1,), generator=generator))]]


# --- training --------------------------------------------------------------------------------

def train(model: nn.Module, data: TrainingData, config, progress: ProgressFn | None = None,
          cancel: CancelFn | None = None, checkpoint: str | Path | None = None,
          data_on_device: bool | None = None) -> dict:
    """Train ``model`` (in place) and return its history: per epoch ``loss``,
    ``clips_per_second`` and ``data_fraction`` (share of step time spent assembling batches),
    and ``setup`` (device, processes, DDP backend, whether the clips sat on the GPU).

    ``config`` provides epochs, batch_size, lr, weight_decay, seed, device, num_threads and the
    augmentation settings `TrainingData.batch` reads. ``data_on_device``: keep the clips on the
    GPU for the whole run; by default when they take under half its free memory. Gathering each
    batch on the host and copying it over cost a third of the full-width model's throughput on
    an H200 (bench/bench_gpu.py), and a DCASE development set's clips take a few GB.
    """
    device = _training_device(config.device)
    if data_on_device is None:
        data_on_device = data.fits_on(device)
    if data_on_device:
        data = data.to(device)
    with torch_threads(config.num_threads), cudnn_autotune(device.type == "cuda"):
        job = _Training.start(model, config, device, bool(data_on_device),
                              Path(checkpoint) if checkpoint is not None else None)
        n_batches = math.ceil(len(data.epoch_rows()) / config.batch_size)
        job.report_setup(progress, config.epochs * n_batches)
        for epoch in range(job.epoch, config.epochs):
            job.run_epoch(epoch, data, n_batches, progress, cancel)
        model.eval()
        return job.history


def _training_device(name: str) -> torch.device:
    device = resolve_device(name)
    if device.type == "cuda" and device.index is None:  # the GPU `init_distributed` chose
        device = torch.device("cuda", torch.cuda.current_device())
    return device


@dataclasses.dataclass
class _Training:
    """One training job's moving parts: the model (and its DDP wrapper), optimizer, random
    generator and position (``epoch``, ``step``), restored from the checkpoint when resuming."""

    model: nn.Module
    wrapped: nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    config: object
    device: torch.device
    dist: Distributed
    checkpoint: Path | None
    epoch: int
    step: int
    history: dict

    @classmethod
    def start(cls, model: nn.Module, config, device: torch.device, data_on_device: bool,
              checkpoint: Path | None) -> _Training:
        """Place the model, build the optimizer and generator; resume from ``checkpoint``."""
        dist = current_distributed()
        model.to(device)
        wrapped = model
        if torch_dist.is_available() and torch_dist.is_initialized():
            wrapped = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                      lr=config.lr, weight_decay=config.weight_decay)
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + dist.rank)
        state = {"epoch": 0, "step": 0, "history": {"loss": [], "clips_per_second": [],
                                                    "data_fraction": []}}
        if checkpoint is not None and checkpoint.is_file():
            state = _restore(checkpoint, model, optimizer, generator)
            if state.pop("finished") and state["epoch"] < config.epochs:
                raise ASDError(f"The checkpoint {checkpoint} is of a finished training (it "
                               f"keeps no optimizer state), so it cannot train on to "
                               f"{config.epochs} epochs; train a new run.")
        state["history"]["setup"] = {  # where it trained, for the run's record and benchmarks
            "device": device.type, "processes": dist.world_size,
            "backend": torch_dist.get_backend() if wrapped is not model else None,
            "data_on_device": data_on_device}
        return cls(model, wrapped, optimizer, generator, config, device, dist, checkpoint,
                   **state)

    def report_setup(self, progress: ProgressFn | None, total_steps: int) -> None:
        if not self.dist.is_main:
            return
        setup = self.history["setup"]
        report(progress, 0, total_steps, f"training on {self.device}"
               + (f", {self.dist.world_size} process(es) ({setup['backend']})"
                  if setup["backend"] else "")
               + (", clips kept on the GPU" if self.device.type == "cuda"
                  and setup["data_on_device"] else ""))

    def run_epoch(self, epoch: int, data: TrainingData, n_batches: int,
                  progress: ProgressFn | None, cancel: CancelFn | None) -> None:
        """Train epoch ``epoch`` (from the resumed step), record its history, checkpoint."""
        config, dist = self.config, self.dist
        rows = data.epoch_rows()
        order = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(
            config.seed * 1_000_003 + 7919 * (epoch + 1)))]
        batches = order.split(config.batch_size)
        self.model.train()
        losses, n_clips, data_time, started = [], 0, 0.0, time.perf_counter()
        for step in range(self.step if epoch == self.epoch else 0, len(batches)):
            if dist.any(cancel is not None and cancel(), self.device):
                if dist.is_main:
                    self.save(epoch, step)
                raise Cancelled("Training was cancelled; the run can be resumed.")
            if len(batches[step]) < 2 * dist.world_size:  # BatchNorm needs 2 clips a rank
                continue
            rows = batches[step][dist.rank::dist.world_size]
            tick = time.perf_counter()
            waves, labels = data.batch(rows, self.model.main_head.n_classes, config,
                                       self.generator, self.device)
            data_time += time.perf_counter() - tick
            losses.append(self.train_step(waves, labels))
            n_clips += len(rows) * dist.world_size
            if dist.is_main:
                report(progress, epoch * n_batches + step + 1, config.epochs * n_batches,
                       f"epoch {epoch + 1}/{config.epochs} loss {losses[-1]:.3f}",
                       epoch=epoch + 1, epochs=config.epochs, loss=losses[-1])
        elapsed = time.perf_counter() - started
        self.history["loss"].append(float(np.mean(losses)) if losses else float("nan"))
        self.history["clips_per_second"].append(n_clips / elapsed if elapsed > 0 else 0.0)
        self.history["data_fraction"].append(data_time / elapsed if elapsed > 0 else 0.0)
        if dist.is_main:
            self.save(epoch + 1, 0)

    def train_step(self, waves: torch.Tensor, labels: torch.Tensor) -> float:
        """One optimizer step on a batch; returns its loss."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.device.type == "cuda"):
            loss = self.wrapped(waves, labels, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def save(self, epoch: int, step: int) -> None:
        """Checkpoint at position (``epoch``, ``step``), when there is a checkpoint file. The
        last one, after the final epoch, leaves the optimizer's state out: nothing will step
        again, and Adam's two moments are twice the model (280 of 420 MB at width 64)."""
        if self.checkpoint is not None:
            finished = epoch >= self.config.epochs
            _save(self.checkpoint, self.model, None if finished else self.optimizer,
                  self.generator, epoch, step, self.history)


def _save(path: Path, model: nn.Module, optimizer, generator: torch.Generator, epoch: int,
          step: int, history: dict) -> None:
    with atomic.atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(),
                    "optimizer": optimizer.state_dict() if optimizer is not None else None,
                    "generator": generator.get_state(), "epoch": epoch, "step": step,
                    "history": history}, tmp)


def _restore(path: Path, model: nn.Module, optimizer, generator: torch.Generator) -> dict:
    """Load a checkpoint into the parts; its position and history, and ``finished`` when it
    was saved after the final epoch without the optimizer's state."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(saved["model"])
        if saved["optimizer"] is not None:
            optimizer.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
        return {"epoch": saved["epoch"], "step": saved["step"], "history": saved["history"],
                "finished": saved["optimizer"] is None}
    except (OSError, RuntimeError, ValueError, EOFError, KeyError, TypeError,
            pickle.UnpicklingError) as err:
        raise ASDError(f"The checkpoint {path} is damaged or not a checkpoint of this run, so "
                       "training cannot resume from it; delete it to train the run from the "
                       "start.") from err


@torch.no_grad()
def embed(net: nn.Module, waves: torch.Tensor, device: torch.device, batch_size: int,
          cancel: CancelFn | None = None) -> np.ndarray:
    """``net.embed`` over ``waves`` in batches, in eval mode: float32 ``[N, D]``."""
    net.to(device).eval()
    out = []
    for chunk in waves.split(batch_size):
        check_cancel(cancel)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(net.embed(chunk.to(device)).float().cpu())
    return torch.cat(out).numpy() if out else np.empty((0, 0), dtype=np.float32)
