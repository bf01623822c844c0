"""How well a labelling recovers known attributes: adjusted Rand index and normalised mutual
information against the truth (true attributes of attribute-less machines where a
correspondence file gives them, else the attributes of machines that have them)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from asdcore.dataset import NO_ATTRIBUTE, parse_attributes


def truth_of(clips: pd.DataFrame, attribute: str | None = None) -> pd.Series:
    """The known attribute string of every clip (index ``file``), "" where none is known.

    ``attribute`` keeps one key of it (``vel`` of ``vel_9_loc_A``): the truth for labels that
    aim at one attribute only, such as speed classes.
    """
    true = clips["true_attributes"].where(clips["true_attributes"] != "", clips["attributes"])
    true = true.where(true != NO_ATTRIBUTE, "")
    if attribute is not None:
        true = true.map(lambda text: parse_attributes(text).get(attribute, "") if text else "")
    return pd.Series(true.to_numpy(), index=clips["file"].to_numpy())


def label_quality(labels: Mapping[str, str], clips: pd.DataFrame,
                  attribute: str | None = None) -> dict | None:
    """ARI and NMI of ``labels`` (``file`` -> label) against the truth on the clips that have
    both, with their count and the numbers of labels and true classes; None when no labelled
    clip has a known truth."""
    truth = truth_of(clips, attribute)
    truth = truth[truth != ""]
    files = [f for f in truth.index if f in labels]
    if not files:
        return None
    predicted, true = [labels[f] for f in files], truth[files].tolist()
    return {
        "ari": float(adjusted_rand_score(true, predicted)),
        "nmi": float(normalized_mutual_info_score(true, predicted)),
        "n_clips": len(files),
        "n_labels": len(set(predicted)),
        "n_true": len(set(true)),
    }
