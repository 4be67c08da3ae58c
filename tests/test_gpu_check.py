"""benchmarks/gpu_check.py runs end to end on CPU with tiny nets (what a GPU machine would run at full size) and
writes its JSON and Markdown reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


def test_gpu_check_tiny_on_cpu_writes_json_and_markdown(tmp_path):
    env = os.environ | {"BENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--out", str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert set(report["types"]) >= {"table3:ecogan:tiny", "table3:ebgan:tiny", "table3:bagan:tiny",
                                    "table1:ecogan:tiny:div1", "table1:ecogan:tiny:div4"}
    for row in report["types"].values():
        assert row["fp32"]["it_per_s"] > 0 and row["bf16"]["it_per_s"] > 0
    assert [r["cells"] for r in report["packing"]["table3:ecogan:tiny"]] == [1, 2]
    assert report["fid_run"]["status"] == "done" and len(report["fid_run"]["fids"]) == 2
    kill = report["kill_resume"]
    assert kill["killed"] and kill["status"] == "done" and kill["metrics_identical"]  # on CPU: bit for bit
    assert set(report["projection"]) == {"table3", "table1"}
    assert all(p["gpu_hours_sequential"] > 0 for p in report["projection"].values())
    markdown = (tmp_path / "out" / "gpu_check.md").read_text()
    assert markdown.startswith("# GPU check") and "Projected GPU-hours" in markdown
