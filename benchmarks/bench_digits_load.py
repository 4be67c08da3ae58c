"""Time loading the demo dataset: ``load_dataset("digits_lt", image_size=64)``, cold and warm (target < 5 s cold).

Cold is measured in a fresh interpreter and includes importing ``bench.datasets`` (torch, PIL) and scikit-learn,
which is what ``bench run --grid demo`` pays once. Warm is a second call in the same process.

    .venv/bin/python benchmarks/bench_digits_load.py
"""

from __future__ import annotations

import subprocess
import sys
import time

TARGET_S = 5.0
COLD = """
import time
t0 = time.perf_counter()
from bench.datasets import load_dataset
t1 = time.perf_counter()
data = load_dataset("digits_lt", image_size=64)
t2 = time.perf_counter()
data = load_dataset("digits_lt", image_size=64)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, len(data), tuple(data.images.shape))
"""


def main() -> int:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", COLD], check=True, capture_output=True, text=True).stdout.split()
    process_s = time.perf_counter() - start
    import_s, first_s, warm_s = (float(x) for x in out[:3])
    cold_s = import_s + first_s
    print(f"digits_lt at 64x64: {out[3]} images, shape {' '.join(out[4:])}")
    print(f"cold: {cold_s:.2f} s (import {import_s:.2f} s + first load {first_s:.2f} s); "
          f"whole interpreter {process_s:.2f} s")
    print(f"warm: {warm_s:.3f} s")
    print(f"target: cold < {TARGET_S:.0f} s -> {'ok' if cold_s < TARGET_S else 'TOO SLOW'}")
    return 0 if cold_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
