"""The dataset registry (bench.datasets): names, specs, the listing, the data root and argument checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.datasets import (
    DatasetSpec,
    data_root,
    describe_datasets,
    get_spec,
    list_datasets,
    load_dataset,
    register_dataset,
)
from bench.errors import ConfigError, DataNotFoundError

REGISTERED = ["cifar10_lt", "cifar10_lt_r100", "fashion_mnist_lt", "places_lt", "digits_lt", "cifar10"]


def test_registered_names():
    assert sorted(list_datasets()) == sorted(REGISTERED)


def test_specs_follow_the_paper():
    cifar, fmnist, places = get_spec("cifar10_lt"), get_spec("fashion_mnist_lt"), get_spec("places_lt")
    assert (cifar.source, cifar.profile, cifar.native_channels, cifar.paper_size) == ("cifar10", "ecogan", 3, 64)
    assert (fmnist.source, fmnist.profile, fmnist.native_channels, fmnist.paper_size) == ("fashion_mnist", "ecogan",
                                                                                          1, 64)
    assert (places.profile, places.num_classes, places.native_channels, places.paper_size) == ("file", 365, 3, 64)
    digits = get_spec("digits_lt")
    assert (digits.source, digits.profile, digits.ratio, digits.native_channels) == ("digits", "exponential", 10, 1)
    assert get_spec("cifar10").profile == "none"


def test_folder_spec():
    spec = get_spec("folder:some/where")
    assert (spec.name, spec.source, spec.profile, spec.location) == ("folder:some/where", "folder", "none",
                                                                     "some/where")


def test_unknown_name_lists_known_ones():
    with pytest.raises(ConfigError) as err:
        get_spec("cifar10-lt")
    message = str(err.value)
    assert "unknown dataset 'cifar10-lt'" in message and "did you mean 'cifar10_lt'" in message
    for name in [*REGISTERED, "folder:<path>"]:
        assert name in message
    with pytest.raises(ConfigError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")


def test_describe_lists_every_dataset_and_how_to_get_it():
    text = describe_datasets()
    for name in [*REGISTERED, "folder:<path>"]:
        assert name in text
    assert "cifar-10-python.tar.gz" in text and "Places_LT" in text and "scikit-learn" in text
    assert "$BENCH_DATA" in text


def test_data_root_order(monkeypatch):
    assert data_root(None) == Path("data")
    monkeypatch.setenv("BENCH_DATA", "/srv/bench")
    assert data_root(None) == Path("/srv/bench")
    assert data_root("/explicit") == Path("/explicit")


def test_data_root_reaches_the_source(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "from_env"))
    with pytest.raises(DataNotFoundError, match="from_env"):
        load_dataset("places_lt")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"split": "valid"}, "split must be one of train, test, got 'valid'"),
    ({"image_size": 0}, "image_size must be a positive integer, got 0"),
    ({"image_size": 32.0}, "image_size must be a positive integer, got 32.0"),
    ({"channels": 2}, "channels must be 1 or 3, got 2"),
    ({"max_per_class": 0}, "max_per_class must be a positive integer, got 0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        load_dataset("digits_lt", **kwargs)


def test_max_per_class_applies_after_the_profile():
    data = load_dataset("digits_lt", max_per_class=20)
    assert data.class_counts == [20, 20, 20, 20, 20, 20, 20, 20, 17, 13]  # the tail classes have fewer than 20
    assert load_dataset("digits_lt", split="test", max_per_class=7).class_counts == [7] * 10


def test_register_dataset_checks():
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DatasetSpec("digits_lt", "digits", "none"))
    with pytest.raises(ValueError, match="unknown source"):
        register_dataset(DatasetSpec("my_set", "imagenet", "none"))
    with pytest.raises(ValueError, match="lower-case"):
        register_dataset(DatasetSpec("My Set", "digits", "none"))
    with pytest.raises(ValueError, match="unknown profile"):
        register_dataset(DatasetSpec("my_set", "digits", "linear"))
