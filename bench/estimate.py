"""Each phase's budget and time for the cells of a grid on this machine, for ``bench run --dry-run``.

Per cell (its run plan, ``bench.plan.RunPlan``: nothing is resolved again) the dry run shows the budget of every
phase (:mod:`bench.run.phases`) and its estimated seconds:

- **recorded**: a cell with a ``speed.json`` of the same precision and thread count (a partly run cell) takes its
  own measured rates (seconds per iteration, per pretraining batch, per evaluation); a finished cell costs 0;
- **calibrated**: otherwise a short calibration on synthetic data of the cell's shape measures the same work the
  run does: a few training iterations and pretraining batches of the method as configured (precision, memory
  format, threads), one whole evaluation (every protocol, an untrained judge of the right shape, the cell's sample
  counts and bootstrap), a few batches of the judge's training, the decoding of a few of the dataset's files.
  The results are kept in ``$BENCH_CACHE/rates.json`` (keyed by everything that moves them), so a second dry run
  is instant; ``BENCH_CALIBRATE=0`` uses that file and the records only.

Phases with no rate (Inception features, which need weights files and minutes on a CPU; a dataset not on disk)
show ``?``. The judge's time counts
for the first cell of a dataset whose judge is not cached yet; decoding counts for every cell (nothing caches
decoded images but Places_LT).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from bench.atomic import atomic_write_json
from bench.config import RunConfig
from bench.datasets import count_images, data_root, get_spec
from bench.datasets.base import ImageSet, uint8_to_float
from bench.datasets.decode import IMAGE_SUFFIXES, decode_image_files
from bench.datasets.sources import cifar10
from bench.hardware import describe_cpu
from bench.methods.base import Method, losses_to_floats
from bench.metrics import Evaluator
from bench.metrics.cache import default_cache_root, load_cached, slug
from bench.metrics.classifier import ReferenceClassifier, augmentation, judge_budget, recipe_for
from bench.metrics.extractors import ClassifierExtractor
from bench.metrics.protocols import get_protocol
from bench.metrics.weights import WEIGHTS_FILES
from bench.plan import RunPlan
from bench.results import format_table
from bench.rng import preserved_rng
from bench.run.folder import RunDir, read_json, read_status
from bench.run.phases import PretrainBudget, pretrain_budget
from bench.run.samples import class_grid, grid_classes
from bench.run.setup import build_method, resolve_device
from bench.speed import PHASES

CALIBRATE_ENV = "BENCH_CALIBRATE"
RATES_FILE = "rates.json"
CALIBRATION_S = 1.0  # time each rate for at least this long (at most 8 repetitions)


@dataclass
class DataFacts:
    """What an estimate needs to know about a cell's data, found without decoding it."""
    num_classes: int
    channels: int
    train_counts: list[int] | None  # per class, after the long-tail profile and the cap; None = unknown
    reference: int | None  # reference images; None = unknown
    files: list[Path] = field(default_factory=list)  # a few of the image files it decodes (none: in-memory source)

    @property
    def train(self) -> int | None:
        return sum(self.train_counts) if self.train_counts is not None else None


@dataclass
class CellEstimate:
    """One cell: the budget text and the estimated seconds of each phase, and where the rates came from."""
    cell: str
    budgets: dict[str, str]
    seconds: dict[str, float | None]
    source: str

    @property
    def total(self) -> float | None:
        values = list(self.seconds.values())
        return None if any(v is None for v in values) else sum(v or 0.0 for v in values)


class Rates:
    """The calibrated rates kept in ``<cache root>/rates.json``: key -> seconds (one unit of work)."""
    def __init__(self, root: Path) -> None:
        self.path = root / RATES_FILE
        try:
            self.values: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.values = {}

    def get(self, key: str) -> float | None:
        entry = self.values.get(key)
        return float(entry["seconds"]) if isinstance(entry, dict) and "seconds" in entry else None

    def put(self, key: str, seconds: float) -> None:
        self.values[key] = {"seconds": seconds, "when": datetime.now(UTC).isoformat(timespec="seconds")}

    def save(self) -> None:
        with contextlib.suppress(Exception):  # a read-only cache only costs a calibration next time
            atomic_write_json(self.path, self.values)


# -- data -------------------------------------------------------------------------------------------------------
def data_facts(cfg: RunConfig) -> DataFacts:
    """Classes, channels, image counts and a few files of ``cfg``'s dataset, without decoding it."""
    spec = get_spec(cfg.dataset)
    train = count_images(cfg.dataset, "train", cfg.data_root, cfg.max_per_class)
    reference = count_images(cfg.dataset, "test", cfg.data_root)
    num_classes = spec.num_classes or (len(train) if train is not None else 10)
    channels = cfg.channels or spec.native_channels or 3
    return DataFacts(num_classes, channels, train, sum(reference) if reference is not None else None,
                     _sample_files(cfg))


def _sample_files(cfg: RunConfig, n: int = 48) -> list[Path]:
    """Up to ``n`` image files the dataset decodes (folder:<path> and an image-folder copy of CIFAR-10)."""
    spec = get_spec(cfg.dataset)
    base: Path | None = None
    if spec.source == "folder":
        base = Path(spec.location or "").expanduser() / "train"
    elif spec.source == "cifar10":

        root = data_root(cfg.data_root)
        if not (root / cifar10.FOLDER / "test_batch").is_file() and (copy := cifar10.folder_copy(root)):
            base = copy / "train"
    if base is None or not base.is_dir():
        return []
    files: list[Path] = []
    with contextlib.suppress(OSError):
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            files += sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:max(1, n // 10)]
            if len(files) >= n:
                break
    return files[:n]


# -- budgets ----------------------------------------------------------------------------------------------------
def evaluations(cfg: RunConfig) -> int:
    """How many evaluations a run makes: every ``eval_every`` steps and at the end."""
    return cfg.steps // cfg.eval_every + (1 if cfg.steps % cfg.eval_every else 0)


def cell_pretrain(plan: RunPlan, facts: DataFacts) -> PretrainBudget | None:
    """The cell's pretraining: the plan's epochs cut to ``pretrain_images`` (None when the train set's size is
    unknown)."""
    epochs = plan.budget.pretrain_epochs
    if facts.train is None:
        return None if epochs else PretrainBudget(0, 0)
    return pretrain_budget(epochs, facts.train, plan.config.batch_size, plan.config.pretrain_images)


def phase_budgets(plan: RunPlan, facts: DataFacts) -> dict[str, str]:
    """Each phase's budget in words."""
    cfg, n_dis = plan.config, plan.n_dis
    unknown = "? (data not on disk)"
    train, reference = facts.train, facts.reference
    pretrain = cell_pretrain(plan, facts)
    judge = unknown
    if reference is not None:
        epochs, batch = judge_budget(reference)
        judge = f"{epochs} epochs of {reference:,} images in batches of {batch}"
    n_eval = cfg.num_eval_samples
    return {
        "data": f"{train + reference:,} images" if train is not None and reference is not None else unknown,
        "judge": judge,
        "reference": f"{len(cfg.protocols)} x {n_eval or 'all'} images",
        "pretraining": pretrain.describe(train or 0, cfg.batch_size) if pretrain is not None else unknown,
        "training": f"{cfg.steps:,} it = {cfg.steps * n_dis:,} D updates",
        "evaluation": f"{evaluations(cfg)} x {len(cfg.protocols)} x {n_eval or 'all'} fakes",
    }


# -- calibration ------------------------------------------------------------------------------------------------
def _timed(run: Callable[[], None], warmup: int = 1, at_least: int = 2) -> float:
    """Median seconds of ``run`` after ``warmup`` calls, over at least ``at_least`` and at most 8 calls, and for at
    least CALIBRATION_S seconds."""
    for _ in range(warmup):
        run()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < at_least or (time.perf_counter() - start < CALIBRATION_S and len(times) < 8):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _synthetic(counts: list[int], channels: int, size: int, split: str, name: str) -> Any:
    gen = torch.Generator().manual_seed(0)
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    images = torch.randint(0, 256, (labels.numel(), channels, size, size), generator=gen, dtype=torch.uint8)
    return ImageSet(name=name, split=split, images=images, labels=labels, num_classes=len(counts),
                    class_names=[str(c) for c in range(len(counts))])


def _scaled_counts(counts: list[int] | None, num_classes: int, total: int) -> list[int]:
    """Per-class counts with ``counts``' histogram (uniform when unknown) summing to about ``total``, each >= 2."""
    base = counts if counts is not None and sum(counts) > 0 else [1] * num_classes
    scale = total / sum(base)
    return [max(2, round(c * scale)) for c in base]


def _method_for(plan: RunPlan, facts: DataFacts, device: torch.device) -> Method:
    """The plan's method built for data of ``facts``' shape, in the run's precision and memory format."""
    cfg = plan.config
    counts = facts.train_counts or [100] * facts.num_classes
    data = {"num_classes": facts.num_classes, "class_names": [str(c) for c in range(facts.num_classes)],
            "class_counts": counts, "channels": facts.channels, "image_size": cfg.image_size}
    method = build_method(plan, data, device)
    method.amp_dtype = torch.bfloat16 if cfg.bf16 else None
    if cfg.channels_last:
        for module in method.modules().values():
            module.to(memory_format=torch.channels_last)
    return method


def calibrate_training(plan: RunPlan, facts: DataFacts) -> tuple[float, float | None]:
    """(seconds per training iteration, seconds per pretraining batch or None) of the plan's method as it runs."""
    cfg = plan.config
    device = resolve_device(cfg.device)
    with preserved_rng():
        torch.manual_seed(0)
        method = _method_for(plan, facts, device)
        gen = torch.Generator().manual_seed(0)
        pool = max(4 * cfg.batch_size, 64)
        images = torch.randint(0, 256, (pool, facts.channels, cfg.image_size, cfg.image_size), generator=gen,
                               dtype=torch.uint8).to(device)
        labels = torch.randint(0, facts.num_classes, (pool,), generator=gen).to(device)

        def batch() -> tuple[torch.Tensor, torch.Tensor]:
            index = torch.randint(0, pool, (cfg.batch_size,), generator=gen).to(device)
            x = uint8_to_float(images[index])
            return (x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x), labels[index]

        pretrain = None
        if method.has_pretrain:
            method.begin_pretrain()
            if cfg.channels_last:
                for module in method.pretrain_modules().values():
                    module.to(memory_format=torch.channels_last)

            def pretrain_batch() -> None:
                losses_to_floats([method.pretrain_step(*batch())])

            pretrain = _timed(pretrain_batch)
        step = [0]

        def iteration() -> None:
            step[0] += 1
            losses = [method.d_step(*batch()) for _ in range(method.n_dis)] + [method.g_step()]
            method.update_ema(step[0])
            losses_to_floats(losses)
            if device.type == "cuda":
                torch.cuda.synchronize()

        return _timed(iteration), pretrain


def calibrate_evaluation(plan: RunPlan, facts: DataFacts) -> tuple[float, float]:
    """(seconds of the reference phase, seconds of one evaluation of every protocol with its sample grid), with an
    untrained judge and synthetic data of the cell's shape and counts."""
    cfg = plan.config
    device = resolve_device(cfg.device)
    n_eval = cfg.num_eval_samples or facts.reference or 1000
    train_set = _synthetic(_scaled_counts(facts.train_counts, facts.num_classes, min(facts.train or n_eval, n_eval)),
                           facts.channels, cfg.image_size, "train", "calibration")
    reference_set = _synthetic(_scaled_counts(None, facts.num_classes, min(facts.reference or n_eval, n_eval)),
                               facts.channels, cfg.image_size, "test", "calibration")
    judge = ClassifierExtractor.untrained(facts.channels, facts.num_classes, cfg.image_size, device)
    with preserved_rng(), tempfile.TemporaryDirectory() as cache:
        torch.manual_seed(0)
        method = _method_for(plan, facts, device)
        evaluator = Evaluator(cfg, train_set, reference_set, device, cache_root=cache,
                              extractors={"classifier": judge})
        start = time.perf_counter()
        evaluator.prepare()
        reference = time.perf_counter() - start
        rows = grid_classes(facts.num_classes)
        names, counts = [str(c) for c in range(facts.num_classes)], train_set.class_counts
        start = time.perf_counter()  # one protocol, timed once (seconds, not milliseconds); the others cost alike
        evaluator.evaluate(method, 1, cfg.protocols[0])
        protocol = time.perf_counter() - start
        start = time.perf_counter()
        class_grid(method, rows, names, counts, seed=cfg.seed)
        return reference, protocol * len(cfg.protocols) + time.perf_counter() - start


def calibrate_judge(cfg: RunConfig, facts: DataFacts) -> float:
    """Seconds per batch of the judge's training for ``cfg``'s dataset at its size (its recipe's batch and
    precision)."""
    device = resolve_device(cfg.device)
    recipe = recipe_for(cfg.dataset, facts.reference or 0, cfg.image_size, device)
    batch = recipe.batch_size
    with preserved_rng():
        torch.manual_seed(0)
        net = ReferenceClassifier(facts.channels, facts.num_classes).to(device)
        if recipe.bf16:
            net = net.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        gen = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (batch, facts.channels, cfg.image_size, cfg.image_size), generator=gen,
                               dtype=torch.uint8).to(device)
        labels = torch.randint(0, facts.num_classes, (batch,), generator=gen).to(device)

        def step() -> None:
            x = augmentation(uint8_to_float(images), recipe, gen)
            if recipe.bf16:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=recipe.bf16):
                loss = F.cross_entropy(net(x)[1].float(), labels, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return _timed(step)


def _judge_shape(facts: DataFacts) -> tuple[int, int]:
    """(batches in all, batch size) of the judge of ``facts``' reference."""
    n = facts.reference or 0
    epochs, batch = judge_budget(n)
    per_epoch = n // batch + (1 if n % batch >= 2 else 0)
    return epochs * per_epoch, batch


def calibrate_decode(facts: DataFacts, cfg: RunConfig) -> float:
    """Seconds per image to decode and resize ``facts.files`` (0 for an in-memory source)."""
    if not facts.files:
        return 0.0
    start = time.perf_counter()
    decode_image_files(facts.files, cfg.image_size, facts.channels)
    return (time.perf_counter() - start) / len(facts.files)


def judge_cached(cfg: RunConfig, facts: DataFacts) -> bool:
    """Whether a judge of ``cfg``'s dataset at its size and with today's recipe is in the cache (by file name and
    recipe; the exact images are only known once decoded)."""
    text = recipe_for(cfg.dataset, facts.reference or 0, cfg.image_size, resolve_device(cfg.device)).text()
    pattern = f"classifier-{slug(cfg.dataset)}-{cfg.image_size}px-{facts.channels}ch-*.pt"
    return any((load_cached(path) or {}).get("recipe") == text for path in default_cache_root().glob(pattern))


# -- estimates --------------------------------------------------------------------------------------------------
def _key(*parts: Any) -> str:
    text = json.dumps([*parts, torch.__version__, describe_cpu(), torch.get_num_threads()], sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _method_key(plan: RunPlan, facts: DataFacts) -> list[Any]:
    cfg = plan.config
    return [cfg.method, plan.hyper_json(), plan.backbone, plan.g_cond, cfg.regularizer, cfg.augment, cfg.quirks,
            cfg.image_size, facts.channels, facts.num_classes, cfg.batch_size, cfg.bf16, cfg.channels_last,
            cfg.device]


def _eval_key(cfg: RunConfig, facts: DataFacts) -> list[Any]:
    """What moves an evaluation's cost: the metrics' sample counts and bootstrap, the shape and the precision (the
    method's share, generating the fakes and D's class view, is small: one calibration serves a grid's cells)."""
    return [cfg.protocols, cfg.extractor, cfg.num_eval_samples, cfg.bootstrap, facts.train, facts.reference,
            cfg.image_size, facts.channels, facts.num_classes, cfg.bf16, cfg.channels_last, cfg.device]


def _recorded(run_dir: Path, cfg: RunConfig) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(status.json, speed.json) of a cell that ran before with the same precision and threads, else None."""
    run = RunDir(run_dir)
    status = read_status(run) or {}
    if not run.speed.exists():
        return (status, {}) if status.get("state") == "done" else None
    with contextlib.suppress(Exception):
        speed = read_json(run.speed)
        dtype = "bfloat16" if cfg.bf16 else "float32"
        if speed.get("dtype") == dtype and speed.get("threads") == torch.get_num_threads():
            return status, speed
    return (status, {}) if status.get("state") == "done" else None


def _uses_weights_file(cfg: RunConfig) -> bool:
    """Whether some protocol of ``cfg`` measures with a pretrained extractor (Inception): no calibration of those
    (a weights file, minutes on a CPU), recorded rates only."""
    return any((cfg.extractor or get_protocol(p).extractor) in WEIGHTS_FILES for p in cfg.protocols)


def estimate_cells(cells: list[Any], results_dir: Path, *, calibrate: bool | None = None,
                   say: Callable[[str], None] | None = None) -> list[CellEstimate]:
    """Budgets and estimated seconds per phase of each cell (``bench.grid.Cell`` objects), in order (see the module
    docstring). ``calibrate`` None = unless ``BENCH_CALIBRATE=0``; ``say`` reports each calibration."""
    calibrate = os.environ.get(CALIBRATE_ENV, "1") != "0" if calibrate is None else calibrate
    estimator = _Estimator(Rates(default_cache_root()), calibrate, say or (lambda _: None))
    out = [estimator.cell(cell.id, cell.plan, results_dir / cell.id) for cell in cells]
    estimator.rates.save()
    return out


class _Estimator:
    """The state of one dry run's estimates: the rates file, the data facts found, the judges already counted."""
    def __init__(self, rates: Rates, calibrate: bool, say: Callable[[str], None]) -> None:
        self.rates, self.calibrate, self.say = rates, calibrate, say
        self.facts: dict[tuple[Any, ...], DataFacts] = {}
        self.judged: set[tuple[Any, ...]] = set()

    def rate(self, key: str, what: str, measure: Callable[[], Any], names: tuple[str, ...] = ("",)) -> list[Any]:
        """The cached rates ``key + name`` for each name, else (calibrating) what ``measure()`` returns for them
        (a value, or a tuple with one per name)."""
        values = [self.rates.get(key + name) for name in names]
        if values[0] is None and self.calibrate:
            self.say(f"calibrating {what} ...")
            measured = measure()
            values = list(measured) if isinstance(measured, tuple) else [measured]
            for name, value in zip(names, values, strict=True):
                if value is not None:
                    self.rates.put(key + name, value)
            self.rates.save()  # now: an interrupted dry run keeps what it measured
        return values

    def cell(self, cell_id: str, plan: RunPlan, run_dir: Path) -> CellEstimate:
        cfg = plan.config
        data_key = (cfg.dataset, cfg.data_root, cfg.max_per_class, cfg.channels)
        if data_key not in self.facts:
            self.facts[data_key] = data_facts(cfg)
        facts = self.facts[data_key]
        budgets = phase_budgets(plan, facts)
        status, speed = _recorded(run_dir, cfg) or ({}, {})
        if status.get("state") == "done":
            return CellEstimate(cell_id, budgets, dict.fromkeys(PHASES, 0.0), "done (skipped)")
        done_steps = int(status.get("step") or 0)
        seconds: dict[str, float | None] = {"data": self.decode(cfg, facts), "judge": self.judge(cfg, facts)}
        pretrain = cell_pretrain(plan, facts)
        train_rate = (speed.get("train") or {}).get("s_per_iteration")
        source = "recorded" if train_rate is not None else "calibrated"
        pretrain_left = pretrain is not None and pretrain.batches > 0 and done_steps == 0
        pretrain_rate = None
        if train_rate is None or pretrain_left:
            it, pretrain_rate = self.rate(_key("train", _method_key(plan, facts)), f"{cell_id}: training",
                                          lambda: calibrate_training(plan, facts), ("", "-pretrain"))
            train_rate = train_rate if train_rate is not None else it
        seconds["training"] = train_rate * max(0, cfg.steps - done_steps) if train_rate is not None else None
        if pretrain is None:
            seconds["pretraining"] = None
        elif not pretrain_left:
            seconds["pretraining"] = 0.0
        else:
            seconds["pretraining"] = pretrain_rate * pretrain.batches if pretrain_rate is not None else None
        evaluations_done = done_steps // cfg.eval_every  # what the recorded evaluation seconds cover
        recorded_eval = (speed.get("phases") or {}).get("evaluation")
        eval_rate = recorded_eval / evaluations_done if recorded_eval and evaluations_done else None
        reference: float | None = 0.0 if eval_rate is not None else None  # a resumed cell's features are cached
        if eval_rate is None and not _uses_weights_file(cfg):  # Inception: no calibration, recorded rates only
            reference, eval_rate = self.rate(_key("evaluate", _eval_key(cfg, facts)), "an evaluation",
                                             lambda: calibrate_evaluation(plan, facts), ("-reference", ""))
        left = evaluations(cfg) - done_steps // cfg.eval_every
        seconds["reference"] = reference
        seconds["evaluation"] = eval_rate * left if eval_rate is not None else None
        return CellEstimate(cell_id, budgets, {p: seconds.get(p) for p in PHASES}, source)

    def decode(self, cfg: RunConfig, facts: DataFacts) -> float | None:
        """Every cell decodes its train and reference images (1 s for an in-memory source)."""
        if facts.train is None or facts.reference is None:
            return None
        (per_image,) = self.rate(_key("decode", cfg.dataset, cfg.data_root, cfg.image_size, facts.channels),
                                 f"decoding {cfg.dataset}", lambda: calibrate_decode(facts, cfg))
        return per_image * (facts.train + facts.reference) + 1.0 if per_image is not None else None

    def judge(self, cfg: RunConfig, facts: DataFacts) -> float | None:
        """The judge's training: in the first cell of its dataset and size, unless it is cached."""
        key = (cfg.dataset, cfg.data_root, cfg.image_size, facts.channels)
        if key in self.judged:
            return 0.0
        if facts.reference is None:
            return None
        self.judged.add(key)
        if judge_cached(cfg, facts):
            return 0.0
        (per_batch,) = self.rate(_key("judge", cfg.image_size, facts.channels, facts.num_classes, facts.reference,
                                      cfg.dataset, cfg.device), f"the judge of {cfg.dataset}",
                                 lambda: calibrate_judge(cfg, facts))
        return per_batch * _judge_shape(facts)[0] if per_batch is not None else None


def format_seconds(value: float | None) -> str:
    if value is None:
        return "?"
    if value < 90:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min"


def format_estimates(estimates: list[CellEstimate], workers: int = 1) -> str:
    """The dry run's budget and time tables (per cell: each phase's budget; then each phase's seconds)."""
    if not estimates:
        return ""
    budgets = [("cell", *PHASES)] + [(e.cell, *(e.budgets[p] for p in PHASES)) for e in estimates]
    times = [("cell", *PHASES, "total", "from")]
    for e in estimates:
        times.append((e.cell, *(format_seconds(e.seconds[p]) for p in PHASES), format_seconds(e.total), e.source))
    known = [e.total for e in estimates if e.total is not None]
    grid_total = sum(known) / max(1, workers)
    head = (f"estimated time on this machine ({torch.get_num_threads()} threads per cell, "
            f"{'several workers: cells run side by side, ' if workers > 1 else ''}judge and decoding included "
            f"where they run): about {format_seconds(grid_total)} for the grid"
            f"{' (cells marked ? not counted)' if len(known) < len(estimates) else ''}")
    return f"phase budgets:\n{format_table(budgets)}\n{head}\n{format_table(times)}"


@contextlib.contextmanager
def threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` inside the block (the threads a cell will get)."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
