"""Live monitoring: an optional TensorBoard event file per run (``--set tensorboard=true``; off by default).

Written into ``<run folder>/tensorboard/`` by rank 0: the losses of every logged step (``loss/...``), each
evaluation's metrics under ``<protocol>/<extractor>/<metric>`` (FID, IS, KID, conditional accuracy, head/tail FID
and their bootstrap bounds) and the fixed-z sample grid as an image. The event file is a view for watching a
run; metrics.csv stays the record (a resumed run may log a step twice). Needs the optional extra
``pip install ecogan-bench[tensorboard]``; asking for it without tensorboard installed is a ConfigError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import ConfigError

SCALARS = ("fid", "fid_lo", "fid_hi", "is_mean", "kid_mean", "precision", "recall", "ifid_mean", "fid_head",
           "fid_tail", "cond_acc", "judge_acc", "d_acc_fake", "label_sens")


class Monitor:
    """Does nothing; :func:`make_monitor` returns a :class:`TensorBoardMonitor` when a run asks for one."""

    def losses(self, step: int, losses: Mapping[str, float]) -> None: ...

    def evaluation(self, step: int, rows: list[Mapping[str, Any]], grid: Any) -> None: ...

    def close(self) -> None: ...


class TensorBoardMonitor(Monitor):
    """Writes the scalars and the sample grid through ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self, folder: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch's module imports tensorboard itself
            raise ConfigError("tensorboard = true needs the tensorboard package: pip install 'ecogan-bench"
                              "[tensorboard]' (or pip install tensorboard)") from None
        self.writer = SummaryWriter(log_dir=str(folder))

    def losses(self, step: int, losses: Mapping[str, float]) -> None:
        for key, value in losses.items():
            self.writer.add_scalar(key, value, step)

    def evaluation(self, step: int, rows: list[Mapping[str, Any]], grid: Any) -> None:
        for row in rows:
            prefix = f"{row['protocol']}/{row['extractor']}"
            for key in SCALARS:
                value = row.get(key)
                if isinstance(value, int | float) and math.isfinite(value):
                    self.writer.add_scalar(f"{prefix}/{key}", value, step)
        if grid is not None:
            self.writer.add_image("samples", np.asarray(grid.convert("RGB")), step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def make_monitor(enabled: bool, run_root: Path) -> Monitor:
    """A TensorBoard monitor writing into ``run_root / "tensorboard"`` when ``enabled``, else a no-op."""
    return TensorBoardMonitor(run_root / "tensorboard") if enabled else Monitor()
