"""FD-DINOv2's extractor: the official ViT-L/14 file layout, dgm-eval's preprocessing, and features from a saved
random-weight file through the same code path with a small network (a ViT-L file is 1.2 GB)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from PIL import Image

from bench.errors import ConfigError
from bench.metrics import get_extractor
from bench.metrics.dinov2 import VIT_L14, DinoV2, ViTShape, expected_layout, preprocess, random_state_dict
from bench.metrics.extractors import DinoV2Extractor
from bench.metrics.fid import frechet_distance
from bench.metrics.weights import DINOV2_VITL14

from .helpers import make_image_set

SMALL = ViTShape("test ViT/14", embed_dim=32, depth=2, num_heads=2)  # ViT-L's code path, 1/30 of its width


def official_vitl14_layout() -> dict[str, tuple[int, ...]]:
    """``dinov2_vitl14_pretrain.pth`` as published (facebookresearch/dinov2, hub model ``dinov2_vitl14``:
    img_size 518, patch 14, embed 1024, depth 24, MLP 4096, LayerScale, no register tokens, block_chunks 0)."""
    d, hidden = 1024, 4096
    layout = {"cls_token": (1, 1, d), "pos_embed": (1, 37 * 37 + 1, d), "mask_token": (1, d),
              "patch_embed.proj.weight": (d, 3, 14, 14), "patch_embed.proj.bias": (d,)}
    for i in range(24):
        block = {"norm1.weight": (d,), "norm1.bias": (d,), "attn.qkv.weight": (3 * d, d), "attn.qkv.bias": (3 * d,),
                 "attn.proj.weight": (d, d), "attn.proj.bias": (d,), "ls1.gamma": (d,), "norm2.weight": (d,),
                 "norm2.bias": (d,), "mlp.fc1.weight": (hidden, d), "mlp.fc1.bias": (hidden,),
                 "mlp.fc2.weight": (d, hidden), "mlp.fc2.bias": (d,), "ls2.gamma": (d,)}
        layout.update({f"blocks.{i}.{k}": v for k, v in block.items()})
    return layout | {"norm.weight": (d,), "norm.bias": (d,)}


def save_random_dinov2(path, shape: ViTShape = SMALL, seed: int = 0) -> None:
    """A state dict in the official layout of ``shape`` with seeded random weights, saved to ``path``."""
    torch.save(random_state_dict(shape, seed), path)


@pytest.fixture
def small_dinov2(monkeypatch, tmp_path):
    """The dinov2 extractor builds SMALL instead of ViT-L; a random SMALL file in $BENCH_DINOV2_WEIGHTS."""
    monkeypatch.setattr(DinoV2Extractor, "shape", SMALL)
    path = tmp_path / "dinov2-small.pth"
    save_random_dinov2(path)
    monkeypatch.setenv(DINOV2_VITL14.env_var, str(path))
    return path


def test_the_vit_l14_module_has_the_official_files_keys_and_shapes():
    assert expected_layout(VIT_L14) == official_vitl14_layout()  # built on the meta device: no memory
    assert DinoV2Extractor.shape == VIT_L14 and VIT_L14.num_heads * 64 == VIT_L14.embed_dim


def dgm_eval_transform(image: torch.Tensor) -> torch.Tensor:
    """dgm-eval's DINOv2Encoder input, as that code does it: a PIL image, Resize((224, 224), BICUBIC), ToTensor,
    Normalize(ImageNet); grey images repeated to RGB."""
    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).convert("RGB")
    recipe = T.Compose([T.Resize((224, 224), T.InterpolationMode.BICUBIC), T.ToTensor(),
                        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    return recipe(pil)


@pytest.mark.parametrize(("size", "channels"), [(16, 1), (32, 3), (64, 3), (300, 3)])
def test_preprocessing_is_dgm_evals_resize_and_normalisation(size, channels):
    """Upsampled digits and CIFAR-sized images, a downsampled large one: within PIL's fixed-point rounding of its
    bicubic resize (1 grey level in under 2% of the pixels, 2 in a few), on noise images where a plain float bicubic
    resize differs by up to 25 levels."""
    images = torch.randint(0, 256, (3, channels, size, size), generator=torch.Generator().manual_seed(size),
                           dtype=torch.uint8)
    ours = preprocess(images)
    reference = torch.stack([dgm_eval_transform(im) for im in images])
    assert ours.shape == reference.shape == (3, 3, 224, 224) and ours.dtype == torch.float32
    levels = ((ours - reference).abs() * 255 * torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)).round()
    assert levels.max() <= 2 and (levels > 0).float().mean() < 0.02 and (levels > 1).float().mean() < 1e-4


def test_features_from_a_random_weight_file_are_the_cls_token_of_the_preprocessed_images(small_dinov2):
    extractor = get_extractor("dinov2", "cpu")
    images = make_image_set([4, 4, 4], seed=3, channels=3).images
    seen = []
    extractor.net.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    features, logits = extractor.extract(images, batch_size=5)
    assert features.shape == (12, SMALL.embed_dim) and features.dtype == torch.float32
    assert logits.shape == (12, 0)  # no class logits: the evaluator takes IS from the judge's
    assert [tuple(x.shape) for x in seen] == [(5, 3, 224, 224), (5, 3, 224, 224), (2, 3, 224, 224)]
    torch.testing.assert_close(torch.cat(seen), preprocess(images))
    state = torch.load(small_dinov2, weights_only=True)
    net = DinoV2(SMALL).eval()
    net.load_state_dict(state)
    with torch.no_grad():  # the final LayerNorm's [CLS] token of that file's network
        torch.testing.assert_close(features, net(preprocess(images)))
    darker, _ = extractor.extract((images.float() * 0.5).to(torch.uint8))
    shift = frechet_distance(features, darker)
    assert shift > 0 and abs(frechet_distance(features, features)) < 1e-6 * shift
    assert extractor.cache_tag.startswith("dinov2-small.pth-")


def test_grey_images_are_repeated_to_rgb(small_dinov2):
    extractor = get_extractor("dinov2", "cpu")
    grey = make_image_set([3, 3], seed=1, channels=1).images
    torch.testing.assert_close(extractor.extract(grey)[0], extractor.extract(grey.expand(-1, 3, -1, -1))[0])


def test_a_file_of_another_network_is_a_one_line_config_error(monkeypatch, tmp_path):
    path = tmp_path / "vits.pth"
    save_random_dinov2(path)  # the small network's file, where ViT-L/14 is expected
    monkeypatch.setenv(DINOV2_VITL14.env_var, str(path))
    with pytest.raises(ConfigError) as info:
        get_extractor("dinov2", "cpu")
    message = str(info.value)
    assert "\n" not in message and "not a DINOv2 ViT-L/14 state dict" in message and str(path) in message
    assert "blocks.2.norm1.weight" in message or "(1, 1, 1024)" in message


def test_a_pickle_that_is_not_a_state_dict_is_refused(monkeypatch, tmp_path):
    path = tmp_path / "odd.pth"
    torch.save([torch.zeros(1)], path)
    monkeypatch.setenv(DINOV2_VITL14.env_var, str(path))
    with pytest.raises(ConfigError, match=r"cannot load DINOv2 weights from .*odd\.pth: expected a state dict"):
        get_extractor("dinov2", "cpu")


def test_position_embedding_is_kept_at_the_pretrained_grid_and_resized_elsewhere(tmp_path):
    net = DinoV2(SMALL)
    with torch.no_grad():
        net.pos_embed.copy_(torch.randn(net.pos_embed.shape, generator=torch.Generator().manual_seed(0)))
    assert net.position_embedding(37, 37) is net.pos_embed
    resized = net.position_embedding(16, 16)
    assert resized.shape == (1, 257, SMALL.embed_dim)
    torch.testing.assert_close(resized[:, 0], net.pos_embed[:, 0])  # the [CLS] position is not resized
    smooth = torch.from_numpy(np.linspace(0, 1, 37, dtype=np.float32))  # a ramp over rows stays a ramp
    with torch.no_grad():
        net.pos_embed[0, 1:, 0] = smooth.repeat_interleave(37)
    ramp = net.position_embedding(16, 16)[0, 1:, 0].view(16, 16)
    assert (ramp[1:, 0] > ramp[:-1, 0]).all() and torch.allclose(ramp[:, 0:1].expand(16, 16), ramp, atol=1e-5)
