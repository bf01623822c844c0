"""The seed model's SSL-recipe settings (wilkinghoff/ssl4asd, issue 16) do what the recipe does,
and models saved before them keep the behaviour they were trained with."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asdcore import augment, scoring
from asdcore.features import LogMelConfig
from asdcore.models.seresnet import SeedModel, SeedNet, SEResNetConfig, SEResNetEmbedder

SMALL = dict(width=4, embedding_dim=8, subclusters=2)
RECIPE = {**SMALL, **SEResNetConfig.recipe}
SECONDS = 0.5
SR = 16000


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _tones(n_per_class: int, freqs=(300.0, 1100.0, 3100.0), seed: int = 0):
    """Waveforms of len(freqs) classes (a tone each, random phase, noise), one-hot labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SECONDS * SR)) / SR
    waves, labels = [], []
    for label, freq in enumerate(freqs):
        for _ in range(n_per_class):
            tone = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
            waves.append(0.3 * tone + 0.05 * rng.standard_normal(len(t)))
            labels.append(label)
    return (torch.tensor(np.array(waves), dtype=torch.float32),
            F.one_hot(torch.tensor(labels), len(freqs)).float())


def test_the_defaults_are_the_recipe():
    """The defaults are the SSL recipe (issue 16; FeatEx back on by measurement); the
    behaviour before it is one dict away (``legacy``) and differs in every setting the recipe
    names but FeatEx, which both have on, and the target classes' centres, which were always the
    recipe's."""
    assert SEResNetConfig() == SEResNetConfig(**SEResNetConfig.recipe)
    assert SEResNetConfig.recipe["featex"] and SEResNetConfig().featex
    assert SEResNetConfig.recipe["target_subclusters"] is None
    old = SEResNetConfig(**SEResNetConfig.legacy)
    assert old.featex and old.target_subclusters is None
    assert all(getattr(old, key) != value for key, value in SEResNetConfig.recipe.items()
               if key not in ("featex", "target_subclusters"))
    c = SEResNetConfig()
    assert c.main_head_samples == "all" and c.dynamic_scale and c.temporal_norm
    assert not c.trainable_centres and c.trainable_exchange_centres
    assert c.spectrum_input == "magnitude" and c.seconds == 10.0 and c.random_offset
    assert c.width == 64  # SE-ResNet18's on every device (32 on CPU before 2026-12-08)
    model = SeedModel(SEResNetConfig(**RECIPE), LogMelConfig(seconds=SECONDS), n_classes=3)
    assert not model.main_head.centres.requires_grad
    assert model.exchange_head.centres.requires_grad


def test_every_sample_reaches_the_main_head():
    """With every sample exchanged (StatEx and FeatEx at p=1), the main head still sees the
    whole batch, unweighted, on the embedding before FeatEx."""
    model = SeedModel(SEResNetConfig(**RECIPE, exchange_p=1.0, mixup=False),
                      LogMelConfig(seconds=SECONDS), n_classes=3)
    seen = {}

    def record(module, args, kwargs):
        seen["embeddings"], seen["labels"] = args[0], args[1]
        seen["weights"] = args[2] if len(args) > 2 else kwargs.get("weights")

    model.main_head.register_forward_pre_hook(record, with_kwargs=True)
    waves, labels = _tones(2)
    model(waves, labels, _gen(1))
    assert len(seen["embeddings"]) == len(waves)
    assert seen["weights"] is None or bool((seen["weights"] > 0).all())
    assert torch.equal(seen["labels"], labels)  # StatEx'd samples keep their own labels


@pytest.mark.parametrize("samples", ["all", "unexchanged"])
@pytest.mark.slow
def test_main_head_loss_falls_when_it_alone_is_trained(samples):
    """Only the main head's loss is optimised while every sample is exchanged: with the
    recipe's "all" it falls; the old "unexchanged" head had nothing to learn from."""
    torch.manual_seed(0)
    config = SEResNetConfig(**{**RECIPE, "main_head_samples": samples}, exchange_p=1.0,
                            mixup=False)
    model = SeedModel(config, LogMelConfig(seconds=SECONDS), n_classes=3)
    model.exchange_head = None  # the main head alone
    waves, labels = _tones(4)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    generator = _gen(2)
    losses = []
    model.train()
    for _ in range(20 if samples == "all" else 3):
        optimizer.zero_grad()
        loss = model(waves, labels, generator)
        if loss.requires_grad:
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    if samples == "all":
        assert first > 0.5 and last < 0.8 * first
    else:
        assert max(losses) == 0.0


def test_dynamic_scale_moves_during_training_only():
    model = SeedModel(SEResNetConfig(**RECIPE), LogMelConfig(seconds=SECONDS), n_classes=3)
    waves, labels = _tones(2)
    before = model.main_head.scale.item()
    model.eval()
    with torch.no_grad():
        model(waves, labels, _gen(3))
    assert model.main_head.scale.item() == before
    model.train()
    model(waves, labels, _gen(3))
    after = model.main_head.scale.item()
    assert after != before and math.isfinite(after)


def test_random_shift_rolls_each_row():
    waves = torch.arange(5 * 11, dtype=torch.float32).view(5, 11)
    shifted = augment.random_shift(waves, _gen(4))
    shifts = []
    for row, out in zip(waves, shifted, strict=True):
        matches = [s for s in range(11) if torch.equal(row.roll(-s), out)]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert len(set(shifts)) > 1
    assert torch.equal(shifted, augment.random_shift(waves, _gen(4)))  # seeded


@pytest.mark.parametrize("spectrum_input", ["magnitude", "db"])
def test_spectrum_branch_input(spectrum_input):
    waves, _ = _tones(1)
    magnitude = torch.fft.rfft(waves).abs()
    config = SEResNetConfig(**SMALL, spectrum_input=spectrum_input)
    _, spectra = SeedNet(config, LogMelConfig(seconds=SECONDS)).inputs(waves)
    expected = magnitude if spectrum_input == "magnitude" else \
        20 * magnitude.clamp_min(1e-5).log10()
    assert torch.allclose(spectra, expected, rtol=1e-5, atol=1e-4)
    with pytest.raises(Exception, match="spectrum_input"):
        SEResNetConfig(spectrum_input="log")


def test_spectrum_highpass_weights_low_bins_only():
    waves, _ = _tones(1)
    plain = SeedNet(SEResNetConfig(**RECIPE), LogMelConfig(seconds=SECONDS))
    filtered = SeedNet(SEResNetConfig(**RECIPE, spectrum_highpass=True),
                       LogMelConfig(seconds=SECONDS))
    ratio = filtered.inputs(waves)[1] / plain.inputs(waves)[1].clamp_min(1e-12)
    freqs = torch.fft.rfftfreq(int(SECONDS * SR), 1 / SR)
    assert (ratio[:, (freqs > 0) & (freqs < 50)] < 0.01).all()
    assert torch.allclose(ratio[:, freqs > 1000], torch.ones(1), atol=1e-3)


def test_highpass_switch_reaches_the_log_mel_front_end():
    """``highpass=False`` (the ablation) drops the 200 Hz high-pass: a 230 Hz tone (in the
    lowest mel band, where the filter passes about 3/4 of its power) gains energy, a 2 kHz
    tone does not."""
    t = torch.arange(int(SECONDS * SR)) / SR
    waves = torch.stack([torch.sin(2 * math.pi * 230 * t), torch.sin(2 * math.pi * 2000 * t)])
    energies = []
    for highpass in (True, False):
        embedder = SEResNetEmbedder(SEResNetConfig(**SMALL, highpass=highpass))
        embedder.seconds_ = SECONDS
        assert (embedder.feature_config().highpass_hz is None) is not highpass
        net = SeedNet(embedder.config, embedder.feature_config())
        energies.append((10 ** (net.logmel(waves) / 10)).sum(dim=(-2, -1)))  # dB to power
    assert energies[1][0] > 1.2 * energies[0][0]
    assert torch.allclose(energies[1][1], energies[0][1], rtol=0.01)


def test_a_model_saved_before_keeps_its_behaviour(tmp_path):
    """A model.json that lacks a setting loads with the setting's ``legacy`` value, whatever the
    default is; settings a user gives get today's defaults."""
    embedder = SEResNetEmbedder(SEResNetConfig(**SMALL, **SEResNetConfig.legacy))
    embedder.classes_, embedder.machines_, embedder.seconds_ = ["a", "b", "c"], ["fan"], SECONDS
    embedder.model_ = SeedModel(embedder.config, embedder.feature_config(), 3).eval()
    embedder.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    for key in SEResNetConfig.legacy:
        meta["config"].pop(key)
    (tmp_path / "model.json").write_text(json.dumps(meta))

    loaded = SEResNetEmbedder.load(tmp_path)
    assert loaded.config == embedder.config != SEResNetConfig(**SMALL)
    waves, _ = _tones(1)
    with torch.no_grad():
        assert torch.equal(loaded.model_.net.embed(waves), embedder.model_.net.embed(waves))
    assert SEResNetConfig.from_dict({"epochs": 1}) == SEResNetConfig(epochs=1)


def test_knn_dg_raw_centres():
    """normalize_centres=False keeps each k-means centre at its members' mean (shorter than a
    unit vector for a spread cluster), as the recipe's code does."""
    rng = np.random.default_rng(0)
    source = rng.standard_normal((40, 6))
    target = rng.standard_normal((3, 6))
    train = np.concatenate([source, target])
    domains = ["source"] * 40 + ["target"] * 3
    test = rng.standard_normal((5, 6))
    raw = scoring.make_scorer("knn-dg", n_centers=4, normalize_centres=False).fit(train, domains)
    unit = scoring.make_scorer("knn-dg", n_centers=4).fit(train, domains)
    centres = raw.references_[:4]
    assert (np.linalg.norm(centres, axis=1) < 0.99).all()
    assert np.allclose(np.linalg.norm(unit.references_, axis=1), 1.0)
    test_unit = test / np.linalg.norm(test, axis=1, keepdims=True)
    expected = np.clip(1 - test_unit @ raw.references_.T, 0, 2).min(axis=1)
    assert np.allclose(raw.decision_function(test), expected)
    assert not np.allclose(raw.decision_function(test), unit.decision_function(test))
