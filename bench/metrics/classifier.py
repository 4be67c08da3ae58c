"""The reference classifier (the *judge*): a small CNN trained by bench on the balanced reference split, then cached.

It serves twice: as the ``classifier`` feature extractor (features = the 128-d pooled penultimate layer,
logits = the C-way head, so its IS is at most C), and as the judge of conditional accuracy for every protocol.
It makes FID-like numbers meaningful on offline machines and on data far from ImageNet (digits).

Training is part of the measurement instrument, so it is fixed by :class:`JudgeRecipe` (its text is part of the
cache key): seed 0 (not the run's seed, so every run of a dataset shares one judge); SGD with Nesterov momentum
0.9 and weight decay 5e-4 on a one-cycle schedule (linear from a tenth of the peak to the peak over the first
quarter of the steps, then linearly to 0); cross-entropy with label smoothing 0.1; random crops after
reflect-padding by 1/8 of the image side and, on datasets whose mirror images keep their class (every registered
natural-image set and ``folder:`` sets; not ``digits_lt``), horizontal flips (:func:`augmentation`); bf16
autocast with channels_last on CPUs with bf16 units (:mod:`bench.hardware`). The budget scales with the data
(:func:`judge_budget`): about :data:`IMAGE_PASSES` images seen, between :data:`MIN_EPOCHS` and :data:`MAX_EPOCHS`
epochs, in batches of N/8 rounded to a power of two within [64, 256]; so the judge of a 10,000-image reference
(30 epochs) costs the same whatever the dataset, and the 500-image digits reference (30 epochs of 8 batches at
16x16) a few seconds. It runs under
:func:`bench.rng.preserved_rng` with private generators for the order and the augmentation, so the global RNG
stream is untouched, and it is bit-for-bit deterministic on CPU.

Measured (``benchmarks/bench_judge.py``): trained on the 10,000 test images of a JPEG copy of CIFAR-10 at 32x32, it
scores the class-mean accuracy given in the README on held real train images.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench import progress
from bench.datasets import get_spec
from bench.datasets.base import ImageSet, uint8_to_float
from bench.errors import ConfigError
from bench.hardware import cpu_has_bf16
from bench.metrics.cache import atomic_save, digest, environment_key, load_cached, slug
from bench.rng import preserved_rng

SEED = 0
FEATURE_DIM = 128
WIDTHS = (32, 64, 128, 128, FEATURE_DIM)  # the five conv layers; a 2x2 max-pool after the 1st, 2nd and 4th
IMAGE_PASSES = 300_000  # images seen in training (epochs x N), within the epoch bounds
MIN_EPOCHS, MAX_EPOCHS = 10, 30
PEAK_LR, MOMENTUM, WEIGHT_DECAY, LABEL_SMOOTHING, WARMUP = 0.2, 0.9, 5e-4, 0.1, 0.25


@dataclass(frozen=True)
class JudgeRecipe:
    """How a judge is trained for one reference split (all of it part of the cache key)."""

    epochs: int
    batch_size: int
    flips: bool  # horizontal flips (the dataset's mirror images keep their class)
    crop_pad: int  # random crops after reflect-padding by this many pixels (0 = none)
    bf16: bool  # bf16 autocast + channels_last (CPUs with bf16 units)

    @property
    def peak_lr(self) -> float:
        return PEAK_LR * self.batch_size / 256

    def text(self) -> str:
        """The recipe as the cache key and the log name it."""
        return (f"v2-5conv{'-'.join(map(str, WIDTHS))}-sgd{PEAK_LR}n{MOMENTUM}wd{WEIGHT_DECAY}-onecycle{WARMUP}"
                f"-ls{LABEL_SMOOTHING}-e{self.epochs}-b{self.batch_size}-flip{int(self.flips)}-crop{self.crop_pad}"
                f"-{'bf16cl' if self.bf16 else 'fp32'}-seed{SEED}")

    def describe(self, n_images: int) -> str:
        """E.g. ``30 epochs of 10,000 images in batches of 256 (300,000 image passes), flips, 4-px crops, bf16``."""
        aug = ", ".join(a for a in ("flips" if self.flips else "", f"{self.crop_pad}-px crops" if self.crop_pad
                                    else "") if a) or "no augmentation"
        return (f"{self.epochs} epochs of {n_images:,} images in batches of {self.batch_size} "
                f"({self.epochs * n_images:,} image passes), {aug}, {'bf16' if self.bf16 else 'fp32'}")


def judge_budget(n_images: int) -> tuple[int, int]:
    """(epochs, batch size) for a reference of ``n_images``: about :data:`IMAGE_PASSES` images seen, within
    [MIN_EPOCHS, MAX_EPOCHS] epochs; batches of N/8 rounded down to a power of two, within [64, 256]."""
    n = max(n_images, 1)
    epochs = int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(IMAGE_PASSES / n))))
    batch = 1 << max(6, min(8, int(math.log2(max(n // 8, 1)))))
    return epochs, batch


def num_epochs(n_images: int) -> int:
    """Epochs for a reference of ``n_images`` (:func:`judge_budget`)."""
    return judge_budget(n_images)[0]


def augmentations(name: str) -> tuple[bool, bool]:
    """(flips, crops) for the judge of dataset ``name``: crops for every dataset a registry knows (``folder:``
    included), flips where its spec says mirror images keep their class; neither for a name no registry knows
    (a synthetic set, whose class may be where a pattern lies)."""
    try:
        spec = get_spec(name)
    except ConfigError:
        return False, False
    return spec.mirror, True


def judge_recipe(reference: ImageSet, device: torch.device | str = "cpu") -> JudgeRecipe:
    """The recipe of the judge of ``reference`` on ``device`` (see the module docstring)."""
    return recipe_for(reference.name, len(reference), reference.image_size, device)


def recipe_for(dataset: str, n_images: int, image_size: int, device: torch.device | str = "cpu") -> JudgeRecipe:
    """The judge's recipe for ``n_images`` reference images of dataset ``dataset`` at ``image_size``."""
    epochs, batch = judge_budget(n_images)
    flips, crops = augmentations(dataset)
    return JudgeRecipe(epochs=epochs, batch_size=batch, flips=flips, crop_pad=max(1, image_size // 8) if crops else 0,
                       bf16=torch.device(device).type == "cpu" and cpu_has_bf16())


class ReferenceClassifier(nn.Module):
    """Five conv-BN-ReLU layers (32, 64, 128, 128, 128 channels; a 2x2 max-pool after the 1st, 2nd and 4th) ->
    global average pool -> linear.

    About 0.45M parameters for 3 channels and 10 classes; any input size (the pools round up).
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i, c_out in enumerate(WIDTHS):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            if i in (0, 1, 3):
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            c_in = c_out
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, C, H, W) float in [-1, 1] -> (features (N, 128), logits (N, num_classes))."""
        features = self.body(x)
        return features, self.head(features)


def classifier_path(reference: ImageSet, cache_root: Path, device: torch.device | str = "cpu") -> Path:
    """``<cache_root>/classifier-<dataset>-<size>px-<channels>ch-<hash>.pt``; the hash covers the images,
    labels, class count, training recipe, the device type it trains on and the library versions
    (:func:`bench.metrics.cache.environment_key`)."""
    recipe = judge_recipe(reference, device).text()
    key = digest(reference.images, reference.labels, reference.num_classes, recipe, environment_key(device))
    return cache_root / (f"classifier-{slug(reference.name)}-{reference.image_size}px-"
                         f"{reference.channels}ch-{key}.pt")


def weights_tag(net: nn.Module) -> str:
    """``classifier-<sha256[:12]>`` of ``net``'s state_dict (names, dtypes, shapes, values): names the weights
    actually in use, so features of two differently trained classifiers never share a cache entry."""
    state = net.state_dict()
    return "classifier-" + digest(*state.keys(), *state.values())


def augmentation(x: torch.Tensor, recipe: JudgeRecipe, generator: torch.Generator) -> torch.Tensor:
    """Random crops (reflect padding by ``recipe.crop_pad``) and, with ``recipe.flips``, horizontal flips of a
    batch x (B, C, H, W), one draw per image from ``generator``; vectorised (one gather for the crops)."""
    b, _, h, w = x.shape
    if recipe.flips:
        flip = torch.rand(b, generator=generator) < 0.5
        x = torch.where(flip.to(x.device)[:, None, None, None], x.flip(3), x)
    pad = recipe.crop_pad
    if pad:
        padded = F.pad(x, (pad, pad, pad, pad), mode="reflect" if min(h, w) > pad else "replicate")
        dy, dx = (torch.randint(0, 2 * pad + 1, (2, b), generator=generator)).to(x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # [B, 1, H, 1]
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # [B, 1, 1, W]
        batch = torch.arange(b, device=x.device)[:, None, None, None]
        channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
        x = padded[batch, channel, rows, cols]
    return x


def learning_rate(step: int, total: int, peak: float) -> float:
    """The one-cycle schedule: peak/10 -> peak linearly over the first WARMUP of ``total`` steps, then -> 0."""
    warm = max(1, round(WARMUP * total))
    if step < warm:
        return peak * (0.1 + 0.9 * step / warm)
    return peak * max(0.0, (total - step) / max(1, total - warm))


def train_classifier(reference: ImageSet, device: torch.device | str = "cpu",
                     recipe: JudgeRecipe | None = None) -> ReferenceClassifier:
    """Train a :class:`ReferenceClassifier` on ``reference`` (``recipe`` None = :func:`judge_recipe`), with a
    progress bar ``judge`` (epoch, loss, training accuracy, ETA); returned in eval mode, fp32, contiguous."""
    device = torch.device(device)
    recipe = recipe or judge_recipe(reference, device)
    n = len(reference)
    with preserved_rng():
        torch.random.default_generator.manual_seed(SEED)  # CPU only: init happens on CPU, other GPUs untouched
        net = ReferenceClassifier(reference.channels, reference.num_classes).to(device)
        order_rng = torch.Generator().manual_seed(SEED)
        augment_rng = torch.Generator().manual_seed(SEED + 1)
        decay = [p for p in net.parameters() if p.ndim > 1]
        rest = [p for p in net.parameters() if p.ndim <= 1]
        opt = torch.optim.SGD([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": rest, "weight_decay": 0}],
                              lr=recipe.peak_lr, momentum=MOMENTUM, nesterov=True)
        if recipe.bf16:
            net = net.to(memory_format=torch.channels_last)
        images, labels = reference.images.to(device), reference.labels.to(device)
        # a last batch of one is dropped (BatchNorm needs two samples)
        per_epoch = sum(1 for size in _batch_sizes(n, recipe.batch_size) if size >= 2)
        total = recipe.epochs * per_epoch
        net.train()
        step = 0
        with progress.bar(total, f"judge {reference.name}", unit="batch", leave=False) as bar:
            for epoch in range(recipe.epochs):
                order = torch.randperm(n, generator=order_rng).to(device)
                loss_sum = torch.zeros((), device=device)
                correct = torch.zeros((), device=device)
                seen = 0
                for idx in order.split(recipe.batch_size):
                    if idx.numel() < 2:
                        continue
                    for group in opt.param_groups:
                        group["lr"] = learning_rate(step, total, recipe.peak_lr)
                    x = augmentation(uint8_to_float(images[idx]), recipe, augment_rng)
                    if recipe.bf16:
                        x = x.contiguous(memory_format=torch.channels_last)
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=recipe.bf16):
                        _, logits = net(x)
                        loss = F.cross_entropy(logits.float(), labels[idx], label_smoothing=LABEL_SMOOTHING)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    loss_sum += loss.detach() * idx.numel()
                    correct += (logits.detach().argmax(1) == labels[idx]).sum()
                    seen += idx.numel()
                    bar.update(1)
                if seen:
                    bar.set_postfix_str(f"epoch {epoch + 1}/{recipe.epochs}, loss {float(loss_sum) / seen:.3f}, "
                                        f"train acc {float(correct) / seen:.3f}")
    net = net.to(memory_format=torch.contiguous_format)
    net.eval().requires_grad_(False)
    return net


def _batch_sizes(n: int, batch_size: int) -> list[int]:
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def load_or_train_classifier(reference: ImageSet, cache_root: Path,
                             device: torch.device | str = "cpu") -> tuple[ReferenceClassifier, Path]:
    """The cached classifier for ``reference`` (see :func:`classifier_path`), trained and saved on a miss.

    Returns:
        (classifier in eval mode on ``device``, its cache file).
    """
    recipe = judge_recipe(reference, device)
    path = classifier_path(reference, cache_root, device)
    saved = load_cached(path)
    if saved is not None and saved.get("recipe") == recipe.text():
        with preserved_rng():
            net = ReferenceClassifier(reference.channels, reference.num_classes)
        net.load_state_dict(saved["state_dict"])
        return net.to(device).eval().requires_grad_(False), path
    print(f"bench: training the reference classifier on {reference.name}/{reference.split} "
          f"({recipe.describe(len(reference))}) -> {path}", file=sys.stderr, flush=True)
    net = train_classifier(reference, device, recipe)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    atomic_save({"state_dict": state, "recipe": recipe.text(), "num_classes": reference.num_classes,
                 "channels": reference.channels, "image_size": reference.image_size}, path)
    return net, path
