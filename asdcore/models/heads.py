"""Angular-margin-free classification heads for embedding training: AdaCos and sub-cluster AdaCos.

Both compare the L2-normalised embedding with L2-normalised class centres (cosine logits),
scale the cosines by ``s`` and train with cross-entropy against soft labels (mixup and the
exchange augmentations produce soft labels). With ``subclusters`` K > 1 every class has K
centres; the softmax runs over all C*K logits and the probabilities are summed per class
(sub-cluster AdaCos, Wilkinghoff 2021), so a class may spread over several modes. A class may
use fewer of its K centres (``centres_per_class``: a handful of clips need not spread over 16
modes); the others take no part in the softmax or the scale.

Scale:
- fixed: ``s = sqrt(2) * ln(N - 1)`` with N = C*K centres (the AdaCos paper's choice);
- dynamic: ``s = ln(B_avg) / cos(min(pi/4, theta_med))``, B_avg the batch mean of the summed
  ``exp(s * cos)`` over the non-target centres and theta_med the median angle between an
  embedding and its class (the closest of the class's K centres), updated only on training
  batches (``module.training``) and without gradient. A non-finite or non-positive update is
  dropped and the scale stays within ``[MIN_SCALE, max_scale]``, so it cannot blow up.

Class centres are fixed random unit vectors unless ``trainable_centres``: the SSL recipe
(wilkinghoff/ssl4asd) keeps them frozen so the embedding space cannot collapse onto a few
learned directions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

MIN_SCALE = 1e-3


def fixed_scale(n_centres: int) -> float:
    """``sqrt(2) * ln(N - 1)`` for N centres (at least 1, so the two-centre case is usable)."""
    return math.sqrt(2.0) * math.log(max(n_centres - 1, 2))


class AdaCosHead(nn.Module):
    """``forward(embeddings [B, D], labels [B, C] soft, weights [B] | None) -> loss``, the
    (weighted) mean cross-entropy; ``logits`` gives [B, C] class log-probabilities.
    ``subclusters`` K: centres per class (1 = plain AdaCos). A zero weight leaves a sample out
    of the loss and of the scale update while keeping every parameter in the graph (DDP).
    ``centres_per_class``: how many of its K centres each class uses (default all)."""

    def __init__(self, embedding_dim: int, n_classes: int, subclusters: int = 1,
                 dynamic: bool = False, trainable_centres: bool = False,
                 max_scale: float = 100.0, generator: torch.Generator | None = None,
                 centres_per_class: Sequence[int] | None = None):
        super().__init__()
        if n_classes < 1 or subclusters < 1:
            raise ValueError("An AdaCos head needs at least one class and one centre per class.")
        used = (torch.full((n_classes,), subclusters) if centres_per_class is None
                else torch.tensor(centres_per_class))
        if used.shape != (n_classes,) or bool((used < 1).any() | (used > subclusters).any()):
            raise ValueError(f"Each of the {n_classes} classes uses 1 to {subclusters} centres.")
        self.n_classes = n_classes
        self.subclusters = subclusters
        self.dynamic = dynamic
        self.max_scale = max_scale
        centres = torch.randn(n_classes * subclusters, embedding_dim, generator=generator)
        self.centres = nn.Parameter(centres, requires_grad=trainable_centres)
        # Derived from the settings, so not saved: older weight files load as they are.
        self.register_buffer("active", (torch.arange(subclusters) < used[:, None]).flatten(),
                             persistent=False)
        # A buffer so it is saved, restored, and broadcast by DDP with the module.
        self.register_buffer("scale", torch.tensor(fixed_scale(int(used.sum()))))

    def cosines(self, embeddings: torch.Tensor) -> torch.Tensor:
        """[B, C*K] cosines, class-major (class c owns columns c*K .. c*K+K-1), in float32
        even under bf16 autocast (the scaled cosines feed an exponential)."""
        with torch.autocast(embeddings.device.type, enabled=False):
            return F.linear(F.normalize(embeddings.float(), dim=1),
                            F.normalize(self.centres.float(), dim=1))

    def class_log_probs(self, cosines: torch.Tensor) -> torch.Tensor:
        """[B, C] log-probabilities: softmax over all centres, summed over each class's K."""
        scaled = (self.scale * cosines).masked_fill(~self.active, float("-inf"))
        log_probs = F.log_softmax(scaled, dim=1)
        return log_probs.view(len(cosines), self.n_classes, self.subclusters).logsumexp(dim=2)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.class_log_probs(self.cosines(embeddings))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor,
                weights: torch.Tensor | None = None) -> torch.Tensor:
        cosines = self.cosines(embeddings)
        if weights is None:
            weights = torch.ones(len(cosines), device=cosines.device)
        if self.dynamic and self.training and bool((weights > 0).any()):
            used = weights > 0
            self._update_scale(cosines.detach()[used], labels[used])
        losses = -(labels * self.class_log_probs(cosines)).sum(dim=1)
        return (weights * losses).sum() / weights.sum().clamp_min(1.0)

    @torch.no_grad()
    def _update_scale(self, cosines: torch.Tensor, labels: torch.Tensor) -> None:
        per_centre_labels = labels.repeat_interleave(self.subclusters, dim=1)
        # Non-target centres: every centre of a class the sample has no share in.
        others = torch.where((per_centre_labels > 0) | ~self.active, 0.0,
                             torch.exp(self.scale * cosines))
        b_avg = others.sum(dim=1).mean()
        angles = torch.acos(cosines.clamp(-1 + 1e-7, 1 - 1e-7)).masked_fill(~self.active,
                                                                             math.pi)
        closest = angles.view(len(cosines), self.n_classes, self.subclusters).amin(dim=2)
        theta = (labels * closest).sum(dim=1) / labels.sum(dim=1).clamp_min(1e-12)
        theta_med = theta.median().clamp(max=math.pi / 4)
        new_scale = torch.log(b_avg) / torch.cos(theta_med)
        if torch.isfinite(new_scale) and new_scale > 0:
            self.scale.copy_(new_scale.clamp(MIN_SCALE, self.max_scale))
