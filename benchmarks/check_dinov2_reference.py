"""Check bench's DINOv2 against the official code, and time ViT-L/14 features on this machine.

1. Layout: bench's ViT-L/14 (``bench.metrics.dinov2``) and the official hub model ``dinov2_vitl14`` (built from a
   checkout of facebookresearch/dinov2, on the meta device) have the same state-dict keys and shapes, i.e. the
   published ``dinov2_vitl14_pretrain.pth`` loads into bench's module with ``strict=True``.
2. Numbers: with the same random weights, the official ViT-S/14 (the same code as ViT-L at another width) and
   bench's give the same [CLS] features at 224 px (position embedding resized) and 518 px (not resized).
3. Time: ViT-L/14 features of a batch of 224 px images with random weights (seconds per image), the cost of
   FD-DINOv2 per evaluation on this machine.

Nothing is downloaded: give the path of a dinov2 checkout (``git clone https://github.com/facebookresearch/dinov2``)
whose ``dinov2`` package is importable; step 3 alone runs without one.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/check_dinov2_reference.py --dinov2-repo /path/to/dinov2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import torch

from bench.metrics.dinov2 import VIT_L14, DinoV2, ViTShape, expected_layout, preprocess, random_state_dict


def official_model(arch: str, meta: bool = False) -> torch.nn.Module:
    """The hub's ``dinov2_vit*14`` construction (img_size 518, patch 14, LayerScale 1.0, MLP FFN, no chunks, no
    registers, interpolate_offset 0.1) without its weights."""
    os.environ["XFORMERS_DISABLED"] = "1"
    warnings.filterwarnings("ignore", message="xFormers")
    from dinov2.models import vision_transformer as vits

    kwargs = dict(img_size=518, patch_size=14, init_values=1.0, ffn_layer="mlp", block_chunks=0, num_register_tokens=0,
                  interpolate_antialias=False, interpolate_offset=0.1)
    if meta:
        with torch.device("meta"):
            return vits.__dict__[arch](**kwargs)
    return vits.__dict__[arch](**kwargs).eval()


def compare_with_official() -> None:
    official = {k: tuple(v.shape) for k, v in official_model("vit_large", meta=True).state_dict().items()}
    ours = expected_layout(VIT_L14)
    print(f"ViT-L/14 layout: {len(official)} official keys, {len(ours)} bench keys, identical: {official == ours}")
    small = ViTShape("ViT-S/14", embed_dim=384, depth=12, num_heads=6)
    state = random_state_dict(small, seed=1)
    reference = official_model("vit_small")
    reference.load_state_dict(state, strict=True)
    net = DinoV2(small).eval()
    net.load_state_dict(state, strict=True)
    for size in (224, 518):
        x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(size))
        with torch.no_grad():
            a, b = reference(x), net(x)
        print(f"ViT-S/14 at {size} px, same random weights: features {tuple(b.shape)}, max |official - bench| "
              f"= {(a - b).abs().max().item():.3g} (mean |feature| {a.abs().mean().item():.3g})")


def time_vitl(batch: int) -> None:
    with torch.device("meta"):
        net = DinoV2(VIT_L14)
    net.load_state_dict(random_state_dict(VIT_L14), assign=True)
    net.eval().requires_grad_(False)
    images = torch.randint(0, 256, (batch, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        net(preprocess(images[:1]))  # warm-up
        start = time.perf_counter()
        features = net(preprocess(images))
        seconds = time.perf_counter() - start
    print(f"ViT-L/14 on CPU ({torch.get_num_threads()} threads): {batch} images of 32 px -> "
          f"{tuple(features.shape)} in {seconds:.1f} s = {seconds / batch:.2f} s per image "
          f"(10,000 fakes: {seconds / batch * 1e4 / 60:.0f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dinov2-repo", default=None, help="a facebookresearch/dinov2 checkout (steps 1 and 2)")
    parser.add_argument("--batch", type=int, default=8, help="images timed in step 3")
    args = parser.parse_args()
    if args.dinov2_repo:
        sys.path.insert(0, args.dinov2_repo)
        compare_with_official()
    else:
        print("no --dinov2-repo: steps 1 and 2 skipped")
    time_vitl(args.batch)


if __name__ == "__main__":
    main()
