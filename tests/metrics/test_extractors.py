"""Feature extractors: registry, weights resolution (env var, hub cache, download, errors), and FID through the
Inception nets with random weights saved in the test (no network)."""

from __future__ import annotations

import dataclasses
import hashlib
import socket

import pytest
import torch

from bench.errors import ConfigError, DataNotFoundError
from bench.metrics import cache as cache_mod
from bench.metrics import classifier as classifier_mod
from bench.metrics import default_cache_root, get_extractor, list_extractors
from bench.metrics import weights as weights_mod
from bench.metrics.extractors import FeatureExtractor
from bench.metrics.fid import frechet_distance
from bench.metrics.reference import reference_cache_path
from bench.metrics.weights import DINOV2_VITL14, INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION

from .helpers import make_image_set, save_random_fidelity_inception, save_random_torchvision_inception

REAL_DOWNLOAD = weights_mod.download  # taken at import, before conftest's autouse ``no_network`` replaces it


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No env var and an empty TORCH_HOME (downloads fail: conftest's autouse ``no_network``)."""
    for spec in (INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION, DINOV2_VITL14):
        monkeypatch.delenv(spec.env_var, raising=False)
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def _images(seed: int, n: int = 12, channels: int = 1) -> torch.Tensor:
    return make_image_set([n // 3] * 3, seed=seed, channels=channels).images


def test_registry_lists_the_extractors():
    assert list_extractors() == ["classifier", "dinov2", "inception-v3-compat", "random-cnn", "torchvision-inception"]


def test_unknown_extractor_is_a_config_error_listing_the_names():
    with pytest.raises(ConfigError, match=r"unknown feature extractor 'clasifier' \(did you mean 'classifier'\?\); "
                                          r"known: classifier, dinov2, inception-v3-compat, random-cnn, "
                                          r"torchvision-inception"):
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


@pytest.mark.parametrize("spec", [INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION, DINOV2_VITL14],
                         ids=lambda s: s.extractor)
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
    def fake_download(url, dst, hash_prefix=None):
        assert url == TORCHVISION_INCEPTION.url and hash_prefix == TORCHVISION_INCEPTION.sha256_prefix
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


# -- the download: sha256 prefix, timeout, BENCH_OFFLINE ---------------------------------------------------------
@pytest.mark.parametrize("spec", [INCEPTION_V3_COMPAT, TORCHVISION_INCEPTION], ids=lambda s: s.extractor)
def test_each_file_is_checked_against_the_sha256_prefix_in_its_name(spec):
    assert spec.filename.endswith(f"-{spec.sha256_prefix}.pth") and len(spec.sha256_prefix) == 8


def test_a_download_with_the_wrong_sha256_is_rejected_and_leaves_no_file(offline, monkeypatch, tmp_path):
    """torch's own downloader, fed from a local file:// URL (no network): a wrong file never lands in the cache."""
    source = tmp_path / "served.pth"
    source.write_bytes(b"not the inception weights")
    good_prefix = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    monkeypatch.setattr(weights_mod, "download", REAL_DOWNLOAD)
    wrong = dataclasses.replace(TORCHVISION_INCEPTION, url=source.as_uri())
    with pytest.raises(DataNotFoundError, match=r"RuntimeError: invalid hash value.*put the file at"):
        weights_mod.resolve_weights(wrong)
    assert not (offline / wrong.filename).exists()
    right = dataclasses.replace(wrong, sha256_prefix=good_prefix)
    assert weights_mod.resolve_weights(right).read_bytes() == source.read_bytes()


def test_the_download_runs_under_a_socket_timeout_that_is_restored_afterwards(offline, monkeypatch):
    seen = []

    def fake_fetch(url, dst, hash_prefix=None, progress=True):
        seen.append((socket.getdefaulttimeout(), hash_prefix))
        raise TimeoutError("timed out")

    monkeypatch.setattr(weights_mod, "download", REAL_DOWNLOAD)
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_fetch)
    before = socket.getdefaulttimeout()
    with pytest.raises(DataNotFoundError, match=r"TimeoutError: timed out\); put the file at"):
        weights_mod.resolve_weights(INCEPTION_V3_COMPAT)
    assert seen == [(weights_mod.DOWNLOAD_TIMEOUT_S, "6726825d")]
    assert socket.getdefaulttimeout() == before


def test_bench_offline_skips_the_download_and_says_where_to_put_the_file(offline, monkeypatch):
    def must_not_download(*args, **kwargs):
        raise AssertionError("downloaded although BENCH_OFFLINE=1")

    monkeypatch.setattr(weights_mod, "download", must_not_download)
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    with pytest.raises(DataNotFoundError) as info:
        get_extractor("torchvision-inception", "cpu")
    message = str(info.value)
    for part in ("BENCH_OFFLINE", TORCHVISION_INCEPTION.url, str(offline / TORCHVISION_INCEPTION.filename),
                 "BENCH_TV_INCEPTION_WEIGHTS", "tv_inception_weights"):
        assert part in message
    with pytest.raises(DataNotFoundError) as info:
        get_extractor("dinov2", "cpu")
    assert "\n" not in str(info.value)
    for part in ("dinov2 weights dinov2_vitl14_pretrain.pth not found and BENCH_OFFLINE is set", DINOV2_VITL14.url,
                 str(offline / DINOV2_VITL14.filename), "BENCH_DINOV2_WEIGHTS", "dinov2_weights"):
        assert part in str(info.value)


def test_the_dinov2_file_downloads_unchecked_as_torch_hub_does(offline, monkeypatch):
    calls = []
    monkeypatch.setattr(weights_mod, "download", lambda url, dst, hash_prefix=None: calls.append((url, hash_prefix))
                        or dst.parent.mkdir(parents=True, exist_ok=True) or dst.write_bytes(b"w"))
    assert weights_mod.resolve_weights(DINOV2_VITL14) == offline / "dinov2_vitl14_pretrain.pth"
    assert calls == [("https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth", None)]


# -- weights by config key ---------------------------------------------------------------------------------------
def test_a_configured_path_wins_over_the_env_var_and_the_hub_cache(offline, monkeypatch, tmp_path):
    configured, from_env = tmp_path / "configured.pth", tmp_path / "env.pth"
    configured.write_bytes(b"a")
    from_env.write_bytes(b"b")
    offline.mkdir(parents=True)
    (offline / INCEPTION_V3_COMPAT.filename).write_bytes(b"c")
    monkeypatch.setenv("BENCH_INCEPTION_WEIGHTS", str(from_env))
    assert weights_mod.resolve_weights(INCEPTION_V3_COMPAT, str(configured)) == configured
    assert weights_mod.resolve_weights(INCEPTION_V3_COMPAT, None) == from_env
    monkeypatch.delenv("BENCH_INCEPTION_WEIGHTS")
    assert weights_mod.resolve_weights(INCEPTION_V3_COMPAT, None) == offline / INCEPTION_V3_COMPAT.filename


def test_a_configured_path_to_a_missing_file_is_an_error_naming_the_key(offline, monkeypatch, tmp_path):
    from_env = tmp_path / "env.pth"
    from_env.write_bytes(b"b")
    monkeypatch.setenv("BENCH_TV_INCEPTION_WEIGHTS", str(from_env))  # present, yet never a silent fallback
    with pytest.raises(DataNotFoundError, match=r"config key tv_inception_weights = '.*nope\.pth' does not exist"):
        get_extractor("torchvision-inception", "cpu", weights_path=tmp_path / "nope.pth")


# -- cache keys: the classifier's actual weights, the device type, the library versions ---------------------------
def test_the_classifier_tag_follows_the_weights_it_loaded(tmp_path):
    """A retrained (different) classifier under the same cache file must not reuse the old reference features."""
    reference = make_image_set([12] * 4, "test", size=8, seed=3)
    first = get_extractor("classifier", "cpu", reference_set=reference, cache_root=tmp_path)
    again = get_extractor("classifier", "cpu", reference_set=reference, cache_root=tmp_path)
    assert first.cache_tag == again.cache_tag and first.cache_tag.startswith("classifier-")
    saved = torch.load(first.path, weights_only=True)
    saved["state_dict"]["head.bias"] = saved["state_dict"]["head.bias"] + 0.5  # same file name, other weights
    torch.save(saved, first.path)
    other = get_extractor("classifier", "cpu", reference_set=reference, cache_root=tmp_path)
    assert other.path == first.path and other.cache_tag != first.cache_tag
    indices = torch.arange(len(reference))
    assert reference_cache_path(reference, indices, other, tmp_path) != reference_cache_path(reference, indices,
                                                                                             first, tmp_path)


class _Stub(FeatureExtractor):
    name = "stub"
    cache_tag = "stub-weights"


def test_cache_keys_change_with_the_device_type_and_library_versions(monkeypatch, tmp_path):
    reference = make_image_set([4] * 3, "test", size=8, seed=3)
    indices = torch.arange(len(reference))

    def keys():
        return (classifier_mod.classifier_path(reference, tmp_path, "cpu"),
                classifier_mod.classifier_path(reference, tmp_path, "cuda"),
                reference_cache_path(reference, indices, _Stub("cpu"), tmp_path),
                reference_cache_path(reference, indices, _Stub("cuda:0"), tmp_path))

    base = keys()
    assert base[0] != base[1] and base[2] != base[3]
    assert classifier_mod.classifier_path(reference, tmp_path, "cuda:1") == base[1]  # the type, not the index
    assert reference_cache_path(reference, indices, _Stub("cpu"), tmp_path) == base[2]
    for package in ("torch", "torchvision", "torch-fidelity"):
        with monkeypatch.context() as m:
            if package == "torch":
                m.setattr(torch, "__version__", torch.__version__ + ".post1")
            else:
                original = cache_mod._version
                m.setattr(cache_mod, "_version", lambda name, p=package, o=original: o(name) + ("x" if name == p
                                                                                                  else ""))
            assert all(a != b for a, b in zip(keys(), base, strict=True)), package


def test_environment_key_names_the_device_type_and_the_installed_versions():
    import torch_fidelity
    import torchvision

    key = cache_mod.environment_key(torch.device("cuda", 1))
    assert key.startswith("cuda-") and f"torch{torch.__version__}" in key
    assert torchvision.__version__.split("+")[0] in key and torch_fidelity.__version__ in key
