"""What this machine's CPU offers for speed, read once: whether it has bf16 units (AVX-512 BF16, AMX).

The ``cpu`` and ``lab`` scales set ``bf16`` and ``channels_last`` to ``"auto"``: a run that trains on a CPU
reporting bf16 units then takes bf16 autocast with channels_last nets (about 0.44x the fp32 time of an ECOGAN
iteration at 32x32 on AVX-512 BF16 + AMX, 1 thread), and fp32 everywhere else. The answer comes from the CPU's
flags (``/proc/cpuinfo`` on Linux), so it is the same for every run on one machine; the resolved values (never
"auto") are what config.json records, what the config hash covers and what the cell id shows (``-bf16``,
``-chlast``), so fp32 and bf16 runs never share a run folder. ``$BENCH_CPU_BF16`` (``0`` or ``1``) overrides
the flags (the test suite pins ``0``); ``--set bf16=false channels_last=false`` picks fp32 for a run. The run plan
resolves ``"auto"`` once (``bench.config.resolve_auto``), before the config exists.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of x86 CPUs with bf16 arithmetic
CPU_BF16_ENV = "BENCH_CPU_BF16"  # 1 / 0: say the CPU has (not) bf16 units, whatever its flags
AUTO = "auto"


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as ``/proc/cpuinfo`` lists them (empty where there is no such file)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 | arm64
            return frozenset(value.split())
    return frozenset()


def cpu_bf16_units() -> list[str]:
    """The bf16 flags this CPU reports (:data:`BF16_FLAGS`), in that order; empty when it has none."""
    return [flag for flag in BF16_FLAGS if flag in cpu_flags()]


def cpu_has_bf16() -> bool:
    """Whether bf16 autocast is a fast path on this CPU: ``$BENCH_CPU_BF16`` when set (1 / 0), else whether the
    CPU reports bf16 units (:func:`cpu_bf16_units`)."""
    forced = os.environ.get(CPU_BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    return bool(cpu_bf16_units())


def trains_on_cpu(device: str) -> bool:
    """Whether a run with config ``device`` (auto | cpu | cuda) trains on the CPU: auto means CUDA when torch
    sees a CUDA device."""
    if device == "cpu":
        return True
    if device == "cuda":
        return False
    import torch

    return not torch.cuda.is_available()


def cpu_fast_path(options: Mapping[str, Any]) -> bool:
    """What ``"auto"`` means for ``bf16`` and ``channels_last`` (the option table's ``auto``): True when a run of
    ``options`` trains on a CPU (its ``device``, :func:`trains_on_cpu`) that has bf16 units (:func:`cpu_has_bf16`)."""
    return trains_on_cpu(str(options.get("device", "auto"))) and cpu_has_bf16()


def describe_cpu() -> str:
    """One line for config.json and the report: the processor and its bf16 units."""
    units = cpu_bf16_units()
    forced = os.environ.get(CPU_BF16_ENV, "").strip()
    name = platform.processor() or platform.machine()
    if forced in ("0", "1"):
        return f"{name}; bf16 units {'on' if forced == '1' else 'off'} by ${CPU_BF16_ENV}"
    return f"{name}; bf16 units: {', '.join(units) if units else 'none'}"
