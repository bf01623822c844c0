"""The official DCASE Task 2 autoencoder baseline, reimplemented as the comparison system.

Facts taken from ``nttcslab/dcase2023_task2_baseline_ae`` (network, feature, Mahalanobis code
and ``baseline.yaml``); the code here is our own:

- Input: log-mel frames (128 mels, n_fft 1024, hop 512, power 2, fmin 0, fmax sr/2, no
  high-pass, no repetition of short clips); 5 consecutive frames concatenated frame after
  frame into one 640-d vector, frame hop 1, so block ``t`` of a vector (``[128 t, 128 t + 128)``)
  is the mel spectrum of its ``t``-th frame.
- Net: Linear 640->128, 3x Linear 128->128, Linear 128->8, Linear 8->128, 3x Linear 128->128,
  Linear 128->640. Every Linear but the last is followed by BatchNorm1d(momentum 0.01,
  eps 1e-3) and ReLU, the 8-d bottleneck included.
- Training: Adam lr 1e-3, batch 256, MSE, 100 epochs; 10 % of the training *vectors* (not
  clips) held out for validation; batches of one vector are skipped (BatchNorm needs two).
- MSE score: mean squared reconstruction error over all vectors of a clip.
- Mahalanobis score: every 640-d residual is cut into its five 128-d blocks; a covariance per
  domain (source / target, from the file name) is estimated from the training residual blocks;
  a clip's score for a domain is ``m^T C^-1 m`` with ``m`` the mean residual block over all
  the clip's vectors and blocks (the baseline computes the mean of the full matrix
  ``D C^-1 D^T`` of all the clip's blocks, which is the same number), and the clip's score is
  the smaller of the two.

Where we deliberately differ (none of it changes how test clips rank within a mode):

- The baseline divides the summed block outer products by the number of *vectors* minus one
  (about five times the block count) and centres them per batch; we use the ordinary
  covariance of the blocks, which rescales both domains' scores by the same constant (~1/5).
- The baseline's training score distributions (used for the decision threshold) are losses of
  random 256-vector batches; training scores here are per training clip, like test scores.
- Covariances are estimated on all training clips after training (the baseline uses its
  90 % training split).
- Thin domains: a domain without training clips borrows the other domain's covariance (as
  the baseline does for a missing target). Each covariance gets a ridge of
  ``mahalanobis_ridge`` times its mean variance and is inverted with a symmetric
  pseudo-inverse, so a rank-deficient target covariance (fewer than ~129 residual blocks)
  cannot fail; its barely-estimated directions then give large target distances and the
  ``min`` falls back to the source score. With DCASE's 10 target clips (about 15,000 blocks)
  the covariance has full rank and the default ridge is numerical only.
- Float32 everywhere, on CPU and CUDA alike: the net is tiny (268k parameters), so bf16
  autocast would save nothing measurable and would coarsen the squared errors that are the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asdcore import atomic
from asdcore.configs import Config, setting
from asdcore.constants import DOMAINS
from asdcore.errors import ASDError
from asdcore.features import LogMelConfig, resolve_device
from asdcore.models.base import Detector
from asdcore.models.saved import read_model_json, write_model_json
from asdcore.progress import CancelFn, ProgressFn, check_cancel, report

SCORE_MODES = ("mse", "mahalanobis")

# Vectors per forward pass when scoring or validating (memory, not results, depends on it).
_EVAL_CHUNK_VECTORS = 16384


@dataclass(frozen=True)
class AEConfig(Config):
    """Everything that defines an autoencoder run; defaults are the official baseline's."""

    what: ClassVar[str] = "autoencoder"

    n_mels: int = 128
    n_frames: int = 5
    hidden: int = 128
    bottleneck: int = 8
    epochs: int = setting(100, "Epochs", "number", low=1, high=1000,
                          help="The official baseline trains 100 epochs.")
    batch_size: int = 256
    lr: float = 1e-3
    validation_split: float = 0.1
    seed: int = setting(13711, "Seed", "number", low=0, high=2**31 - 1)  # the baseline's
    device: str = "auto"
    score_mode: str = "mse"  # mode `decision_function` uses when not told; both are always fitted
    mahalanobis_ridge: float = 1e-6  # relative to the covariance's mean variance

    def __post_init__(self):
        if self.score_mode not in SCORE_MODES:
            raise ASDError(f"Unknown score mode {self.score_mode!r}; "
                           f"use one of {', '.join(SCORE_MODES)}.")
        if not 0.0 <= self.validation_split < 1.0:
            raise ASDError("The validation split must be at least 0 and below 1.")
        for name in ("n_mels", "n_frames", "hidden", "bottleneck", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ASDError(f"The autoencoder setting {name} must be at least 1.")
        if self.batch_size < 2:
            raise ASDError("The batch size must be at least 2 (BatchNorm needs two vectors).")

    @property
    def input_dim(self) -> int:
        return self.n_mels * self.n_frames


def feature_config(clip_seconds: float) -> LogMelConfig:
    """The baseline's front end as a `LogMelConfig`: full band, no high-pass, clip's own length.

    ``clip_seconds`` is the machine's clip duration (one length per machine in DCASE data), so
    nothing is repeated or cropped: a 10 s clip gives 313 frames and 309 vectors.
    """
    # fmax 8 kHz is sr / 2 at 16 kHz, what the baseline's fmax=None means.
    return LogMelConfig(fmin=0.0, fmax=8000.0, highpass_hz=None, seconds=float(clip_seconds))


def _gather_vectors(frames: torch.Tensor, clip_index: torch.Tensor, start: torch.Tensor,
                    n_frames: int) -> torch.Tensor:
    """Vectors of ``n_frames`` consecutive frames, frame after frame: ``[B, n_frames * n_mels]``.

    ``frames`` is ``[clips, T, n_mels]`` (time-major, so one frame's mels are contiguous);
    vector ``b`` starts at frame ``start[b]`` of clip ``clip_index[b]``.
    """
    offsets = torch.arange(n_frames, device=frames.device)
    windows = frames[clip_index[:, None], start[:, None] + offsets]  # [B, n_frames, n_mels]
    return windows.reshape(len(clip_index), -1)


def _clip_vectors(frames: torch.Tensor, n_frames: int) -> torch.Tensor:
    """All vectors of all clips, clip after clip: ``[clips * V, n_frames * n_mels]``."""
    n_clips, n_time, _ = frames.shape
    n_vectors = n_time - n_frames + 1
    clip_index = torch.arange(n_clips, device=frames.device).repeat_interleave(n_vectors)
    start = torch.arange(n_vectors, device=frames.device).repeat(n_clips)
    return _gather_vectors(frames, clip_index, start, n_frames)


def frame_vectors(logmel: np.ndarray, n_frames: int = 5) -> np.ndarray:
    """``[n_mels, T]`` log-mel -> ``[T - n_frames + 1, n_mels * n_frames]`` baseline vectors.

    Vector ``i`` is frames ``i .. i + n_frames - 1`` concatenated, each frame's ``n_mels``
    values together (the baseline's ordering).
    """
    logmel = np.asarray(logmel, dtype=np.float32)
    if logmel.ndim != 2 or logmel.shape[1] < n_frames:
        raise ASDError(f"A log-mel of shape {logmel.shape} has fewer than {n_frames} frames.")
    frames = torch.from_numpy(np.ascontiguousarray(logmel.T))[None]
    return _clip_vectors(frames, n_frames).numpy()


def _dense(n_in: int, n_out: int) -> list[nn.Module]:
    return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out, momentum=0.01, eps=1e-3), nn.ReLU()]


class AENet(nn.Module):
    """The baseline's fully connected autoencoder (see the module docstring)."""

    def __init__(self, input_dim: int = 640, hidden: int = 128, bottleneck: int = 8):
        super().__init__()
        self.encoder = nn.Sequential(
            *_dense(input_dim, hidden),
            *_dense(hidden, hidden), *_dense(hidden, hidden), *_dense(hidden, hidden),
            *_dense(hidden, bottleneck),
        )
        self.decoder = nn.Sequential(
            *_dense(bottleneck, hidden),
            *_dense(hidden, hidden), *_dense(hidden, hidden), *_dense(hidden, hidden),
            nn.Linear(hidden, input_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def _as_frames(logmels: np.ndarray, config: AEConfig, device: torch.device) -> torch.Tensor:
    """Check ``[clips, n_mels, T]`` log-mels and return them time-major on ``device``."""
    logmels = np.asarray(logmels)
    if logmels.ndim != 3 or len(logmels) == 0:
        raise ASDError(f"Expected log-mels shaped [clips, mels, frames], got {logmels.shape}.")
    if logmels.shape[1] != config.n_mels:
        raise ASDError(f"The log-mels have {logmels.shape[1]} mel bands; the autoencoder "
                       f"expects {config.n_mels}.")
    if logmels.shape[2] < config.n_frames:
        raise ASDError(f"Clips of {logmels.shape[2]} frames are shorter than the "
                       f"{config.n_frames} frames of one vector.")
    frames = torch.from_numpy(np.ascontiguousarray(logmels.transpose(0, 2, 1), dtype=np.float32))
    return frames.to(device)


def _new_network(config: AEConfig) -> AENet:
    # Initialise from the seed without disturbing the caller's global random state; built on
    # the CPU so CPU and CUDA runs start from the same weights.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return AENet(config.input_dim, config.hidden, config.bottleneck)


@torch.no_grad()
def _mean_squared_error(model: AENet, frames: torch.Tensor, vector_ids: torch.Tensor,
                        n_vectors: int, n_frames: int) -> float:
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=frames.device)
    for chunk in vector_ids.split(_EVAL_CHUNK_VECTORS):
        x = _gather_vectors(frames, chunk // n_vectors, chunk % n_vectors, n_frames)
        total += F.mse_loss(model(x), x, reduction="sum").double() / x.shape[1]
    return float(total) / len(vector_ids)


def train_autoencoder(logmels: np.ndarray, config: AEConfig | None = None,
                      progress: ProgressFn | None = None,
                      cancel: CancelFn | None = None) -> tuple[AENet, dict]:
    """Train the baseline autoencoder on ``[clips, n_mels, T]`` log-mels of normal clips.

    Returns the network (in eval mode, on the configured device) and the history
    ``{"train_loss": [...], "val_loss": [...]}``, one value per epoch (``val_loss`` entries
    are None without a validation split). ``progress`` is told after every epoch, ``cancel``
    is polled before every batch.
    """
    config = config or AEConfig()
    return _train_on_frames(_as_frames(logmels, config, resolve_device(config.device)),
                            config, progress, cancel)


def _train_on_frames(frames: torch.Tensor, config: AEConfig, progress: ProgressFn | None,
                     cancel: CancelFn | None) -> tuple[AENet, dict]:
    device = frames.device
    n_vectors = frames.shape[1] - config.n_frames + 1
    n_total = len(frames) * n_vectors

    # Vector-level split, as the baseline's train_test_split over its vector array.
    order = torch.from_numpy(np.random.default_rng(config.seed).permutation(n_total))
    n_val = int(round(n_total * config.validation_split))
    val_ids, train_ids = order[:n_val].to(device), order[n_val:]
    if len(train_ids) < 2:
        raise ASDError("Too little training data: the autoencoder needs at least two vectors.")

    model = _new_network(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    shuffler = torch.Generator().manual_seed(config.seed)
    history: dict[str, list] = {"train_loss": [], "val_loss": []}

    for epoch in range(1, config.epochs + 1):
        model.train()
        epoch_ids = train_ids[torch.randperm(len(train_ids), generator=shuffler)].to(device)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        n_seen = 0
        for batch in epoch_ids.split(config.batch_size):
            check_cancel(cancel)
            if len(batch) < 2:  # BatchNorm cannot normalise a single vector
                continue
            x = _gather_vectors(frames, batch // n_vectors, batch % n_vectors, config.n_frames)
            loss = F.mse_loss(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().double() * len(batch)
            n_seen += len(batch)
        train_loss = float(loss_sum) / n_seen
        val_loss = (_mean_squared_error(model, frames, val_ids, n_vectors, config.n_frames)
                    if n_val else None)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        message = f"epoch {epoch}/{config.epochs}: train loss {train_loss:.4f}"
        if val_loss is not None:
            message += f", val loss {val_loss:.4f}"
        report(progress, epoch, config.epochs, message, epoch=epoch, epochs=config.epochs,
               loss=train_loss)

    model.eval()
    return model, history


@torch.no_grad()
def _residual_statistics(model: AENet, frames: torch.Tensor, n_frames: int,
                         cancel: CancelFn | None = None, is_target: np.ndarray | None = None):
    """Per clip: MSE and mean residual block (float64, CPU).

    With ``is_target`` (one bool per clip) also returns, per domain present, the number of
    residual blocks, their sum and the sum of their outer products (for the covariance).
    """
    model.eval()
    n_clips, n_time, n_mels = frames.shape
    n_vectors = n_time - n_frames + 1
    clips_per_chunk = max(1, _EVAL_CHUNK_VECTORS // n_vectors)
    mse, mean_block = [], []
    sums = {}
    for first in range(0, n_clips, clips_per_chunk):
        check_cancel(cancel)
        chunk = frames[first:first + clips_per_chunk]
        x = _clip_vectors(chunk, n_frames)
        blocks = (x - model(x)).reshape(len(chunk), n_vectors * n_frames, n_mels).double()
        mse.append(blocks.pow(2).mean(dim=(1, 2)).cpu())
        mean_block.append(blocks.mean(dim=1).cpu())
        if is_target is None:
            continue
        chunk_is_target = torch.from_numpy(is_target[first:first + clips_per_chunk])
        for domain, mask in (("source", ~chunk_is_target), ("target", chunk_is_target)):
            if mask.any():
                domain_blocks = blocks[mask.to(blocks.device)].reshape(-1, n_mels)
                count, total, outer = sums.get(domain, (0, 0.0, 0.0))
                sums[domain] = (count + len(domain_blocks),
                                total + domain_blocks.sum(0).cpu(),
                                outer + (domain_blocks.T @ domain_blocks).cpu())
    return torch.cat(mse), torch.cat(mean_block), sums


def _inverse_covariance(block_sum: torch.Tensor, outer_sum: torch.Tensor, n_blocks: int,
                        ridge: float) -> torch.Tensor:
    """Regularised inverse of the covariance of ``n_blocks`` residual blocks given their sums."""
    mean = block_sum / n_blocks
    covariance = (outer_sum - n_blocks * torch.outer(mean, mean)) / max(n_blocks - 1, 1)
    scale = torch.diagonal(covariance).mean().clamp_min(torch.finfo(torch.float64).tiny)
    covariance = covariance + ridge * scale * torch.eye(len(covariance), dtype=covariance.dtype)
    return torch.linalg.pinv(covariance, hermitian=True)


def _domain_mask(domains: Sequence[str] | None, n_clips: int) -> np.ndarray:
    """True for target clips; ``None`` means all source."""
    if domains is None:
        return np.zeros(n_clips, dtype=bool)
    domains = [str(d).lower() for d in domains]
    if len(domains) != n_clips:
        raise ASDError(f"Got {len(domains)} domains for {n_clips} clips.")
    unknown = sorted(set(domains) - set(DOMAINS))
    if unknown:
        raise ASDError(f"Unknown domain {unknown[0]!r}; use 'source' or 'target'.")
    return np.array([d == "target" for d in domains])


class AutoencoderDetector(Detector):
    """The baseline autoencoder as a detector: ``fit`` on one machine's normal clips, then score.

    Follows the scikit-learn contract: ``fit`` returns self, ``decision_function`` gives higher
    scores to more anomalous clips, fitted state ends in ``_``:

    - ``history_``: train/val loss per epoch;
    - ``training_scores_``: ``{mode: scores of the training clips}``; ``decision_scores_`` and
      ``threshold_`` are those of the config's score mode (`with_mode` picks another);
    - ``inv_cov_``: ``{domain: inverse covariance of the residual blocks}``;
    - ``n_clips_``: ``{domain: number of training clips}``.
    """

    name = "ae"
    config_class = AEConfig
    backends = SCORE_MODES
    description = "the official autoencoder baseline, one per machine type"

    def feature_config(self, clip_seconds: float) -> LogMelConfig:
        return feature_config(clip_seconds)

    def __init__(self, config: AEConfig | None = None):
        super().__init__(config)
        self.network_: AENet | None = None

    @property
    def device(self) -> torch.device:
        return next(self._fitted_network().parameters()).device

    def _fitted_network(self) -> AENet:
        if self.network_ is None:
            raise ASDError("The autoencoder has not been trained yet.")
        return self.network_

    def fit(self, logmels: np.ndarray, domains: Sequence[str] | None = None,
            progress: ProgressFn | None = None, cancel: CancelFn | None = None):
        """Train on normal ``[clips, n_mels, T]`` log-mels and their domains (None: all source)."""
        is_target = _domain_mask(domains, len(logmels))
        frames = _as_frames(logmels, self.config, resolve_device(self.config.device))
        network, history = _train_on_frames(frames, self.config, progress, cancel)
        mse, mean_block, sums = _residual_statistics(
            network, frames, self.config.n_frames, cancel, is_target)

        inv_cov = {domain: _inverse_covariance(total, outer, count, self.config.mahalanobis_ridge)
                   for domain, (count, total, outer) in sums.items()}
        for domain, other in (("source", "target"), ("target", "source")):
            if domain not in inv_cov:  # no training clips: borrow the other domain's
                inv_cov[domain] = inv_cov[other]

        self.network_ = network
        self.history_ = history
        self.n_clips_ = {"source": int((~is_target).sum()), "target": int(is_target.sum())}
        self.inv_cov_ = inv_cov
        self.training_scores_ = {"mse": mse.numpy(),
                                 "mahalanobis": self._mahalanobis(mean_block).numpy()}
        return self

    @property
    def decision_scores_(self) -> np.ndarray:
        self._fitted_network()  # a clear error before training
        return self.training_scores_[self.config.score_mode]

    def _mahalanobis(self, mean_block: torch.Tensor) -> torch.Tensor:
        per_domain = [torch.einsum("ni,ij,nj->n", mean_block, self.inv_cov_[d], mean_block)
                      for d in DOMAINS]
        return torch.minimum(*per_domain)

    def scores_by_mode(self, logmels: np.ndarray,
                       cancel: CancelFn | None = None) -> dict[str, np.ndarray]:
        """``{mode: score per clip}`` for every mode, from one pass over the clips."""
        network = self._fitted_network()
        frames = _as_frames(logmels, self.config, self.device)
        mse, mean_block, _ = _residual_statistics(network, frames, self.config.n_frames, cancel)
        return {"mse": mse.numpy(), "mahalanobis": self._mahalanobis(mean_block).numpy()}

    def decision_function(self, logmels: np.ndarray, mode: str | None = None,
                          cancel: CancelFn | None = None) -> np.ndarray:
        """Anomaly score per clip (higher = more anomalous); ``mode`` defaults to the config's."""
        mode = (mode or self.config.score_mode).lower()
        if mode not in SCORE_MODES:
            raise ASDError(f"Unknown score mode {mode!r}; use one of {', '.join(SCORE_MODES)}.")
        return self.scores_by_mode(logmels, cancel)[mode]

    @torch.no_grad()
    def cell_errors(self, logmels: np.ndarray) -> np.ndarray:
        """``[clips, n_mels, T]`` squared reconstruction error of each log-mel cell, averaged
        over the input vectors that contain it (a cell is in up to ``n_frames`` vectors)."""
        network = self._fitted_network().eval()
        n_frames = self.config.n_frames
        n_clips, n_mels, n_time = logmels.shape
        n_vectors = n_time - n_frames + 1
        errors = np.zeros((n_clips, n_time, n_mels))
        counts = np.zeros(n_time)
        for first in range(n_frames):
            counts[first:first + n_vectors] += 1
        for clip, logmel in enumerate(logmels):
            vectors = torch.from_numpy(frame_vectors(logmel, n_frames)).to(self.device)
            blocks = (vectors - network(vectors)).pow(2).reshape(n_vectors, n_frames, n_mels)
            blocks = blocks.double().cpu().numpy()
            for offset in range(n_frames):
                errors[clip, offset:offset + n_vectors] += blocks[:, offset]
        return (errors / counts[None, :, None]).transpose(0, 2, 1)

    def state_dict(self) -> dict:
        """Tensors only (loadable with ``torch.load(weights_only=True)``)."""
        return {
            "network": self._fitted_network().state_dict(),
            "inv_cov": dict(self.inv_cov_),
            "decision_scores": {m: torch.from_numpy(s) for m, s in self.training_scores_.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        network = AENet(self.config.input_dim, self.config.hidden, self.config.bottleneck)
        network.load_state_dict(state["network"])
        self.network_ = network.to(resolve_device(self.config.device)).eval()
        self.inv_cov_ = {d: state["inv_cov"][d].double().cpu() for d in DOMAINS}
        self.training_scores_ = {m: s.numpy() for m, s in state["decision_scores"].items()}

    def save(self, directory: str | Path) -> Path:
        """Write ``weights.pt`` (the state dict) and ``model.json`` (config, history)."""
        directory = Path(directory)
        with atomic.atomic_path(directory / "weights.pt") as tmp:
            torch.save(self.state_dict(), tmp)
        write_model_json(directory, self, history=self.history_, n_clips=self.n_clips_)
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> AutoencoderDetector:
        """Read a detector written by `save`; ``device`` overrides the saved config's."""
        directory = Path(directory)
        meta, config = read_model_json(directory, cls, "autoencoder", device)
        try:
            state = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise ASDError(f"No saved autoencoder in {directory} "
                           "(weights.pt is missing).") from None
        detector = cls(config)
        detector.load_state_dict(state)
        detector.history_ = meta["history"]
        detector.n_clips_ = meta["n_clips"]
        return detector


def train_machine(logmels: np.ndarray, domains: Sequence[str] | None = None,
                  config: AEConfig | None = None, progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None) -> AutoencoderDetector:
    """Train one machine type's autoencoder on its normal training clips (the CLI's entry point)."""
    return AutoencoderDetector(config).fit(logmels, domains, progress, cancel)
