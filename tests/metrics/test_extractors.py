"""Feature extractors: registry, weights resolution (env var, hub cache, download, errors), and FID through the
Inception nets with random weights saved in the test (no network)."""

from __future__ import annotations

import pytest
import torch

from bench.errors import ConfigError, DataNotFoundError
from bench.metrics import default_cache_root, get_extractor, list_extractors
from bench.metrics import weights as weights_mod
from bench.metrics.fid import frechet_distance
from bench.metrics.weights import INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION

from .helpers import make_image_set, save_random_fidelity_inception, save_random_torchvision_inception


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No env var and an empty TORCH_HOME (downloads fail: conftest's autouse ``no_network``)."""
    for spec in (INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION):
        monkeypatch.delenv(spec.env_var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def _images(seed: int, n: int = 12, channels: int = 1) -> torch.Tensor:
    return make_image_set([n // 3] * 3, seed=seed, channels=channels).images


def test_registry_lists_the_three_extractors():
    assert list_extractors() == ["classifier", "inception-v3-compat", "torchvision-inception"]


def test_unknown_extractor_is_a_config_error_listing_the_names():
    with pytest.raises(ConfigError, match=r"unknown feature extractor 'clasifier' \(did you mean 'classifier'\?\); "
                                          r"known: classifier, inception-v3-compat, torchvision-inception"):
        get_extractor("clasifier", "cpu")


def test_torchvision_inception_from_env_var_gives_fid_zero_to_itself_and_positive_to_a_shifted_set(
        offline, monkeypatch, tmp_path):
    path = tmp_path / "tv-random.pth"
    save_random_torchvision_inception(path)
    monkeypatch.setenv("BENCH_TV_INCEPTION_WEIGHTS", str(path))
    extractor = get_extractor("torchvision-inception", "cpu")
    images = _images(0)
    feats, logits = extractor.extract(images, batch_size=8)
    assert feats.shape == (12, 2048) and logits.shape == (12, 1000) and feats.dtype == torch.float32
    brighter, _ = extractor.extract((images.int() + 60).clamp(max=255).to(torch.uint8))
    shift = frechet_distance(feats, brighter)
    assert shift > 0 and abs(frechet_distance(feats, feats)) < 1e-6 * shift
    rgb, _ = extractor.extract(images.expand(-1, 3, -1, -1))  # 1 channel is repeated to 3
    torch.testing.assert_close(rgb, feats)
    assert extractor.cache_tag.startswith("tv-random.pth-")


def test_inception_v3_compat_from_the_hub_cache_gives_fid_zero_to_itself_and_positive_to_a_shifted_set(offline):
    offline.mkdir(parents=True)
    save_random_fidelity_inception(offline / INCEPTION_V3_COMPAT.filename)
    extractor = get_extractor("inception-v3-compat", "cpu")
    images = _images(1, channels=3)
    feats, logits = extractor.extract(images)
    assert feats.shape == (12, 2048) and logits.shape == (12, 1008)
    darker, _ = extractor.extract((images.float() * 0.6).to(torch.uint8))
    shift = frechet_distance(feats, darker)
    assert shift > 0 and abs(frechet_distance(feats, feats)) < 1e-6 * shift


@pytest.mark.parametrize("spec", [INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION], ids=lambda s: s.extractor)
def test_missing_weights_error_names_the_file_the_url_and_both_places(offline, spec):
    with pytest.raises(DataNotFoundError) as info:
        get_extractor(spec.extractor, "cpu")
    message = str(info.value)
    assert "\n" not in message
    for part in (spec.filename, spec.url, str(offline / spec.filename), spec.env_var, "Temporary failure"):
        assert part in message


def test_env_var_naming_a_missing_file_is_an_error(offline, monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_INCEPTION_WEIGHTS", str(tmp_path / "nope.pth"))
    with pytest.raises(DataNotFoundError, match=r"BENCH_INCEPTION_WEIGHTS=.*nope\.pth does not exist"):
        get_extractor("inception-v3-compat", "cpu")


@pytest.mark.parametrize("spec", [INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION], ids=lambda s: s.extractor)
def test_a_weights_file_that_does_not_load_is_a_config_error(offline, monkeypatch, tmp_path, spec):
    bad = tmp_path / "bad.pth"
    torch.save({"not": torch.zeros(1)}, bad)
    monkeypatch.setenv(spec.env_var, str(bad))
    with pytest.raises(ConfigError, match=rf"cannot load {spec.extractor} weights from .*bad\.pth"):
        get_extractor(spec.extractor, "cpu")


def test_download_lands_in_the_hub_cache(offline, monkeypatch):
    def fake_download(url, dst):
        assert url == TORCHVISION_INCEPTION.url
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(b"weights")

    monkeypatch.setattr(weights_mod, "download", fake_download)
    path = weights_mod.resolve_weights(TORCHVISION_INCEPTION)
    assert path == offline / TORCHVISION_INCEPTION.filename and path.read_bytes() == b"weights"


def test_classifier_extractor_needs_a_reference_set_and_its_input_shape(shared_cache):
    with pytest.raises(ConfigError, match="needs the dataset's reference split"):
        get_extractor("classifier", "cpu", cache_root=shared_cache)
    reference = make_image_set([30] * 5, "test", seed=1)
    extractor = get_extractor("classifier", "cpu", reference_set=reference, cache_root=shared_cache)
    feats, logits = extractor(reference.images[:4])
    assert feats.shape == (4, 128) and logits.shape == (4, 5)
    with pytest.raises(ConfigError, match=r"trained on \(1, 16, 16\) images, got \(1, 8, 8\)"):
        extractor(reference.images[:4, :, :8, :8])
    with pytest.raises(ConfigError, match="expects uint8"):
        extractor(reference.images[:4].float())


def test_default_cache_root_honours_bench_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "c"))
    assert default_cache_root() == tmp_path / "c"
    monkeypatch.delenv("BENCH_CACHE")
    assert default_cache_root().parts[-2:] == (".cache", "ecogan-bench")
