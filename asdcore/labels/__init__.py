"""Pseudo-labels for machines without attributes: clustering, characteristic frequencies from
envelope spectra, their quality against known attributes, and the label store."""

from asdcore.labels.clustering import (
                                       FEATURES,
                                       METHODS,
                                       REDUCTIONS,
                                       ClusterResult,
                                       clip_features,
                                       cluster_machine,
                                       cluster_points,
                                       readable_features,
                                       reduce,
)
from asdcore.labels.envelope import (
    EnvelopeResult,
    envelope_labels,
    frequency_groups,
    suggest_band,
    suggest_line_band,
)
from asdcore.labels.quality import label_quality, truth_of
from asdcore.labels.saving import clip_extras, result_source, save_result
from asdcore.labels.selection import machine_clips, validate_label
from asdcore.labels.store import (
                                       LabelStore,
                                       dataset_key,
                                       extra_columns,
                                       label_csv_text,
                                       labels_for_training,
                                       read_label_csv,
                                       write_label_csv,
)

__all__ = [
    "FEATURES", "METHODS", "REDUCTIONS", "ClusterResult", "EnvelopeResult", "LabelStore",
    "clip_extras", "clip_features", "cluster_machine", "cluster_points", "dataset_key",
    "envelope_labels", "extra_columns", "frequency_groups", "label_csv_text", "label_quality",
    "labels_for_training", "machine_clips", "read_label_csv", "readable_features", "reduce",
    "result_source", "save_result", "suggest_band", "suggest_line_band", "truth_of",
    "validate_label", "write_label_csv",
]
