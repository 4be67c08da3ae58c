"""Issue 11, row 16: checkpoints load with ``weights_only=True``. A shared file that would run code when
unpickled is refused with one line (also through ``bench sample`` / ``bench eval``), bench's own files hold
only tensors and plain values, and checkpoints of older versions (numpy RNG state as an ndarray) still load."""

from __future__ import annotations

import os
import random
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bench.cli import main
from bench.errors import ConfigError
from bench.rng import rng_state, seed_everything, set_rng_state
from bench.run.checkpoint import FORMAT, Checkpoint, load_checkpoint, save_checkpoint


class _RunsCode:
    """Unpickling this calls os.system: what a crafted checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted(path, marker) -> None:
    torch.save({"format": FORMAT, "step": 1, "method": {"G": _RunsCode(marker)}, "best": None, "rng": {},
                "config_hash": ""}, path)


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    crafted(tmp_path / "evil.pt", marker)
    with pytest.raises(ConfigError, match=r"evil.pt holds objects besides tensors and plain values \(posix.system\); "
                                          r"refusing to load it"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_bench_checkpoints_hold_only_tensors_and_plain_values(tmp_path):
    seed_everything(4)
    ckpt = Checkpoint(step=3, method={"G": torch.nn.Linear(2, 2).state_dict(), "extra": {"done": True}},
                      rng=rng_state() | {"sampler": {"generator": torch.Generator().get_state(), "kind": "none"}})
    save_checkpoint(ckpt, tmp_path / "c.pt")
    raw = torch.load(tmp_path / "c.pt", weights_only=True)  # no allow-list needed
    assert isinstance(raw["rng"]["numpy"]["state"]["key"], torch.Tensor)
    expected = (random.random(), float(np.random.rand()), torch.rand(2).tolist())
    set_rng_state(load_checkpoint(tmp_path / "c.pt").rng)
    assert (random.random(), float(np.random.rand()), torch.rand(2).tolist()) == expected


def test_older_checkpoints_with_numpy_arrays_still_load(tmp_path):
    seed_everything(5)
    legacy = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    torch.save({"format": FORMAT, "step": 2, "method": {}, "best": None, "rng": legacy, "config_hash": "h"},
               tmp_path / "old.pt")
    expected = float(np.random.rand())
    set_rng_state(load_checkpoint(tmp_path / "old.pt").rng)
    assert float(np.random.rand()) == expected


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_cli_refuses_a_crafted_checkpoint_in_one_line(reference_run, tmp_path, command):
    _, ref, _ = reference_run
    run = shutil.copytree(ref.root, tmp_path / "cell")
    marker = tmp_path / "pwned"
    crafted(run / "checkpoints" / "best.pt", marker)
    args = {"sample": ["sample", str(run), "--per-class", "2", "--out", str(tmp_path / "g.png"), "--device", "cpu"],
            "eval": ["eval", str(run), "--protocol", "standard", "--device", "cpu"]}[command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "refusing to load it" in line and "best.pt" in line
    assert not marker.exists()
