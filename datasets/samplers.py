"""Index streams for real training batches: the paper's "Sampling FALSE" (shuffled) and "Sampling TRUE" (balanced).

Both are infinite, own a ``torch.Generator`` seeded once, and save and restore their whole state (generator state
and position), so that a resumed run draws exactly the batches an uninterrupted one would have drawn.

* ``none`` -> :class:`ShuffledSampler`: epochs of ``torch.randperm``; a batch may span an epoch boundary.
* ``balanced`` -> :class:`ClassBalancedSampler`: sample i has weight ``N / n_{y_i}`` and indices are drawn with
  replacement (``torch.multinomial``), so each class is drawn with probability 1/C (ecogan-upstream.md section 3.2:
  the ``DistributedWeightedSampler`` behind the paper's table).
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from bench.errors import ConfigError, unknown_name

SAMPLERS = ("none", "balanced")


class IndexSampler(Protocol):
    """What the training loop uses: an infinite stream of dataset indices with a checkpointable state."""

    def next_indices(self, batch_size: int) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _check_state(state: dict[str, Any], kind: str, size: int) -> None:
    if state.get("kind") != kind or state.get("size") != size:
        raise ConfigError(f"sampler state is for kind={state.get('kind')!r} over {state.get('size')} images, "
                          f"not kind={kind!r} over {size}: the checkpoint belongs to another dataset or sampling")


class ShuffledSampler:
    """Shuffled epochs over ``n`` indices, concatenated into one stream.

    Args:
        n: dataset size (>= 1).
        seed: seeds this sampler's own generator.
    """

    kind = "none"

    def __init__(self, n: int, seed: int) -> None:
        if n < 1:
            raise ConfigError(f"cannot sample from an empty dataset (n = {n})")
        self.n = n
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.generator)
        self.pos = 0  # next position in self.perm

    def next_indices(self, batch_size: int) -> torch.Tensor:
        """The next ``batch_size`` indices (int64), starting a new permutation whenever one is used up."""
        parts = []
        while batch_size > 0:
            if self.pos == self.n:
                self.perm = torch.randperm(self.n, generator=self.generator)
                self.pos = 0
            take = min(batch_size, self.n - self.pos)
            parts.append(self.perm[self.pos:self.pos + take])
            self.pos += take
            batch_size -= take
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "size": self.n, "generator": self.generator.get_state(),
                "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _check_state(state, self.kind, self.n)
        self.generator.set_state(state["generator"])
        self.perm = state["perm"].clone()
        self.pos = int(state["pos"])


class ClassBalancedSampler:
    """Draws with replacement, sample i with weight ``N / n_{y_i}``: every class present has probability 1/C.

    Args:
        labels: int64 (N,) class labels of the dataset (classes with no sample are never drawn).
        seed: seeds this sampler's own generator.
    """

    kind = "balanced"

    def __init__(self, labels: torch.Tensor, seed: int) -> None:
        labels = labels.long()
        if labels.numel() < 1:
            raise ConfigError("cannot sample from an empty dataset (no labels)")
        class_sizes = torch.bincount(labels)
        self.weights = labels.numel() / class_sizes[labels].double()
        self.generator = torch.Generator().manual_seed(seed)
        self.drawn = 0  # indices drawn so far (informative; the generator state is what resumes the stream)

    def next_indices(self, batch_size: int) -> torch.Tensor:
        """``batch_size`` indices (int64) drawn with replacement."""
        if batch_size <= 0:
            return torch.zeros(0, dtype=torch.long)
        self.drawn += batch_size
        return torch.multinomial(self.weights, batch_size, replacement=True, generator=self.generator)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "size": self.weights.numel(), "generator": self.generator.get_state(),
                "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _check_state(state, self.kind, self.weights.numel())
        self.generator.set_state(state["generator"])
        self.drawn = int(state["drawn"])


def make_sampler(kind: str, labels: torch.Tensor, seed: int) -> IndexSampler:
    """The sampler of the config's ``sampling`` key: ``"none"`` (shuffled) or ``"balanced"`` (class-balanced)."""
    if kind == "none":
        return ShuffledSampler(labels.numel(), seed)
    if kind == "balanced":
        return ClassBalancedSampler(labels, seed)
    raise unknown_name("sampling", kind, SAMPLERS)
