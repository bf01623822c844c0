"""The seed model's network, AdaCos heads and self-supervised augmentations (exact labels)."""

import math

import pytest
import torch
import torch.nn.functional as F

from asdcore import augment
from asdcore.errors import ASDError
from asdcore.features import LogMelConfig
from asdcore.models import get_model_class
from asdcore.models.heads import AdaCosHead, fixed_scale
from asdcore.models.seresnet import (
    SEBasicBlock,
    SeedModel,
    SeedNet,
    SEResNetConfig,
    SEResNetEmbedder,
    SpectrogramBranch,
    SqueezeExcitation,
    class_keys,
    target_class_indices,
)

SMALL = dict(width=4, embedding_dim=8, subclusters=2)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- network ---------------------------------------------------------------------------------

def test_registered_as_a_jointly_trained_embedder():
    cls = get_model_class("seresnet18")
    assert cls is SEResNetEmbedder and cls.kind == "embedder" and cls.trains_jointly


@pytest.mark.parametrize("spectrum_branch", [True, False])
def test_embedding_shapes(spectrum_branch):
    config = SEResNetConfig(**SMALL, spectrum_branch=spectrum_branch, featex=spectrum_branch)
    net = SeedNet(config, LogMelConfig(seconds=1.0)).eval()
    waves = torch.randn(3, 16000) * 0.1
    logmels, spectra = net.inputs(waves)
    assert logmels.shape == (3, 128, 32)
    assert (spectra is not None) == spectrum_branch
    with torch.no_grad():
        embedding = net.embed(waves)
    assert embedding.shape == (3, (2 if spectrum_branch else 1) * 8)
    assert torch.isfinite(embedding).all()


@pytest.mark.parametrize("n_mels", [128, 64, 40])
def test_time_pooling_keeps_frequency_positions(n_mels):
    """pooling="time" flattens the frequency positions left after five halvings into the
    embedding layer: its input size must be counted right for any mel count."""
    branch = SpectrogramBranch(n_mels, 4, 8, pooling="time").eval()
    with torch.no_grad():
        assert branch(torch.randn(2, n_mels, 50)).shape == (2, 8)
    with pytest.raises(ASDError, match="pooling"):
        SEResNetConfig(pooling="mean")


def test_temporal_norm_ignores_a_constant_per_band():
    """temporal_norm removes each band's mean over time, so a level added to a band for the
    whole clip (a stationary colouring) does not reach the spectrogram branch."""
    torch.manual_seed(0)
    logmels = torch.randn(3, 128, 40)
    colouring = torch.randn(3, 128, 1) * 5
    with torch.no_grad():
        normed = SpectrogramBranch(128, 4, 8, pooling="time", temporal_norm=True).eval()
        assert torch.allclose(normed(logmels + colouring), normed(logmels), atol=1e-5)
        plain = SpectrogramBranch(128, 4, 8, pooling="time").eval()
        assert not torch.allclose(plain(logmels + colouring), plain(logmels), atol=1e-3)


def test_every_residual_block_has_squeeze_excitation_and_resnet18_depth():
    net = SeedNet(SEResNetConfig(width=64), LogMelConfig(seconds=1.0))
    blocks = [m for m in net.spectrogram.modules() if isinstance(m, SEBasicBlock)]
    assert len(blocks) == 8  # ResNet18: 4 stages x 2 basic blocks
    assert all(any(isinstance(m, SqueezeExcitation) for m in b.body) for b in blocks)
    widths = [b.body[0].out_channels for b in blocks]
    assert widths == [64, 64, 128, 128, 256, 256, 512, 512]  # the full ResNet18 widths


def test_config_checks_and_json_round_trip():
    with pytest.raises(ASDError, match="FeatEx"):
        SEResNetConfig(spectrum_branch=False, featex=True)
    with pytest.raises(ASDError, match="Unknown"):
        SEResNetConfig.from_dict({"wdth": 3})
    config = SEResNetConfig(snr_db=(3.0, 9.0))
    import dataclasses
    import json
    assert SEResNetConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(config)))) == config


def test_classes_are_machine_section_domain_attribute_with_pseudo_labels():
    import pandas as pd
    clips = pd.DataFrame({
        "machine": ["fan", "fan", "slider", "slider"], "section": ["00"] * 4,
        "domain": ["source", "target", "source", "source"],
        "attributes": ["m-n_W", "m-n_X", "noAttribute", "noAttribute"],
        "file": ["fan/train/a.wav", "fan/train/b.wav", "slider/train/c.wav",
                 "slider/train/d.wav"]})
    assert class_keys(clips) == ["fan/00/source/m-n_W", "fan/00/target/m-n_X",
                                 "slider/00/source/", "slider/00/source/"]
    keys = class_keys(clips, {"slider/train/c.wav": "2"})
    assert keys[2:] == ["slider/00/source/label=2", "slider/00/source/"]


# --- heads -----------------------------------------------------------------------------------

def test_fixed_adacos_scale():
    assert AdaCosHead(8, 10).scale.item() == pytest.approx(math.sqrt(2) * math.log(9))
    # Sub-cluster AdaCos: N = C * K centres.
    assert AdaCosHead(8, 10, subclusters=16).scale.item() == pytest.approx(
        math.sqrt(2) * math.log(159))
    assert fixed_scale(2) > 0  # two centres still give a usable scale


def test_subcluster_probabilities_are_summed_per_class():
    head = AdaCosHead(6, 3, subclusters=4, generator=_gen())
    embeddings = torch.randn(5, 6, generator=_gen(1))
    cosines = head.cosines(embeddings)
    assert cosines.shape == (5, 12)
    probs = torch.softmax(head.scale * cosines, dim=1).view(5, 3, 4).sum(dim=2)
    assert torch.allclose(head.logits(embeddings).exp(), probs, atol=1e-6)
    assert torch.allclose(probs.sum(dim=1), torch.ones(5))


def test_a_class_may_use_fewer_centres_and_the_others_take_no_part():
    head = AdaCosHead(6, 3, subclusters=4, centres_per_class=[4, 1, 2], generator=_gen())
    assert head.scale.item() == pytest.approx(fixed_scale(7))  # 7 centres in use
    embeddings = torch.randn(5, 6, generator=_gen(1))
    cosines = head.cosines(embeddings)
    used = torch.tensor([0, 1, 2, 3, 4, 8, 9])  # class-major: class c owns columns 4c..4c+3
    probs = torch.softmax(head.scale * cosines[:, used], dim=1)
    expected = torch.stack([probs[:, :4].sum(1), probs[:, 4], probs[:, 5:].sum(1)], dim=1)
    assert torch.allclose(head.logits(embeddings).exp(), expected, atol=1e-6)
    # an unused centre, moved anywhere, changes nothing; the loss still backpropagates
    with torch.no_grad():
        head.centres[5:8] = head.centres[0]
    assert torch.allclose(head.logits(embeddings).exp(), expected, atol=1e-6)
    leaf = embeddings.clone().requires_grad_(True)
    head.dynamic = True
    head(leaf, F.one_hot(torch.tensor([0, 1, 2, 1, 0]), 3).float()).backward()
    assert torch.isfinite(leaf.grad).all() and math.isfinite(head.scale.item())
    with pytest.raises(ValueError, match="1 to 4 centres"):
        AdaCosHead(6, 3, subclusters=4, centres_per_class=[4, 5, 1])


def test_target_classes_get_their_own_number_of_centres():
    classes = ["fan/00/source/a", "fan/00/target/b", "pump/00/source/", "pump/00/target/x/y",
               "target"]
    assert target_class_indices(classes) == [1, 3]
    config = SEResNetConfig(**{**SMALL, "subclusters": 4}, target_subclusters=1)
    model = SeedModel(config, LogMelConfig(seconds=1.0), 4, target_class_indices(classes))
    per_class = model.main_head.active.view(4, 4).sum(dim=1).tolist()
    assert per_class == [4, 1, 4, 1]
    # the exchange head's class j stands for class j mod C (9C: StatEx and FeatEx stacked)
    assert model.exchange_head.active.view(36, 4).sum(dim=1).tolist() == per_class * 9
    recipe = SeedModel(SEResNetConfig(**{**SMALL, "subclusters": 4}), LogMelConfig(seconds=1.0),
                       4, target_class_indices(classes))
    assert bool(recipe.main_head.active.all())  # unset (the recipe): every class, every centre
    with pytest.raises(ASDError, match="cannot exceed subclusters"):
        SEResNetConfig(subclusters=4, target_subclusters=8)


def test_dynamic_scale_formula_training_only_and_finite():
    head = AdaCosHead(4, 3, dynamic=True, generator=_gen())
    embeddings = torch.randn(6, 4, generator=_gen(2))
    labels = F.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    s = head.scale.item()
    cosines = head.cosines(embeddings)
    b_avg = (torch.exp(s * cosines) * (1 - labels)).sum(dim=1).mean()
    theta = torch.acos((cosines * labels).sum(dim=1)).median().clamp(max=math.pi / 4)
    expected = (torch.log(b_avg) / torch.cos(theta)).item()

    head.eval()
    head(embeddings, labels)
    assert head.scale.item() == s  # evaluation batches never move the scale
    head.train()
    head(embeddings, labels)
    assert head.scale.item() == pytest.approx(expected, rel=1e-5)

    # Labels covering every class leave no non-target centre: log(0) is dropped, not stored.
    before = head.scale.item()
    head(embeddings, torch.full((6, 3), 1 / 3))
    assert head.scale.item() == before and math.isfinite(before)
    # Huge embeddings aligned with their class: the scale stays finite and bounded.
    aligned = F.normalize(head.centres.detach()[[0, 1, 2, 0, 1, 2]], dim=1) * 1e6
    for _ in range(5):
        loss = head(aligned, labels)
        assert math.isfinite(head.scale.item()) and head.scale.item() <= head.max_scale
        assert torch.isfinite(loss)


def test_zero_weights_leave_samples_out_of_the_loss():
    head = AdaCosHead(4, 3, generator=_gen())
    embeddings = torch.randn(4, 4, generator=_gen(3))
    labels = F.one_hot(torch.tensor([0, 1, 2, 1]), 3).float()
    weights = torch.tensor([1.0, 0.0, 1.0, 0.0])
    assert head(embeddings, labels, weights).item() == pytest.approx(
        head(embeddings[[0, 2]], labels[[0, 2]]).item(), rel=1e-6)
    assert head(embeddings, labels, torch.zeros(4)).item() == 0.0


# --- augmentations ---------------------------------------------------------------------------

def test_partners_are_other_samples():
    for seed in range(20):
        _, partner = augment.pick(7, 0.5, _gen(seed))
        assert (partner != torch.arange(7)).all()
        assert sorted(partner.tolist()) == list(range(7))


def test_mixup_mixes_inputs_and_labels_with_the_same_lambda():
    x = torch.eye(4) * 10  # sample i is 10 at position i: lambda can be read back
    y = torch.eye(4)
    mixed_x, mixed_y, chosen = augment.mixup(x, y, _gen(0), p=1.0)
    assert chosen.all()
    assert torch.allclose(mixed_x / 10, mixed_y)
    assert torch.allclose(mixed_y.sum(dim=1), torch.ones(4))
    lam = mixed_y.diagonal()
    assert ((lam >= 0) & (lam <= 1)).all() and not torch.allclose(lam, torch.ones(4))
    same_x, same_y, none = augment.mixup(x, y, _gen(0), p=0.0)
    assert not none.any() and torch.equal(same_x, x) and torch.equal(same_y, y)


def test_mixup_probability():
    _, _, chosen = augment.mixup(torch.zeros(4000, 3), torch.zeros(4000, 2), _gen(1), p=0.5)
    assert 0.45 < chosen.float().mean().item() < 0.55


def test_statex_labels_and_frame_statistics():
    logmels = torch.randn(3, 16, 5, generator=_gen(4)) * torch.tensor([1.0, 3.0, 0.5])[:, None,
                                                                                         None]
    y = torch.eye(3)
    out, labels, chosen = augment.statex(logmels, y, _gen(5), p=1.0)
    _, partner = augment.pick(3, 1.0, _gen(5))
    assert chosen.all()
    for i in range(3):
        j = int(partner[i])
        expected = torch.zeros(9)
        expected[3 + i] = 0.5
        expected[6 + j] = 0.5
        assert torch.equal(labels[i], expected)
        # Each frame now has the partner's frame mean and std over frequency.
        assert torch.allclose(out[i].mean(dim=0), logmels[j].mean(dim=0), atol=1e-5)
        assert torch.allclose(out[i].std(dim=0), logmels[j].std(dim=0), atol=1e-4)
    kept, kept_labels, none = augment.statex(logmels, y, _gen(5), p=0.0)
    assert not none.any() and torch.equal(kept, logmels)
    assert torch.equal(kept_labels, torch.cat([y, torch.zeros(3, 6)], dim=1))


def test_featex_labels_3c_and_stacked_9c():
    first, second = torch.arange(3.0)[:, None], 10 + torch.arange(3.0)[:, None]
    y = torch.eye(3)
    embedding, labels, chosen = augment.featex(first, second, y, _gen(6), p=1.0)
    _, partner = augment.pick(3, 1.0, _gen(6))
    assert torch.equal(embedding[:, 0], first[:, 0])
    assert torch.equal(embedding[:, 1], second[partner, 0])
    assert torch.equal(labels, torch.cat([torch.zeros(3, 3), y / 2, y[partner] / 2], dim=1))

    # Stacked on StatEx's 3C labels: 9C, e.g. StatEx-exchanged A (partner B) whose second
    # embedding is then swapped with C's (C kept by StatEx) -> [0 | 0, yA/4, yB/4 | yC/2, 0, 0].
    ya, yb, yc = torch.eye(3)
    statex_a = torch.cat([torch.zeros(3), ya / 2, yb / 2])
    statex_c = torch.cat([yc, torch.zeros(6)])
    v = torch.stack([statex_a, torch.zeros(9), statex_c])
    nine = augment.exchange_labels(v, torch.tensor([2, 0, 0]), torch.tensor([True, False, False]))
    assert nine.shape == (3, 27)
    assert torch.equal(nine[0], torch.cat([torch.zeros(9), statex_a / 2, statex_c / 2]))
    assert torch.equal(nine[0][12:18], torch.cat([ya / 4, yb / 4]))
    assert torch.equal(nine[2], torch.cat([statex_c, torch.zeros(18)]))
    assert torch.allclose(nine.sum(dim=1), v.sum(dim=1))


def test_noise_is_mixed_at_the_drawn_snr():
    signal = torch.randn(200, 4000, generator=_gen(7)) * torch.rand(200, 1, generator=_gen(8))
    noise = torch.randn(200, 4000, generator=_gen(9)) * 3
    snr = torch.linspace(-5, 30, 200)
    mixed = augment.mix_at_snr(signal, noise, snr)
    added = mixed - signal
    measured = 10 * torch.log10(signal.pow(2).mean(1) / added.pow(2).mean(1))
    assert torch.allclose(measured, snr, atol=1e-3)

    chosen = torch.arange(200) % 2 == 0
    out = augment.add_noise(signal, noise, chosen, (5.0, 20.0), _gen(10))
    assert torch.equal(out[~chosen], signal[~chosen])
    added = out[chosen] - signal[chosen]
    measured = 10 * torch.log10(signal[chosen].pow(2).mean(1) / added.pow(2).mean(1))
    assert (measured > 5 - 1e-3).all() and (measured < 20 + 1e-3).all()
    assert measured.max() - measured.min() > 5  # drawn, not constant
    silent = augment.mix_at_snr(signal[:2], torch.zeros(2, 4000), torch.tensor([10.0, 10.0]))
    assert torch.equal(silent, signal[:2])


def test_model_loss_uses_both_heads_and_backpropagates():
    config = SEResNetConfig(**SMALL, featex=True)
    model = SeedModel(config, LogMelConfig(seconds=1.0), n_classes=5)
    assert model.exchange_head.n_classes == 45  # 9C: StatEx and FeatEx stacked
    waves = torch.randn(6, 16000, generator=_gen(11)) * 0.1
    labels = F.one_hot(torch.tensor([0, 1, 2, 3, 4, 0]), 5).float()
    loss = model(waves, labels, _gen(12))
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.net.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    only_statex = SeedModel(SEResNetConfig(**SMALL, featex=False), LogMelConfig(seconds=1.0), 5)
    assert only_statex.exchange_head.n_classes == 15
    plain = SeedModel(SEResNetConfig(**SMALL, featex=False, statex=False),
                      LogMelConfig(seconds=1.0), 5)
    assert plain.exchange_head is None
