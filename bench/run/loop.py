"""The one training loop: any registered method, one run folder, exact resume.

``bench.run.launch.train(plan, run_dir)`` checks the run folder and calls :func:`train_ranks`, which drives a method
only through the contract of ``bench.methods.base.Method`` (it never
branches on a method's name):

    decode the data, train (or load) the judge, compute (or load) the reference features
    pretrain once (if the method has a pretraining stage), checkpointed after each epoch, then at step 0
    for step in start+1 .. steps:
        n_dis D steps, each on a fresh real batch from the sampler (none | balanced)
        one G step, then update_ema(step)
        losses.csv row every max(1, steps // 500) steps
        every eval_every steps and at the end: each protocol's metrics and per-class rows, a sample grid
        every ckpt_every steps and at each evaluation: checkpoints/latest.pt (and best.pt on a new best)
    with final_fakes: the last state and best.pt measured again on that many fakes (rows final:last, final:best)

With ``nproc`` > 1 the run trains data-parallel on that many processes (``bench.run.distributed`` says what that
means for the batch); only rank 0 writes the run folder.

Every phase shows its progress (:mod:`bench.progress`) and its seconds go to ``speed.json`` (:mod:`bench.speed`); a
run killed during pretraining resumes from its last whole epoch. How much pretraining a run does is the plan's
(``RunPlan.budget.pretrain_epochs``, cut to ``pretrain_images``: :func:`bench.run.phases.pretrain_budget`).

CSV rows are written before the checkpoint that covers them, and a restart drops training rows newer than
its checkpoint, so a run killed at any instant and started again writes the same bytes as one that never
stopped (on CPU). Evaluation and sample grids run under :func:`bench.rng.preserved_rng`, so
``eval_every`` never changes the training trajectory.

The loop only loops. What it builds a run from is ``bench.run.setup`` (shared with ``bench eval``), what it
records about the code is ``bench.run.provenance``, the pretraining batches are ``bench.run.batches``, Ctrl-C/SIGTERM
handling is ``bench.run.interrupts``, and ``bench.run.launch.train`` decides whether a folder may resume
(``bench.run.state``) before the loop starts.
"""

from __future__ import annotations

import contextlib
import math
import sys
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm import tqdm

from bench import progress, speed
from bench.datasets.base import uint8_to_float
from bench.errors import ConfigError, RunFailed, one_line
from bench.methods.base import Method, losses_to_floats
from bench.metrics.collapse import selection_key
from bench.metrics.protocols import get_protocol
from bench.plan import RunPlan
from bench.rng import preserved_rng, rng_state, seed_everything, set_rng_state
from bench.run import distributed
from bench.run.batches import ShuffledBatches
from bench.run.checkpoint import (
    Checkpoint,
    check_checkpoint_config,
    load_checkpoint,
    restore_method,
    save_checkpoint,
)
from bench.run.folder import (
    RunDir,
    append_rows,
    atomic_write_bytes,
    atomic_write_json,
    read_json,
    read_status,
    remove_stale_temporaries,
    truncate_csv,
    write_status,
)
from bench.run.interrupts import DeferredInterrupt
from bench.run.monitor import Monitor, make_monitor
from bench.run.phases import PretrainBudget, pretrain_budget
from bench.run.provenance import environment_versions, git_commit
from bench.run.samples import class_grid, grid_classes, png_bytes
from bench.run.setup import (
    build_method,
    data_info,
    load_reference_set,
    load_train_set,
    make_evaluator,
    make_sampler,
    metric_columns,
    precision_recipe,
    resolve_device,
)

Status = Literal["done", "skipped", "failed"]


@dataclass
class RunOutcome:
    """What :func:`train` reports: ``status`` done | skipped (finished before) | failed, the last step
    done, the best FID of the first protocol (None before any evaluation) and the one-line error."""

    status: Status
    step: int
    best_fid: float | None = None
    error: str | None = None


# -- the loop ---------------------------------------------------------------------------------------
def train_ranks(plan: RunPlan, run: RunDir, progress: bool, ranks: distributed.Ranks | None = None) -> RunOutcome:
    """Train one rank of a run (the only one unless ``ranks`` says otherwise); ``bench.run.launch.train`` has
    checked the folder. Only rank 0 writes files and records a failure."""
    trainer = _Trainer(plan, run, progress, ranks or distributed.Ranks())
    try:
        return trainer.run()
    except KeyboardInterrupt:
        trainer.interrupted()
        raise
    except Exception as err:
        return trainer.failed(err)
    finally:
        trainer.close()


class _Trainer:
    """The state of one run while it trains; :func:`train` is its only user."""

    def __init__(self, plan: RunPlan, run: RunDir, progress: bool, ranks: distributed.Ranks) -> None:
        self.ranks = ranks
        self.plan, self.cfg = plan, plan.config
        self.run_dir, self.progress = run, progress and ranks.main
        # what status.json said before this attempt: reported if it stops before a checkpoint is restored
        previous = read_status(run) or {}
        self.previous_step = int(previous.get("step") or 0)
        self.step = 0  # iterations done and covered by the state in memory
        self.saved_step: int | None = None  # step of the newest checkpoint on disk
        self.best: dict[str, Any] | None = previous.get("best")  # replaced by the checkpoint's on restore
        self.method: Method | None = None
        self.sampler: Any = None
        self.at_boundary = False  # the state in memory is exactly that after self.step iterations
        self.finished = False  # status.json says done
        self.bar: tqdm | None = None
        self.postfix: dict[str, str] = {}
        self.stop_requested = False  # data-parallel: some rank got Ctrl-C / SIGTERM (agreed on by all ranks)
        self.monitor: Monitor = Monitor()  # --set tensorboard=true: an event file (bench.run.monitor), from run()
        self.clock = speed.PhaseClock()  # seconds per phase of this attempt (bench.speed)
        self.speed: speed.SpeedRecord | None = None  # <run>/speed.json, once the method is built
        self.pretrain_resume: dict[str, Any] | None = None  # a checkpoint's pretraining progress, restored

    # -- setup -----------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        cfg, run, main = self.cfg, self.run_dir, self.ranks.main
        if main:
            for folder in (run.root, run.checkpoints, run.samples):
                remove_stale_temporaries(folder)
            self.monitor = make_monitor(cfg.tensorboard, run.root)
        self.metrics_columns, self.per_class_columns = metric_columns()
        self.device = resolve_device(cfg.device, self.ranks.rank)
        if self.ranks.parallel and self.ranks.rank == 0 and self.device.type == "cuda":
            self.device = torch.device("cuda", 0)
        with speed.recording(self.clock), progress.shown(self.progress, prefix=run.root.name):
            return self.setup_and_train()

    def setup_and_train(self) -> RunOutcome:
        cfg, run, main = self.cfg, self.run_dir, self.ranks.main
        with speed.phase("data"):
            train_set = load_train_set(cfg)
            reference_set = load_reference_set(cfg) if main else None
        self.data = data_info(train_set)
        threads = torch.get_num_threads()  # moves float sums on CPU: recorded, not hashed (see the README)
        seed_everything(cfg.seed)
        self.method = build_method(self.plan, self.data, self.device, self.ranks.world)
        self.speed = speed.SpeedRecord(run.root, self.device, "bfloat16" if cfg.bf16 else "float32", threads,
                                       cfg.batch_size, self.plan.n_dis, speed.read_record(run.root), self.clock)
        if main and not run.config.exists():  # the plan, written once, with the facts of this run's data and code
            saved = self.plan.to_json()
            saved["recipe"] |= {"pretrain": self.pretrain_plan(len(train_set)).describe(len(train_set),
                                                                                         cfg.batch_size),
                                "precision": precision_recipe(cfg)}
            atomic_write_json(run.config, saved | {
                "versions": environment_versions(), "git_commit": git_commit(), "data": self.data, "threads": threads})
        elif main and read_json(run.config).get("threads", threads) != threads:
            print(f"note: {run.root} started with {read_json(run.config)['threads']} CPU threads and resumes with "
                  f"{threads}: its numbers will not be bit for bit those of an uninterrupted run", file=sys.stderr)
        if main:
            with preserved_rng():  # the judge and reference features now, each phase with its bar and its seconds
                self.evaluator = make_evaluator(cfg, train_set, self.device, reference_set)
                self.evaluator.judge()
                with speed.phase("reference"):
                    self.evaluator.prepare()
        self.method.amp_dtype = torch.bfloat16 if cfg.bf16 else None
        if cfg.compile:
            for module in (self.method.G, self.method.D):
                module.compile()
        if self.ranks.parallel:
            distributed.broadcast_modules(self.method.modules().values())
            for optimizer in self.method.optimizers().values():
                distributed.average_before_step(optimizer, self.ranks.world)
        self.sampler = make_sampler(cfg.sampling, train_set.labels, cfg.seed)
        self.images = train_set.images.to(self.device)  # uint8 on the device: a quarter of float32
        self.labels = train_set.labels.to(self.device)
        self.cuda = self.device.type == "cuda"
        if cfg.channels_last:
            for module in self.method.modules().values():
                module.to(memory_format=torch.channels_last)
        self.grid_rows = grid_classes(self.data["num_classes"])

        if run.checkpoint("latest").exists():
            self.restore(load_checkpoint(run.checkpoint("latest")), run.checkpoint("latest"))
        if main:
            for path in run.csvs():
                truncate_csv(path, self.step)
            write_status(run, "running", self.step, cfg.steps, best=self.best)
        if self.method.has_pretrain and (self.saved_step is None or self.pretrain_resume is not None):
            with speed.phase("pretraining"):
                self.pretrain(len(train_set))
        self.at_boundary = True
        self.bar = progress.bar(cfg.steps, "train", initial=self.step, unit="it")
        with DeferredInterrupt() as interrupt, speed.phase("training"):
            self.interrupt = interrupt
            while self.step < cfg.steps:
                if self.stop_requested or (interrupt.requested and not self.ranks.parallel):
                    raise KeyboardInterrupt
                self.iterate(self.step + 1)
        distributed.barrier()
        if main:
            self.final_measurement()
            self.speed.write()
            write_status(run, "done", self.step, cfg.steps, best=self.best)
        self.finished = True
        if interrupt.requested or self.stop_requested:  # the signal came during the last step: the run is done
            raise KeyboardInterrupt
        return RunOutcome("done", self.step, self.best_fid, None)

    def restore(self, ckpt: Checkpoint, path: Path) -> None:
        """Continue from ``ckpt`` (read from ``path``): refused in one line when it was written under another config
        hash than the run folder's config.json records (another run's file) or does not fit this run's networks."""
        assert self.method is not None
        try:
            recorded = read_json(self.run_dir.config).get("hash") if self.run_dir.config.exists() else None
            check_checkpoint_config(ckpt, path, recorded, f"{self.run_dir.config}")
        except ConfigError as err:
            raise ConfigError(f"{err}; refusing to resume from it: use --force-restart to start over (old files "
                              "move to _previous/)") from None
        if ckpt.pretrain is not None:  # killed during pretraining: set the stage up again, then load its state
            self.begin_pretrain()
            self.method.load_pretrain_state(ckpt.pretrain["state"])
            self.pretrain_resume = ckpt.pretrain
        restore_method(self.method, ckpt, path)
        set_rng_state(ckpt.rng)
        self.sampler.load_state_dict(ckpt.rng["sampler"])
        self.step = self.saved_step = ckpt.step
        self.best = ckpt.best

    def pretrain_plan(self, n_images: int) -> PretrainBudget:
        """This run's pretraining on ``n_images`` train images: the plan's epochs, cut to ``pretrain_images``."""
        return pretrain_budget(self.plan.budget.pretrain_epochs, n_images, self.cfg.batch_size,
                               self.cfg.pretrain_images)

    def begin_pretrain(self) -> None:
        """The method's pretraining stage set up, its own nets in the run's memory format."""
        assert self.method is not None
        self.method.begin_pretrain()
        if self.cfg.channels_last:
            for module in self.method.pretrain_modules().values():
                module.to(memory_format=torch.channels_last)

    def pretrain(self, n_images: int) -> None:
        """The method's pretraining stage on seeded shuffled batches, epoch by epoch, each epoch checkpointed (a
        kill loses at most the epoch under way), then the stage's hand-over and a checkpoint at step 0.
        Data-parallel: rank 0 pretrains alone and the other ranks restore its checkpoint."""
        method, cfg = self.method, self.cfg
        assert method is not None
        if self.ranks.main:
            loader = ShuffledBatches(self.images, self.labels, cfg.batch_size, cfg.seed, self.batch_format)
            plan = self.pretrain_plan(n_images)
            resume, first = self.pretrain_resume, 0
            if resume is None:
                self.begin_pretrain()
            else:
                loader.generator.set_state(resume["loader"])
                first = int(resume["epoch"])
            done = sum(plan.batches_of_epoch(e) or plan.batches_per_epoch for e in range(first))
            bar = progress.bar(plan.batches, "pretrain", initial=done, unit="batch")
            losses: dict[str, float] = dict(resume["losses"]) if resume else {}
            try:
                for epoch in range(first, plan.epochs):
                    bar.set_postfix_str(f"epoch {epoch + 1}/{plan.epochs}{_short_losses(losses)}", refresh=False)
                    losses = method.pretrain_epoch(loader, plan.batches_of_epoch(epoch),
                                                   on_batch=lambda _: bar.update(1))
                    for key, value in losses.items():
                        if not math.isfinite(value):
                            raise RunFailed(f"non-finite pretraining loss {key} = {value} in epoch {epoch + 1}")
                    self.save_pretrain(epoch + 1, plan.epochs, loader, losses)
                bar.set_postfix_str(f"epoch {plan.epochs}/{plan.epochs}{_short_losses(losses)}")
            finally:
                bar.close()
            method.finish_pretrain(loader)
            self.pretrain_resume = None
            if losses:
                progress.note(f"pretrained ({plan.describe(n_images, cfg.batch_size)}): {_format_losses(losses)}")
            self.save(new_best=False)
        distributed.barrier()
        if not self.ranks.main:
            self.restore(load_checkpoint(self.run_dir.checkpoint("latest")), self.run_dir.checkpoint("latest"))

    def save_pretrain(self, epoch: int, epochs: int, loader: ShuffledBatches, losses: dict[str, float]) -> None:
        """Checkpoint the pretraining stage after ``epoch`` of ``epochs`` passes (step 0, ``Checkpoint.pretrain``)."""
        assert self.method is not None
        pretrain = {"epoch": epoch, "epochs": epochs, "loader": loader.generator.get_state(),
                    "state": self.method.pretrain_state(), "losses": dict(losses)}
        ckpt = Checkpoint(step=0, method=self.method.state_dict(), best=None,
                          rng=rng_state() | {"sampler": self.sampler.state_dict()}, config_hash=self.plan.hash,
                          pretrain=pretrain)
        save_checkpoint(ckpt, self.run_dir.checkpoint("latest"))
        self.saved_step = 0
        if self.speed is not None:
            self.speed.write()
        write_status(self.run_dir, "running", 0, self.cfg.steps, best=self.best)

    # -- one iteration ---------------------------------------------------------------------------
    def batch_format(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else x

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next real batch (x in [-1, 1], y): the sampler's ``batch_size`` indices, or this rank's slice."""
        index = self.sampler.next_indices(self.cfg.batch_size)[self.ranks.rows(self.cfg.batch_size)].to(self.device)
        return self.batch_format(uint8_to_float(self.images[index])), self.labels[index]

    def iterate(self, step: int) -> None:
        cfg, method = self.cfg, self.method
        assert method is not None
        self.at_boundary = False
        method.shard = (self.ranks.rank, self.ranks.world) if self.ranks.parallel else None
        try:
            d_losses = [method.d_step(*self.real_batch()) for _ in range(method.n_dis)]
            g_losses = method.g_step()
        finally:
            method.shard = None
        method.update_ema(step)
        if self.speed is not None:
            self.speed.iterations += 1
        *d_floats, g_floats = self.step_floats([*d_losses, g_losses])
        losses = _mean_losses(d_floats) | g_floats
        for key, value in losses.items():
            if not math.isfinite(value):
                raise RunFailed(f"non-finite loss {key} = {value} at step {step}")
        self.step = step
        if not self.ranks.main:  # rank 0 evaluates, writes and checkpoints
            self.at_boundary = True
            return
        if step % max(1, cfg.steps // 500) == 0:
            append_rows(self.run_dir.losses, [{"step": step, **losses}])
            self.monitor.losses(step, losses)
        shown = [key for key in ("loss/d", "loss/g") if key in losses] or list(losses)[:3]
        self.postfix.update({key.removeprefix("loss/"): f"{losses[key]:.3f}" for key in shown})
        evaluated = step % cfg.eval_every == 0 or step == cfg.steps
        new_best = evaluated and self.evaluate(step)
        if evaluated or step % cfg.ckpt_every == 0:
            self.save(new_best)
        self.at_boundary = True
        if self.bar is not None:
            self.bar.set_postfix(self.postfix, refresh=False)
            self.bar.update(1)

    def step_floats(self, steps: list[dict[str, Any]]) -> list[dict[str, float]]:
        """The loss dicts of one iteration's steps as floats (one host sync). Data-parallel: each value is the
        mean over the ranks, the buffers are rank 0's, and ``stop_requested`` says whether any rank was asked
        to stop (one all-reduce carries both, so every rank stops at the same iteration)."""
        if not self.ranks.parallel:
            return losses_to_floats(steps)
        keys = [(i, key) for i, losses in enumerate(steps) for key in losses]
        values = [torch.as_tensor(steps[i][key], device=self.device).detach().float().reshape(()) for i, key in keys]
        values.append(torch.tensor(float(self.interrupt.requested), device=self.device))
        means = distributed.mean_over_ranks(torch.stack(values), self.ranks.world).tolist()
        assert self.method is not None
        distributed.broadcast_modules(self.method.modules().values(), parameters=False)
        self.stop_requested = means.pop() > 0
        out: list[dict[str, float]] = [{} for _ in steps]
        for (i, key), value in zip(keys, means, strict=True):
            out[i][key] = value
        return out

    def evaluate(self, step: int) -> bool:
        """Every protocol's rows and the sample grid at ``step``; True when the first protocol's evaluation is a new
        best by :func:`bench.metrics.collapse.selection_key` (a healthy evaluation beats any collapsed one, then the
        lower FID)."""
        cfg, run, method = self.cfg, self.run_dir, self.method
        assert method is not None
        with preserved_rng(), speed.phase("evaluation"):
            bar = progress.bar(len(cfg.protocols) + 1, f"evaluate step {step}", unit="part", leave=False)
            results = []
            for protocol in cfg.protocols:
                bar.set_postfix_str(protocol)
                results.append(self.evaluator.evaluate(method, step, protocol, source="train"))
                bar.update(1)
            bar.set_postfix_str("samples")
            grid = class_grid(method, self.grid_rows, self.data["class_names"], self.data["class_counts"],
                              seed=cfg.seed)
            bar.update(1)
            bar.close()
        append_rows(run.metrics, [r.row for r in results], self.metrics_columns)
        append_rows(run.per_class, [row for r in results for row in r.per_class], self.per_class_columns)
        atomic_write_bytes(run.sample_grid(step), png_bytes(grid))
        self.monitor.evaluation(step, [r.row for r in results], grid)
        first = results[0].row
        fid = float(first["fid"]) if first.get("fid") is not None else math.nan
        collapsed = bool(first.get("collapsed"))
        self.postfix[f"FID[{first['protocol']}/{first['extractor']}]"] = f"{fid:.2f}" + (" collapsed" if collapsed
                                                                                         else "")
        if not math.isfinite(fid) or (self.best is not None and selection_key(fid, collapsed) >= selection_key(
                self.best["fid"], self.best.get("collapsed", False))):
            return False
        self.best = {"fid": fid, "step": step, "protocol": first["protocol"], "extractor": first["extractor"],
                     "collapsed": collapsed}
        return True

    def final_measurement(self) -> None:
        """With ``final_fakes``: the last state and the best checkpoint measured again on that many fakes, under each
        protocol that takes its fake count from the config (sources ``final:last``, ``final:best``): the report's
        headline numbers. A restart drops the rows of an interrupted final measurement (``truncate_csv``) and
        measures again, so the rows are those of an uninterrupted run."""
        cfg, run = self.cfg, self.run_dir
        assert self.method is not None
        protocols = [p for p in cfg.protocols if get_protocol(p).fakes == "config"]
        if cfg.final_fakes is None or not protocols:
            return
        measured: list[tuple[str, Any, int]] = [("final:last", self.method, self.step)]
        if run.checkpoint("best").exists():
            best = load_checkpoint(run.checkpoint("best"))
            with preserved_rng():
                best_method = build_method(self.plan, self.data, self.device)
            restore_method(best_method, best, run.checkpoint("best"))
            best_method.amp_dtype = self.method.amp_dtype
            measured.append(("final:best", best_method, best.step))
        with preserved_rng(), speed.phase("evaluation"):
            results = [self.evaluator.evaluate(method, step, protocol, source=source, fakes=cfg.final_fakes)
                       for source, method, step in measured for protocol in protocols]
        append_rows(run.metrics, [r.row for r in results], self.metrics_columns)
        append_rows(run.per_class, [row for r in results for row in r.per_class], self.per_class_columns)

    def save(self, new_best: bool) -> None:
        """Checkpoint the state after ``self.step`` iterations to latest.pt (best.pt first on a new best)."""
        assert self.method is not None
        run = self.run_dir
        ckpt = Checkpoint(step=self.step, method=self.method.state_dict(), best=self.best,
                          rng=rng_state() | {"sampler": self.sampler.state_dict()}, config_hash=self.plan.hash)
        paths = [run.checkpoint("best")] if new_best else []
        save_checkpoint(ckpt, *paths, run.checkpoint("latest"))
        self.saved_step = self.step
        if self.speed is not None:
            self.speed.write()
        write_status(run, "running", self.step, self.cfg.steps, best=self.best)

    # -- endings ---------------------------------------------------------------------------------
    @property
    def best_fid(self) -> float | None:
        return self.best["fid"] if self.best else None

    @property
    def reached_step(self) -> int:
        """The step to report: the state's, or the previous attempt's while no checkpoint has been restored."""
        return self.step if self.saved_step is not None or self.step else self.previous_step

    def interrupted(self) -> None:
        """Ctrl-C: checkpoint the last whole step (when the state in memory is one), mark the run pending."""
        if self.finished or not self.ranks.main:
            return
        if self.method is not None and self.at_boundary and self.saved_step != self.step:
            self.save(new_best=False)
        step = self.saved_step if self.saved_step is not None else self.previous_step
        write_status(self.run_dir, "pending", step, self.cfg.steps,
                     error=f"interrupted at step {step}; run again to resume", best=self.best)

    def failed(self, err: Exception) -> RunOutcome:
        """Record a failure: one line in status.json, the traceback appended to error.log."""
        line, step = one_line(err), self.reached_step
        if not self.ranks.main:
            return RunOutcome("failed", step, self.best_fid, line)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self.run_dir.error_log.open("a", encoding="utf-8") as log:
                log.write(f"--- {stamp} step {step}: {line}\n{traceback.format_exc()}\n")
        except OSError as log_err:  # a full disk: the one line below must still be said
            line += f" (and {self.run_dir.error_log} could not be written: {log_err.strerror})"
        if self.speed is not None:
            with contextlib.suppress(OSError):  # the failure itself may be a full disk
                self.speed.write()
        write_status(self.run_dir, "failed", step, self.cfg.steps, error=line, best=self.best)
        print(f"run {self.run_dir.root} failed at step {step}: {line} (traceback in {self.run_dir.error_log})",
              file=sys.stderr)
        return RunOutcome("failed", step, self.best_fid, line)

    def close(self) -> None:
        self.monitor.close()
        if self.bar is not None:
            self.bar.close()
        if self.ranks.main and any(self.clock.seconds.values()):
            parts = [f"{name} {seconds:.0f} s" for name, seconds in self.clock.seconds.items() if seconds]
            with progress.shown(self.progress, prefix=self.run_dir.root.name):
                progress.note(f"phases: {', '.join(parts)} (total {sum(self.clock.seconds.values()):.0f} s)")


def _mean_losses(steps: list[dict[str, float]]) -> dict[str, float]:
    """Each key's mean over the D steps of one iteration."""
    keys = dict.fromkeys(key for losses in steps for key in losses)
    return {key: sum(float(s[key]) for s in steps if key in s) / sum(key in s for s in steps) for key in keys}


def _format_losses(losses: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:.4f}" for key, value in losses.items())


def _short_losses(losses: dict[str, float]) -> str:
    """``, ae 0.0213`` (the first loss of the last pretraining epoch), or nothing before the first."""
    if not losses:
        return ""
    key, value = next(iter(losses.items()))
    return f", {key.removeprefix('loss/')} {value:.4f}"
