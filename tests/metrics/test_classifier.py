"""The reference classifier: deterministic training, caching, accuracy, and no global-RNG use."""

from __future__ import annotations

import pytest
import torch

from bench.metrics import classifier as classifier_mod
from bench.metrics.classifier import (
    JudgeRecipe,
    augmentation,
    augmentations,
    classifier_path,
    judge_budget,
    load_or_train_classifier,
    num_epochs,
    train_classifier,
)

from .helpers import make_image_set


@pytest.fixture(scope="module")
def small_reference():
    return make_image_set([12] * 4, "test", size=8, seed=3, name="folder:/data/my set")


def test_budget_scales_with_the_data():
    # about 300,000 image passes within [10, 30] epochs; batches of N/8 as a power of two within [64, 256]
    assert (num_epochs(500), num_epochs(10_000), num_epochs(100_000), num_epochs(20_000)) == (30, 30, 10, 15)
    assert [judge_budget(n)[1] for n in (100, 500, 1000, 2000, 10_000, 36_500)] == [64, 64, 64, 128, 256, 256]


def test_augmentations_follow_the_dataset():
    assert augmentations("cifar10_lt") == (True, True)
    assert augmentations("folder:/some/where") == (True, True)  # an image folder counts as natural images
    assert augmentations("digits_lt") == (False, True)  # a mirrored digit is not that digit
    assert augmentations("toy_lt") == (False, False)  # unknown: its class may be where a pattern lies


def test_augmentation_crops_within_the_padding_and_flips(small_reference):
    x = torch.zeros(64, 1, 8, 8)
    x[:, 0, 2, 5] = 1.0  # one bright pixel
    recipe = JudgeRecipe(epochs=1, batch_size=32, flips=True, crop_pad=1, bf16=False)
    out = augmentation(x, recipe, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    rows, cols = (out[:, 0] == 1).flatten(1).float().argmax(1).div(8, rounding_mode="floor"), \
        (out[:, 0] == 1).flatten(1).float().argmax(1) % 8
    assert set(rows.tolist()) <= {1, 2, 3} and set(rows.tolist()) == {1, 2, 3}
    assert set(cols.tolist()) <= {1, 2, 3, 4, 5, 6}  # column 5 shifted by -1..1, or mirrored to 2 and shifted
    assert any(c <= 3 for c in cols.tolist()) and any(c >= 4 for c in cols.tolist())
    plain = JudgeRecipe(epochs=1, batch_size=32, flips=False, crop_pad=0, bf16=False)
    assert torch.equal(augmentation(x, plain, torch.Generator().manual_seed(0)), x)


def test_training_is_deterministic_and_leaves_the_global_rng_alone(small_reference):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = train_classifier(small_reference)
    assert torch.equal(torch.get_rng_state(), before)
    b = train_classifier(small_reference)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not a.training and not any(p.requires_grad for p in a.parameters())


def test_classifier_learns_the_toy_classes(shared_cache):
    reference = make_image_set([30] * 5, "test", seed=1)
    net, _ = load_or_train_classifier(reference, shared_cache)
    held_out = make_image_set([20] * 5, "test", seed=9)
    _, logits = net(held_out.images.float() / 127.5 - 1)
    assert (logits.argmax(1) == held_out.labels).float().mean() > 0.9


def test_cached_file_is_reused_and_named_by_dataset_size_channels_hash(small_reference, tmp_path, monkeypatch,
                                                                       capsys):
    net, path = load_or_train_classifier(small_reference, tmp_path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training the reference classifier" in err
    assert path == classifier_path(small_reference, tmp_path)
    assert path.parent == tmp_path and path.name.startswith("classifier-folder_data_my_set-8px-1ch-")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind

    def fail(*args, **kwargs):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr(classifier_mod, "train_classifier", fail)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    again, _ = load_or_train_classifier(small_reference, tmp_path)
    assert torch.equal(torch.get_rng_state(), before)
    assert capsys.readouterr().err == ""
    for pa, pb in zip(net.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_other_images_give_another_cache_file(small_reference, tmp_path):
    other = make_image_set([12] * 4, "test", size=8, seed=4, name="folder:/data/my set")
    assert classifier_path(other, tmp_path) != classifier_path(small_reference, tmp_path)
