"""Test-only methods: ECOGAN and EBGAN with faults switched on by environment variables.

Registered on import as ``loop_ecogan``, ``loop_ebgan``, ``loop_bagan`` and ``loop_ecogan_nobn`` (ECOGAN whose G has no
BatchNorm, so that a data-parallel run can match a one-process run to float tolerance). The math is the real
methods'; the faults only happen at a given step (the one ``update_ema`` receives), so the same class serves
the uninterrupted reference run, a killed run and its resumption. Subprocesses import this module through
``BENCH_METHODS=run.loop_methods`` with ``tests/`` on ``PYTHONPATH``.

Environment:
    LOOP_TEST_DELAY        seconds to sleep after each G step (so a subprocess can be killed mid-run)
    LOOP_TEST_NAN_AT       step whose G step reports loss/g = NaN
    LOOP_TEST_DIE_AT       step at which the process "dies": a BaseException that train() does not catch,
                           raised after the G step and before any file of that step is written
    LOOP_TEST_SIGNAL_AT    step after whose G step the process sends itself a signal
    LOOP_TEST_SIGNAL       that signal's name: SIGINT (Ctrl-C, the default) or SIGTERM
    LOOP_TEST_PRETRAIN_LOG file that gets one line ``pretrain`` per pretraining stage completed
    LOOP_TEST_PRETRAIN_BATCH_LOG  file that gets one line ``batch`` per pretraining batch
    LOOP_TEST_PRETRAIN_DELAY      seconds to sleep after each pretraining batch
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

from torch import nn

from bench.methods.bagan import BAGAN
from bench.methods.base import OptimizerSettings, register_method
from bench.methods.ebgan import EBGAN
from bench.methods.ecogan import ECOGAN


class Died(BaseException):
    """Stands for SIGKILL: not an Exception, so train() records nothing."""


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


class Faults:
    """Mixin adding the environment-controlled faults to a real method."""

    def setup_faults(self) -> None:
        self.delay = float(os.environ.get("LOOP_TEST_DELAY") or 0)
        self.nan_at = _env_int("LOOP_TEST_NAN_AT")
        self.die_at = _env_int("LOOP_TEST_DIE_AT")
        self.signal_at = _env_int("LOOP_TEST_SIGNAL_AT")
        self.signal = getattr(signal, os.environ.get("LOOP_TEST_SIGNAL") or "SIGINT")
        self.pretrain_log = os.environ.get("LOOP_TEST_PRETRAIN_LOG")
        self.pretrain_batch_log = os.environ.get("LOOP_TEST_PRETRAIN_BATCH_LOG")
        self.pretrain_delay = float(os.environ.get("LOOP_TEST_PRETRAIN_DELAY") or 0)
        self.last_step = 0

    def g_step(self):
        losses = super().g_step()
        if self.nan_at == self.last_step + 1:
            losses["loss/g"] = math.nan
        return losses

    def update_ema(self, step: int) -> None:
        super().update_ema(step)
        self.last_step = step
        if self.delay:
            time.sleep(self.delay)
        if step == self.die_at:
            raise Died(f"died at step {step}")
        if step == self.signal_at:
            os.kill(os.getpid(), self.signal)

    def pretrain_step(self, x, y):
        losses = super().pretrain_step(x, y)
        if self.pretrain_batch_log:
            with Path(self.pretrain_batch_log).open("a") as fh:
                fh.write("batch\n")
        if self.pretrain_delay:
            time.sleep(self.pretrain_delay)
        return losses

    def finish_pretrain(self, loader):
        super().finish_pretrain(loader)
        if self.pretrain_log:
            with Path(self.pretrain_log).open("a") as fh:
                fh.write("pretrain\n")


@register_method("loop_ecogan")
class LoopECOGAN(Faults, ECOGAN):
    def __init__(self, config, device="cpu"):
        super().__init__(config, device)
        self.setup_faults()


@register_method("loop_ebgan")
class LoopEBGAN(Faults, EBGAN):
    def __init__(self, config, device="cpu"):
        super().__init__(config, device)
        self.setup_faults()


@register_method("loop_bagan")
class LoopBAGAN(Faults, BAGAN):
    def __init__(self, config, device="cpu"):
        super().__init__(config, device)
        self.setup_faults()


@register_method("loop_ecogan_nobn")
class LoopECOGANNoBN(LoopECOGAN):
    """LoopECOGAN with G's BatchNorm layers replaced by identities: no statistic depends on the batch split
    (with ``cond_lambda = 0`` neither does any loss), so N ranks compute what one process computes."""

    def __init__(self, config, device="cpu"):
        super().__init__(config, device)
        for module in list(self.G.modules()):
            for name, child in module.named_children():
                if isinstance(child, nn.BatchNorm2d):
                    setattr(module, name, nn.Identity())
        self.opt_g = self.adam(self.G.parameters(), OptimizerSettings(self.hp.lr_g, self.hp.betas, self.hp.adam_eps))
