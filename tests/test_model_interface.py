"""The model interface (asdcore.models.base) and the one rule for configs (asdcore.configs)."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import pytest

from asdcore import configs, pipeline, scoring
from asdcore.errors import ASDError
from asdcore.models import MODELS, Detector, Embedder, JointEmbedder
from asdcore.models.base import INTERFACE, KINDS, check_interface

CONFIG_CLASSES = [pipeline.TrainConfig, *(cls.config_class for cls in MODELS.values())]
# A value other than the default for one field of each config, tuples included.
CHANGED = {"run": {"data": "somewhere", "machines": ["fan"], "model_config": {"epochs": 2}},
           "autoencoder": {"epochs": 7, "score_mode": "mahalanobis"},
           "log-mel statistics": {"highpass_hz": None, "n_mels": 64},
           "seed model": {"snr_db": (3.0, 9.0), "width": 16, "statex": False}}


@pytest.mark.parametrize("config_class", CONFIG_CLASSES, ids=lambda c: c.__name__)
def test_an_unknown_key_is_refused_with_the_known_ones(config_class):
    with pytest.raises(ASDError) as err:
        config_class.from_dict({"data": "x", "colour": "red"})
    message = str(err.value)
    assert "colour" in message and config_class.what in message
    assert all(name in message.split("known:")[1] for name in config_class.known_keys())


@pytest.mark.parametrize("config_class", CONFIG_CLASSES, ids=lambda c: c.__name__)
def test_every_config_round_trips_through_json(config_class):
    required = {"data": "x"} if config_class is pipeline.TrainConfig else {}
    config = config_class(**{**required, **CHANGED[config_class.what]})
    text = json.dumps(config.to_dict())
    assert config_class.from_dict(json.loads(text)) == config
    assert config_class.from_json(config.to_json()) == config
    # What a run folder holds (dataclasses.asdict written as JSON) reads back the same.
    assert config_class.from_dict(json.loads(json.dumps(dataclasses.asdict(config)))) == config


def test_a_renamed_key_of_an_older_saved_config_is_read_as_the_new_one():
    @dataclasses.dataclass(frozen=True)
    class Renamed(configs.Config):
        what: ClassVar[str] = "example"
        renamed: ClassVar[dict[str, str]] = {"colour": "color"}
        color: str = "red"

    assert Renamed.from_dict({"colour": "blue"}) == Renamed("blue")
    assert Renamed.from_dict(Renamed("green").to_dict()) == Renamed("green")


@pytest.mark.parametrize("cls", MODELS.values(), ids=lambda c: c.name)
def test_every_model_defines_the_whole_interface(cls):
    for attribute in INTERFACE:
        assert attribute in dir(cls), attribute
    assert MODELS[cls.name] is cls and cls.kind in KINDS
    assert cls.description and cls.backends
    base = JointEmbedder if cls.trains_jointly else (Detector if cls.kind == "detector"
                                                     else Embedder)
    assert issubclass(cls, base) and cls.kind == base.kind
    if cls.kind == "embedder":
        assert sorted(cls.backends) == sorted(scoring.SCORERS)
    else:
        assert cls.backends[0] == cls.config_class().score_mode  # its default mode first
    assert set(cls.demo_settings) <= set(cls.config_class.known_keys())
    assert isinstance(cls(), cls) and cls().config == cls.config_class()


def test_an_incomplete_model_is_refused_on_registration():
    class NoDescription(Detector):
        name = "half"
        config_class = pipeline.TrainConfig
        backends = ("mse",)

    with pytest.raises(TypeError, match="description"):
        check_interface(NoDescription)

    class Abstract(Embedder):
        name, description, backends = "abstract", "no methods", ("knn",)
        config_class = MODELS["logmel-stats"].config_class

    with pytest.raises(TypeError, match="whole model interface"):
        check_interface(Abstract)


@pytest.mark.parametrize("cls", MODELS.values(), ids=lambda c: c.name)
def test_offered_settings_are_fields_the_page_can_render(cls):
    offered = configs.offered_settings(cls.config_class)
    names = {f.name for f, _ in offered}
    for field, setting in offered:
        assert setting.widget in configs.WIDGETS and setting.label
        if setting.widget == "checkbox":
            assert isinstance(field.default, bool)
        elif setting.widget == "choice":
            assert field.default in setting.options
        else:
            assert setting.low is not None and setting.high is not None
        assert set(setting.shown_if) <= names  # switches the page also shows
    assert set(cls.demo_settings) <= names  # a demo setting is one the page offers
