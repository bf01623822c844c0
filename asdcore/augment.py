"""Training-time augmentations and the self-supervised labels they create (DCASE.md section 5).

All functions are batch in, batch out on torch tensors (any device), take an explicit
``torch.Generator`` for every random draw (seeded runs repeat exactly) and leave their inputs
untouched. Labels are soft ``[B, C]`` class vectors.

- `mixup`: ``x = lam * x_a + (1 - lam) * x_b`` with ``lam ~ U(0, 1)`` per sample, applied with
  probability ``p``, partner = another sample of the batch; labels mixed the same way.
- `statex`: temporal statistics exchange on log-mels: each frame of sample A is standardised
  over frequency and given partner B's frame mean and standard deviation; the label moves into
  a 3C space (`exchange_labels`).
- `featex`: feature exchange between two embedding branches: sample A keeps its first-branch
  embedding and takes its partner's second-branch one; 3C labels again (9C when the labels are
  already StatEx's 3C).
- `mix_at_snr` / `add_noise`: noise at a signal-to-noise ratio drawn from a range, for
  clean-machine + noise-only simulation and for noise augmentation of ordinary clips.
- `random_shift`: each waveform circularly shifted by a random number of samples, so a clip
  repeated to the model's length does not always start the input (the SSL recipe tiles each
  clip and cuts it at a random offset).
"""

from __future__ import annotations

import torch

_STD_FLOOR = 1e-5  # a silent frame keeps its (zero) shape instead of dividing by zero


def exchange_labels(labels: torch.Tensor, partner: torch.Tensor,
                    exchanged: torch.Tensor) -> torch.Tensor:
    """``[B, C]`` -> ``[B, 3C]``: ``[y, 0, 0]`` for unchanged samples and
    ``[0, y / 2, y_partner / 2]`` for exchanged ones (``exchanged`` is a bool ``[B]``)."""
    kept = (~exchanged).to(labels.dtype)[:, None]
    swapped = exchanged.to(labels.dtype)[:, None]
    return torch.cat([kept * labels, swapped * labels / 2, swapped * labels[partner] / 2], dim=1)


def pick(batch_size: int, p: float, generator: torch.Generator,
         device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Which samples an augmentation changes (bool, probability ``p`` each) and each sample's
    partner: another sample of the batch (itself only in a batch of one)."""
    chosen = torch.rand(batch_size, generator=generator) < p
    if batch_size > 1:  # a random non-zero shift of a permutation: never the sample itself
        order = torch.randperm(batch_size, generator=generator)
        shift = int(torch.randint(1, batch_size, (1,), generator=generator))
        partner = torch.empty(batch_size, dtype=torch.long)
        partner[order] = order.roll(-shift)
    else:
        partner = torch.zeros(batch_size, dtype=torch.long)
    return chosen.to(device), partner.to(device)


def random_shift(waves: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rows of ``waves [B, T]`` each rolled left by a shift drawn uniformly from ``[0, T)``."""
    shifts = torch.randint(waves.shape[1], (len(waves),), generator=generator).tolist()
    return torch.stack([row.roll(-shift) for row, shift in zip(waves, shifts, strict=True)])


def mixup(x: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
          p: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix inputs ``x [B, ...]`` and soft labels ``[B, C]``; returns (x, labels, mixed mask)."""
    chosen, partner = pick(len(x), p, generator, x.device)
    lam = torch.rand(len(x), generator=generator).to(x.device)
    lam = torch.where(chosen, lam, torch.ones_like(lam))
    lam_x = lam.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)
    mixed_x = lam_x * x + (1 - lam_x) * x[partner]
    lam_y = lam[:, None].to(labels.dtype)
    return mixed_x, lam_y * labels + (1 - lam_y) * labels[partner], chosen


def statex(logmels: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
           p: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Temporal StatEx on ``[B, mels, frames]``; returns (log-mels, 3C labels, exchanged mask)."""
    chosen, partner = pick(len(logmels), p, generator, logmels.device)
    mean = logmels.mean(dim=1, keepdim=True)
    std = logmels.std(dim=1, keepdim=True).clamp_min(_STD_FLOOR)
    exchanged = (logmels - mean) / std * std[partner] + mean[partner]
    out = torch.where(chosen[:, None, None], exchanged, logmels)
    return out, exchange_labels(labels, partner, chosen), chosen


def featex(first: torch.Tensor, second: torch.Tensor, labels: torch.Tensor,
           generator: torch.Generator, p: float = 0.5
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FeatEx on two branch embeddings ``[B, D1]``, ``[B, D2]``: returns (the concatenated
    embedding ``[B, D1 + D2]``, 3x-wider labels, exchanged mask)."""
    chosen, partner = pick(len(first), p, generator, first.device)
    swapped_second = torch.where(chosen[:, None], second[partner], second)
    embedding = torch.cat([first, swapped_second], dim=1)
    return embedding, exchange_labels(labels, partner, chosen), chosen


def mix_at_snr(signal: torch.Tensor, noise: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """``signal + g * noise`` (rows ``[B, T]``) with ``g`` so that the power ratio of signal to
    scaled noise is ``snr_db`` (``[B]``) decibels. Silent noise adds nothing."""
    signal_power = signal.pow(2).mean(dim=1)
    noise_power = noise.pow(2).mean(dim=1)
    wanted = signal_power / torch.pow(10.0, snr_db / 10.0)
    gain = torch.where(noise_power > 0, torch.sqrt(wanted / noise_power.clamp_min(1e-20)),
                       torch.zeros_like(noise_power))
    return signal + gain[:, None] * noise


def add_noise(waves: torch.Tensor, noise: torch.Tensor, chosen: torch.Tensor,
              snr_range_db: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """Rows of ``waves`` where ``chosen`` get the matching row of ``noise`` at an SNR drawn
    uniformly from ``snr_range_db``; the others are returned unchanged."""
    low, high = snr_range_db
    snr = (low + (high - low) * torch.rand(len(waves), generator=generator)).to(waves.device)
    return torch.where(chosen[:, None], mix_at_snr(waves, noise, snr), waves)
