"""The reconstruction loop shared by the autoencoder pretraining stages of BAGAN and EBGAN."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

from bench.methods.base import Method, OptimizerSettings


def train_autoencoder(reconstruct: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                      params: Iterable[torch.Tensor], loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
                      epochs: int, settings: OptimizerSettings) -> float:
    """Minimise MSE(reconstruct(x, y), x) with Adam(``settings``) over ``params`` for ``epochs`` passes of
    ``loader`` (upstream ``training_AE.py`` and BAGAN's ``pre_training``). Returns the last epoch's mean loss
    per image (NaN after zero epochs)."""
    opt = Method.adam(params, settings)
    mean = float("nan")
    for _ in range(epochs):
        total, count = 0.0, 0  # total becomes a tensor on the data's device: no sync per batch
        for x, y in loader:
            loss = F.mse_loss(reconstruct(x, y), x)
            Method.optimizer_step(opt, loss)
            total = total + loss.detach() * x.shape[0]
            count += x.shape[0]
        mean = float(total / count) if count else float("nan")
    return mean
