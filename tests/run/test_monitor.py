"""The optional TensorBoard event file: scalars and the sample grid, read back with tensorboard's own reader."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from bench.run.monitor import Monitor, make_monitor


def test_off_by_default_writes_nothing(tmp_path):
    monitor = make_monitor(False, tmp_path)
    assert type(monitor) is Monitor
    monitor.losses(1, {"loss/d": 1.0})
    monitor.evaluation(1, [{"protocol": "standard", "extractor": "classifier", "fid": 3.0}], None)
    monitor.close()
    assert not (tmp_path / "tensorboard").exists()


def test_event_file_holds_losses_metrics_and_the_sample_grid(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monitor = make_monitor(True, tmp_path)
    for step in (1, 2, 3):
        monitor.losses(step, {"loss/d": 1.0 / step, "loss/g": 2.0})
    row = {"protocol": "standard", "extractor": "classifier", "fid": 12.5, "is_mean": 2.25, "cond_acc": 0.75,
           "kid_mean": math.nan, "source": "train"}
    monitor.evaluation(3, [row], Image.new("RGB", (20, 10), "red"))
    monitor.close()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    assert [e.value for e in events.Scalars("loss/d")] == pytest.approx([1.0, 0.5, 1 / 3])
    assert events.Scalars("standard/classifier/fid")[0].value == pytest.approx(12.5)
    assert events.Scalars("standard/classifier/cond_acc")[0].step == 3
    assert "standard/classifier/kid_mean" not in tags["scalars"]  # NaN is not logged
    image = events.Images("samples")[0]
    assert (image.width, image.height, image.step) == (20, 10, 3)
