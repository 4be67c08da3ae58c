"""Time of one table-3 training iteration (ECOGAN, dcgan64 at 64×64, batch 128, 5 D steps + 1 G step): this
checkout against a base ref of the repository and against an upstream-style iteration, interleaved.

Each variant lives in a worker process of its own (built once, warmed up), and the rounds ask every worker in
turn (the order rotating) for one timed iteration, so that the load other users put on the machine falls on
all variants alike. A ratio is taken per round (variant time / this checkout's fp32 time) and the median over
rounds is printed, with the median seconds per iteration.

Variants:
    base       the code of ``--base`` (default HEAD~1), checked out with ``git worktree`` in a temporary folder
               and imported from there in its worker (``benchmarks/checkout.py``); default options
    ours       this checkout, default options (fp32)
    upstream   an upstream-style iteration (ecogan-upstream.md §5, §6.1) on the same nets and optimizers: the
               ECO loss with numpy masks built in a Python loop and (B, B, D) cosine broadcasts
               (``bench_losses.upstream_style_eco``), BCE, GP with α ~ N(0, 1), a ``.item()`` per logged
               loss per step, as the Lightning code does
    ours:K=V   this checkout with ``--set``-style options, e.g. ``ours:bf16=true``, ``ours:channels_last=true``,
               ``ours:compile=true``

    .venv/bin/python benchmarks/bench_step.py [--base HEAD~1] [--rounds 5] [--device cpu]
        [--variants "base;ours;upstream;ours:bf16=true"] [--batch 128] [--size 64] [--json out.json]

A ratio above 1 means the variant's iteration takes longer than this checkout's (this checkout is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NUM_CLASSES = 10
CIFAR10_LT_COUNTS = [5000] + [100 * c for c in range(1, NUM_CLASSES)]


# -- the worker: one variant, one iteration per request ---------------------------------------------
class Iteration:
    """One variant's training state and its ``run()`` = one iteration (n_dis D steps, a G step, EMA, losses)."""

    def __init__(self, variant: str, options: dict[str, Any], device: str, batch: int, size: int) -> None:
        import torch

        from bench.methods import get_method
        from bench.methods.base import MethodConfig

        torch.manual_seed(0)
        self.torch, self.device, self.batch, self.variant = torch, torch.device(device), batch, variant
        config = MethodConfig(num_classes=NUM_CLASSES, image_size=size, channels=3, backbone="dcgan64",
                              quirks="paper", batch_size=batch, class_counts=CIFAR10_LT_COUNTS)
        self.method = method = get_method("ecogan")(config, self.device)
        gen = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (2048, 3, size, size), dtype=torch.uint8, generator=gen).to(self.device)
        weights = torch.tensor(CIFAR10_LT_COUNTS, dtype=torch.float)
        self.labels = torch.multinomial(weights, 2048, replacement=True, generator=gen).to(self.device)
        self.channels_last = bool(options.get("channels_last"))
        if self.channels_last:
            for module in method.modules().values():
                module.to(memory_format=torch.channels_last)
        if options.get("bf16"):
            if not hasattr(method, "forward_context"):
                raise SystemExit("bf16 needs forward_context() (this code predates CPU bf16)")
            method.amp_dtype = torch.bfloat16
        if options.get("compile"):
            for module in (method.G, method.D):
                module.compile()
        try:
            from bench.methods.base import losses_to_floats
        except ImportError:  # older code: the loop called float() on each value
            def losses_to_floats(steps):
                return [{k: float(v) for k, v in losses.items()} for losses in steps]
        self.to_floats = losses_to_floats
        self.step = 0

    def real_batch(self):
        torch = self.torch
        index = torch.randint(0, len(self.labels), (self.batch,), device=self.device)
        x = self.images[index].float().div(127.5).sub(1.0)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.labels[index]

    def run(self) -> None:
        self.step += 1
        m = self.method
        if self.variant == "upstream":
            losses = [upstream_d_step(m, *self.real_batch()) for _ in range(m.n_dis)] + [upstream_g_step(m)]
        else:
            losses = [m.d_step(*self.real_batch()) for _ in range(m.n_dis)] + [m.g_step()]
        m.update_ema(self.step)
        self.to_floats(losses)

    def sync(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


def upstream_d_step(m, real_x, real_y) -> dict[str, float]:
    """ECOGAN's D step as the upstream code takes it (§5.6): BCE + 10·GP + ECO on reals, a ``.item()`` per
    logged value."""
    import torch
    from bench_losses import upstream_style_eco

    from bench.methods.losses import bce_d_loss, gradient_penalty

    batch = real_x.shape[0]
    with torch.no_grad():
        fake = m.G(m.sample_z(batch), real_y)
    fake_labels = torch.randint(0, NUM_CLASSES, (batch,), device=real_x.device)
    adv_real, e_real, p_real = m.D(real_x, real_y)
    adv_fake, _, _ = m.D(fake, fake_labels)
    loss_adv = bce_d_loss(adv_real, adv_fake)
    loss_eco = upstream_style_eco(e_real, p_real, real_y)
    loss_gp = gradient_penalty(m.D.logit, real_x, fake, quirks="paper")
    loss = loss_adv + 10.0 * loss_gp + loss_eco
    m.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    m.opt_d.step()
    return {"loss/d": loss.item(), "loss/d_adv": loss_adv.item(), "loss/d_eco": loss_eco.item(),
            "loss/d_gp": loss_gp.item()}


def upstream_g_step(m) -> dict[str, float]:
    """ECOGAN's G step as upstream: BCE + ECO on fakes of uniform labels, the D parameters' gradients
    computed and thrown away (Lightning's manual toggling aside)."""
    from bench_losses import upstream_style_eco

    from bench.methods.losses import bce_g_loss

    batch = m.config.batch_size
    y = m.sample_labels(batch)
    adv, e, p = m.D(m.G(m.sample_z(batch), y), y)
    loss_adv = bce_g_loss(adv)
    loss_eco = upstream_style_eco(e, p, y)
    loss = loss_adv + loss_eco
    m.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    m.opt_g.step()
    m.opt_d.zero_grad(set_to_none=True)
    return {"loss/g": loss.item(), "loss/g_adv": loss_adv.item(), "loss/g_eco": loss_eco.item()}


def worker(args: argparse.Namespace) -> int:
    """Build the variant, warm up, then answer each stdin line ``run`` with the seconds of one iteration."""
    if args.root:
        sys.path.insert(0, str(HERE))
        from checkout import use_checkout

        use_checkout(args.root)
    sys.path.insert(0, str(HERE))
    options = json.loads(args.options)
    it = Iteration(args.kind, options, args.device, args.batch, args.size)
    for _ in range(args.warmup):
        it.run()
    it.sync()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        start, cpu = time.perf_counter(), time.process_time()
        it.run()
        it.sync()
        print(json.dumps({"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}),
              flush=True)
    return 0


# -- the driver ------------------------------------------------------------------------------------
def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``ours:bf16=true,compile=true`` -> ("ours", {"bf16": True, "compile": True})."""
    kind, _, rest = text.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = json.loads(value) if value else True
    if kind not in ("base", "ours", "upstream"):
        raise SystemExit(f"unknown variant {text!r}: base, ours, upstream, ours:KEY=VALUE,...")
    return kind, options


def start_worker(kind: str, options: dict[str, Any], root: Path | None, args: argparse.Namespace):
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--kind", kind, "--options",
               json.dumps(options), "--device", args.device, "--batch", str(args.batch), "--size", str(args.size),
               "--warmup", str(args.warmup)] + (["--root", str(root)] if root else [])
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def ask(proc) -> dict[str, Any]:
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"a worker died (exit code {proc.wait()})")
    return json.loads(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD~1", help="git ref of the base variant")
    parser.add_argument("--variants", default="base;ours;upstream;ours:bf16=true",
                        help="';'-separated variants (see above)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    names = [v.strip() for v in args.variants.split(";") if v.strip()]
    if "ours" not in names:
        names.insert(0, "ours")
    temp = Path(tempfile.mkdtemp(prefix="bench_step_"))
    base_root = None
    if any(n.startswith("base") for n in names):
        base_root = temp / "base"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base_root), args.base],
                       check=True, capture_output=True)
        commit = subprocess.run(["git", "-C", str(base_root), "rev-parse", "--short", "HEAD"], check=True,
                                capture_output=True, text=True).stdout.strip()
        print(f"base: {args.base} = {commit} in {base_root}", file=sys.stderr)
    procs: dict[str, subprocess.Popen] = {}
    times, cpu_times, load = {}, {}, []
    try:
        for name in names:
            kind, options = parse_variant(name)
            procs[name] = start_worker(kind, options, base_root if kind == "base" else None, args)
        for proc in procs.values():
            ask(proc)  # built and warmed up
        times: dict[str, list[float]] = {name: [] for name in names}
        cpu_times: dict[str, list[float]] = {name: [] for name in names}
        load: list[float] = []
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                procs[name].stdin.write("run\n")
                procs[name].stdin.flush()
                answer = ask(procs[name])
                times[name].append(answer["seconds"])
                cpu_times[name].append(answer["cpu_seconds"])
            load.append(os.getloadavg()[0])
            print(f"round {r + 1}/{args.rounds}: " + "  ".join(f"{n} {times[n][-1]:.2f}s" for n in names),
                  file=sys.stderr)
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    except KeyboardInterrupt:  # report the rounds done so far
        print("interrupted: the table covers the finished rounds", file=sys.stderr)
        for proc in procs.values():
            proc.kill()
    finally:
        if base_root is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_root)],
                           check=False, capture_output=True)
    done = min(len(v) for v in times.values())
    if not done:
        print("no round finished")
        return 1
    times = {name: values[:done] for name, values in times.items()}
    cpu_times = {name: values[:done] for name, values in cpu_times.items()}
    rows = []
    for name in names:
        ratios = [t / o for t, o in zip(times[name], times["ours"], strict=True)]
        cpu_ratios = [t / o for t, o in zip(cpu_times[name], cpu_times["ours"], strict=True)]
        rows.append({"variant": name, "median_s": statistics.median(times[name]),
                     "ratio_to_ours": statistics.median(ratios), "median_cpu_s": statistics.median(cpu_times[name]),
                     "cpu_ratio_to_ours": statistics.median(cpu_ratios)})
    print(f"table-3 iteration (ECOGAN dcgan64 {args.size}x{args.size}, batch {args.batch}, 5 D + 1 G) on "
          f"{args.device}; torch threads {_threads()}; {done} interleaved rounds; load average "
          f"{statistics.median(load):.2f} on {os.cpu_count()} cores")
    print(f"{'variant':<28} {'s/iteration':>12} {'time / ours':>12} {'CPU s/iteration':>16} {'CPU time / ours':>16}")
    for row in rows:
        print(f"{row['variant']:<28} {row['median_s']:>12.3f} {row['ratio_to_ours']:>12.3f} "
              f"{row['median_cpu_s']:>16.3f} {row['cpu_ratio_to_ours']:>16.3f}")
    print("(ratios: median over rounds of the per-round ratio; CPU time = the worker's process time, less "
          "sensitive to other users' load than wall time)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "times": times, "cpu_times": cpu_times, "load": load,
                                         "base": args.base}, indent=1))
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
