"""Speed of the contrastive losses (methods/losses.py): forward + backward at the paper's batch shape.

B = 128, D = 512 (ECOGAN's per-GPU batch and embedding width), random unit embeddings and proxies, labels
drawn from the CIFAR10_LT profile (class 0: 5000, class c: 100·c). Prints the median time per call over
``--runs`` calls after ``--warmup`` calls, with torch's default thread count. Target: under 5 ms each on CPU.

For contrast it also times an "upstream-style" ECO loss written from the description in ecogan-upstream.md
§5.1: masks built on the CPU with numpy in a loop over classes, similarities from a B×B×D broadcast. Its
value is checked against :func:`eco_loss` (quirks="paper") so that the two compute the same thing.

    .venv/bin/python benchmarks/bench_losses.py [--runs 50] [--warmup 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from bench.methods.losses import contrastive_2c_loss, d2d_ce_loss, eco_loss

BATCH, DIM, NUM_CLASSES = 128, 512, 10
CIFAR10_LT_COUNTS = [5000] + [100 * c for c in range(1, NUM_CLASSES)]
TARGET_MS = 5.0


def upstream_style_eco(embeds: torch.Tensor, proxies: torch.Tensor, labels: torch.Tensor,
                       num_classes: int = NUM_CLASSES, temperature: float = 1.0) -> torch.Tensor:
    """ECO loss (paper semantics) the way ecogan-upstream.md §5.1 describes the upstream code: numpy masks
    built in a Python loop over classes, then moved to the device; cosines from a (B, B, D) broadcast."""
    device, batch = embeds.device, embeds.shape[0]
    labels_np = labels.detach().cpu().numpy()
    same = np.zeros((batch, batch), dtype=np.float32)
    for c in range(num_classes):
        rows = (labels_np == c).astype(np.float32)
        same += np.outer(rows, rows)
    off_diag = ~np.eye(batch, dtype=bool)
    same_t = torch.from_numpy(same).to(device)
    off_t = torch.from_numpy(off_diag).to(device)

    sim_ee = F.cosine_similarity(embeds[:, None, :], embeds[None, :, :], dim=-1)  # (B, B, D) -> (B, B)
    sim_ep = F.cosine_similarity(embeds[:, None, :], proxies[None, :, :], dim=-1)
    sim_ee = sim_ee[off_t].view(batch, batch - 1)
    same_ee = same_t[off_t].view(batch, batch - 1)
    sim_ee = sim_ee - sim_ee.max(dim=1, keepdim=True).values.detach()
    sim_ep = sim_ep - sim_ep.max(dim=1, keepdim=True).values.detach()
    f_block, l_block = torch.exp(sim_ee / temperature), torch.exp(sim_ep / temperature)
    num = (f_block * same_ee).sum(1) + (l_block * same_t).sum(1)
    den = f_block.sum(1) + l_block.sum(1)
    return -torch.log(num / den).mean()


def make_inputs(device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    weights = torch.tensor(CIFAR10_LT_COUNTS, dtype=torch.float)
    labels = torch.multinomial(weights, BATCH, replacement=True, generator=gen)
    embeds = F.normalize(torch.randn(BATCH, DIM, generator=gen), dim=1)
    table = F.normalize(torch.randn(NUM_CLASSES, DIM, generator=gen), dim=1)
    return embeds.to(device), table[labels].to(device), labels.to(device)


def time_call(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], inputs, runs: int,
              warmup: int) -> float:
    """Median milliseconds of one forward + backward (gradients w.r.t. embeds and proxies)."""
    embeds, proxies, labels = inputs
    embeds = embeds.clone().requires_grad_(True)
    proxies = proxies.clone().requires_grad_(True)
    sync = torch.cuda.synchronize if embeds.is_cuda else (lambda: None)
    times = []
    for k in range(warmup + runs):
        embeds.grad = proxies.grad = None
        sync()
        start = time.perf_counter()
        fn(embeds, proxies, labels).backward()
        sync()
        if k >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    inputs = make_inputs(device)

    diff = (eco_loss(*inputs, quirks="paper") - upstream_style_eco(*inputs)).abs().item()
    counts = torch.bincount(inputs[2].cpu(), minlength=NUM_CLASSES).tolist()
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"B={BATCH} D={DIM}, labels per class {counts}")
    print(f"|eco_loss(paper) - upstream-style| = {diff:.2e}")

    cases = {
        "eco_loss (paper)": lambda e, p, y: eco_loss(e, p, y, quirks="paper"),
        "eco_loss (fixed)": lambda e, p, y: eco_loss(e, p, y, quirks="fixed"),
        "contrastive_2c_loss": contrastive_2c_loss,
        "d2d_ce_loss": d2d_ce_loss,
        "upstream-style ECO (contrast)": upstream_style_eco,
    }
    print(f"\n{'loss':<32} {'ms/call':>9}  target < {TARGET_MS:g} ms")
    print("-" * 58)
    for name, fn in cases.items():
        ms = time_call(fn, inputs, args.runs, args.warmup)
        verdict = "" if "upstream" in name else ("ok" if ms < TARGET_MS else "SLOW")
        print(f"{name:<32} {ms:>9.3f}  {verdict}")


if __name__ == "__main__":
    main()
