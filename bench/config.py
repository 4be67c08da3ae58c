"""The resolved configuration of one run (one grid cell), its scales, overrides and hash.

Resolution order, later wins: ``RunConfig`` defaults < the grid's paper-scale budget (only at scale
``paper``) < the scale preset (``cpu``, ``lab``, ``smoke``: budgets only, never a method's math) < the cell's own
keys < ``--set key=value``. The resolved config is frozen (``RunConfig``: one frozen dataclass per
concept — data, method choice, training budget, evaluation, runtime — each with its defaults, their union kept
flat; validated when made), written to ``config.json`` with its hash, and compared key by key on resume.

Resolving also checks every name against its registry (dataset, method, backbone, extractor) and resolves the
method's full hyperparameters (``Method.resolve_hyper``: Hyper defaults < backbone recipe < ``method_options``),
so that a misspelt name or option fails while a grid expands (``bench run --dry-run`` included), before any data
is loaded. The resolved hyperparameters (:meth:`RunConfig.method_hyper`) are written to ``config.json`` and are
part of the hash: changing a default in a method's Hyper makes a resumed run refuse, naming the option. (Adding
them changed every run's hash once, by design: folders written before refuse to resume; re-run them.)

Fair budgets: a scale preset states its budget in **D updates** (``d_updates``), not iterations, so every
method gets the same number of discriminator updates: a method with n_dis D steps per iteration runs
``ceil(d_updates / n_dis)`` iterations (BAGAN, n_dis = 1, runs 5× the iterations of ECOGAN, n_dis = 5), and
evaluates ``evaluations`` times at even steps. ``steps`` or ``eval_every`` given by the cell or ``--set`` win.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench.errors import ConfigError, check, closest
from bench.hardware import resolve_fast_path

SAMPLINGS = ("none", "balanced")
G_CONDS = ("scale", "concat", "cbn")  # every backbone's g_cond values (each backbone says which it supports)
REGULARIZERS = ("none", "lecam")  # D-loss regularisers any method with an adversarial logit takes (bench.methods.lecam)
AUGMENTS = ("none", "diffaug")  # augmentations of every image D sees, any method (bench.methods.diffaugment)
PROTOCOLS = ("paper", "standard")
DEVICES = ("auto", "cpu", "cuda")
FAST_PATH_KEYS = ("bf16", "channels_last")  # "auto" = on when the run trains on a CPU with bf16 units

# Keys that do not change the numbers a run produces; they may differ on resume.
RUNTIME_KEYS = ("device", "data_root", "grid", "workers_hint", "inception_weights", "tv_inception_weights",
                "tensorboard")
# Keys added after runs existed: left out of the hash while at their default, so older runs keep their hash.
HASH_OMITTED_AT_DEFAULT = {"compile": False, "nproc": 1, "g_cond": None, "bootstrap": 100, "regularizer": "none",
                           "augment": "none", "pretrain_images": None}

_C = TypeVar("_C")


@dataclass(frozen=True)
class DataConfig:
    """What a run trains on. Field comments give the meaning; defaults are the demo's."""

    dataset: str = "digits_lt"  # registered dataset name (bench list datasets)
    sampling: str = "none"  # real-batch sampler: none (shuffled) | balanced (weight N/n_c, with replacement)
    image_size: int = 32  # images are resized (bilinear) to image_size x image_size
    channels: int | None = None  # 1 or 3; None = the dataset's own
    max_per_class: int | None = None  # keep at most this many training images per class (smoke runs)
    data_root: str | None = None  # None = $BENCH_DATA or ./data

    def check(self) -> None:
        """Enumerated values and ranges of the data keys; a ConfigError names the key and the value."""
        _choice("sampling", self.sampling, SAMPLINGS)
        check(self.channels in (None, 1, 3), f"channels must be 1 or 3, got {self.channels!r}")
        _positive("image_size", self.image_size)
        _positive_or_null("max_per_class", self.max_per_class)


@dataclass(frozen=True)
class MethodChoice:
    """Which method a run trains, on which network, and its options (resolved by the method's ``Hyper``)."""

    method: str = "ecogan"  # registered method name (bench list methods)
    backbone: str | None = None  # None = the method's default backbone
    g_cond: str | None = None  # how the class enters G: scale | concat | cbn; None = the backbone's paper way
    regularizer: str = "none"  # D-loss regulariser: none | lecam (LeCam, Tseng et al. 2021)
    augment: str = "none"  # augmentation of every image D sees: none | diffaug (DiffAugment, Zhao et al. 2020)
    quirks: str = "paper"  # paper = reproduce upstream bugs | fixed = correct them
    method_options: dict[str, Any] = field(default_factory=dict)  # method hyperparameter overrides

    def check(self) -> None:
        """Enumerated values of the method keys (names are looked up by :meth:`RunConfig.check_names`)."""
        _choice("quirks", self.quirks, ("paper", "fixed"))
        if self.g_cond is not None:
            _choice("g_cond", self.g_cond, G_CONDS)
        _choice("regularizer", self.regularizer, REGULARIZERS)
        _choice("augment", self.augment, AUGMENTS)


@dataclass(frozen=True)
class TrainBudget:
    """How long a run trains and how often it evaluates and checkpoints, and its seed."""

    seed: int = 0  # seeds python, numpy, torch and the sampler
    batch_size: int = 32  # real batch per D step and fake batch per G step
    steps: int = 300  # training iterations; one iteration = n_dis D steps + 1 G step
    eval_every: int = 100  # evaluate every this many iterations (and at the end)
    ckpt_every: int = 50  # checkpoint every this many iterations (and at each evaluation)
    pretrain_epochs: int | None = None  # None = the method's default (BAGAN 150, EBGAN 30, IDA-GAN 150)
    pretrain_images: int | None = None  # cap on the images pretraining passes (epochs x train images); None = none

    def check(self) -> None:
        """Ranges of the budget keys; a ConfigError names the key and the value."""
        for key in ("batch_size", "steps", "eval_every", "ckpt_every"):
            _positive(key, getattr(self, key))
        _positive_or_null("pretrain_epochs", self.pretrain_epochs)
        _positive_or_null("pretrain_images", self.pretrain_images)
        check(_is_int(self.seed) and self.seed >= 0, f"seed must be a non-negative integer, got {self.seed!r}")
        check(self.batch_size >= 2, f"batch_size must be >= 2 (contrastive losses need pairs), got {self.batch_size}")


@dataclass(frozen=True)
class EvalConfig:
    """How a run's evaluations measure: protocols, feature extractor, sample counts, weights files."""

    protocols: list[str] = field(default_factory=lambda: ["standard"])  # paper | standard, each a metrics row
    extractor: str | None = None  # None = each protocol's own; or a registered extractor for all
    num_eval_samples: int | None = None  # cap on real and fake images per evaluation; None = the reference size
    bootstrap: int = 100  # resamples of the bootstrap intervals of FID in metrics.csv; 0 = none
    inception_weights: str | None = None  # torch-fidelity weights; None = $BENCH_INCEPTION_WEIGHTS, else hub cache
    tv_inception_weights: str | None = None  # torchvision's (paper); None = $BENCH_TV_INCEPTION_WEIGHTS, else hub cache

    def check(self) -> None:
        """Known protocols and a valid sample cap (the extractor name: :meth:`RunConfig.check_names`)."""
        for p in self.protocols:
            _choice("protocols", p, PROTOCOLS)
        _positive_or_null("num_eval_samples", self.num_eval_samples)
        check(_is_int(self.bootstrap) and self.bootstrap >= 0,
              f"bootstrap must be a non-negative integer (0 = no intervals), got {self.bootstrap!r}")


@dataclass(frozen=True)
class RuntimeConfig:
    """Where a run's results go and how it executes: grid and scale names, device, precision, parallelism."""

    grid: str = "adhoc"  # grid name; the run folder is results/<grid>/<cell id>
    scale: str = "cpu"  # budget preset: paper | cpu | smoke
    tensorboard: bool = False  # also write a TensorBoard event file into the run folder (pip install tensorboard)
    device: str = "auto"  # auto | cpu | cuda
    bf16: bool = False  # bf16 autocast of the steps' forward passes (CUDA and CPU); "auto" resolves (bench.hardware)
    channels_last: bool = False  # channels_last memory format of the nets and real batches; "auto" as bf16
    compile: bool = False  # torch.compile G and D (in place; checkpoints unchanged)
    nproc: int = 1  # data-parallel processes (devices) for this run; batch_size is the global batch

    def check(self) -> None:
        """Enumerated values of the runtime keys."""
        _choice("scale", self.scale, tuple(SCALES))
        _choice("device", self.device, DEVICES)
        for key in ("bf16", "channels_last"):
            value = getattr(self, key)
            check(isinstance(value, bool), f"{key} must be true, false or auto, got {value!r}")
        check(isinstance(self.nproc, int) and self.nproc >= 1, f"nproc must be a positive integer, got {self.nproc!r}")


CONCEPTS = (DataConfig, MethodChoice, TrainBudget, EvalConfig, RuntimeConfig)


@dataclass(frozen=True)
class RunConfig(RuntimeConfig, EvalConfig, TrainBudget, MethodChoice, DataConfig):
    """Everything that defines one run: the union of the concept dataclasses (:data:`CONCEPTS`), each with its
    defaults, kept flat so that config.json, ``--set`` and grid files name every key at one level. Frozen: a
    resolved config is never changed, only replaced (``dataclasses.replace``). ``cfg.concept(TrainBudget)`` gives
    one concept's part."""

    def __post_init__(self) -> None:
        self.validate()  # a RunConfig that exists is valid: checked once, where it is made

    def concept(self, kind: type[_C]) -> _C:
        """This config's part of one concept (a :data:`CONCEPTS` class), as that frozen dataclass."""
        return kind(**{f.name: getattr(self, f.name) for f in dataclasses.fields(kind)})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hashed_dict(self) -> dict[str, Any]:
        """The keys that determine the numbers (runtime keys left out, and the newer keys at their default), plus
        ``hyper``: the method's resolved hyperparameters (:meth:`method_hyper`)."""
        keys = {k: v for k, v in self.to_dict().items() if k not in RUNTIME_KEYS
                and not (k in HASH_OMITTED_AT_DEFAULT and v == HASH_OMITTED_AT_DEFAULT[k])}
        return keys | {"hyper": self.method_hyper()}

    def method_hyper(self) -> dict[str, Any]:
        """The method's full hyperparameters for this run, as JSON (``Method.resolve_hyper``: the Hyper's defaults
        < the backbone's recipe < ``method_options``); a ConfigError names an unknown method or option."""
        from bench.methods import get_method
        from bench.methods.hyper import to_json

        return to_json(get_method(self.method).resolve_hyper(dict(self.method_options), self.backbone))

    def check_names(self) -> RunConfig:
        """Look every name up in its registry (dataset, method, backbone, extractor) and resolve the method's
        hyperparameters, so that a typo fails before any work; a ConfigError names the key and the closest name."""
        from bench.datasets import get_spec
        from bench.methods import get_method
        from bench.methods.backbones import get_backbone
        from bench.metrics.extractors import EXTRACTORS

        get_spec(self.dataset)
        method = get_method(self.method)
        get_backbone(self.backbone or method.default_backbone)
        if self.extractor is not None:
            _named("extractor", lambda: EXTRACTORS.get(self.extractor))
        _named("method_options", self.method_hyper)
        return self

    def config_hash(self) -> str:
        """sha256 (16 hex digits) of the canonical JSON of :meth:`hashed_dict`."""
        blob = json.dumps(self.hashed_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def validate(self) -> RunConfig:
        """Check enumerated values and ranges, concept by concept, then across them; a ConfigError names the key
        and the value."""
        for kind in CONCEPTS:
            kind.check(self)
        check(self.batch_size % self.nproc == 0 and self.batch_size // self.nproc >= 2,
              f"batch_size {self.batch_size} must split into nproc = {self.nproc} equal parts of >= 2 samples")
        return self


def _is_int(value: Any) -> bool:
    """An integer that is not a bool (JSON's ``true`` parses to True, which Python counts as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _named(key: str, lookup: Any) -> Any:
    """``lookup()``, with a ConfigError it raises prefixed by the config key it concerns."""
    try:
        return lookup()
    except ConfigError as err:
        raise ConfigError(f"{key}: {err}") from None


def _positive(key: str, value: Any) -> None:
    check(_is_int(value) and value >= 1, f"{key} must be a positive integer, got {value!r}")


def _positive_or_null(key: str, value: Any) -> None:
    check(value is None or (_is_int(value) and value >= 1), f"{key} must be a positive integer or null, got {value!r}")


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    check(value in choices, f"{key} = {value!r} is not one of {', '.join(choices)}{closest(str(value), choices)}")


# Scale presets: budgets only (and, below the paper scale, the label-free ``random-cnn`` features: FID, coverage
# and diversity must see variation within a class, which the judge's classifier features are trained to ignore;
# bench.metrics.random_features says why). ``d_updates`` and ``evaluations`` are turned into each method's ``steps``
# and ``eval_every`` by :func:`resolve` (see the module docstring); the other keys are RunConfig keys. ``"auto"`` for
# ``bf16`` and ``channels_last`` means the CPU's fast path: on when the run trains on a CPU with bf16 units
# (:mod:`bench.hardware`), resolved by :func:`resolve` before the config exists. Every phase below the paper scale
# has a budget that does not grow with the dataset: pretraining passes at most ``pretrain_images`` images, the
# judge trains on a fixed number of image passes (:mod:`bench.metrics.classifier`), reference features and
# evaluations take ``num_eval_samples`` images (see :mod:`bench.phases`).
SCALE_BUDGET_KEYS = ("d_updates", "evaluations")
SCALES: dict[str, dict[str, Any]] = {
    "paper": {},
    # cpu: a couple of minutes per cell on 2 cores, for the digits demo. dcgan64 at 16x16 (digits are 8x8
    # images: 32x32 only costs time), batch 32, 1,500 D updates (ECOGAN/EBGAN/2C/D2D-CE 300 iterations of
    # 5 D + 1 G, BAGAN 1,500 of 1 D + 1 G), 5 evaluations; pretraining takes each method's own epochs up to
    # 96,000 images (all of BAGAN's 150 and EBGAN's 30 epochs of digits_lt's 534 images). BigGAN needs
    # --set backbone=biggan32 image_size=32.
    "cpu": {
        "image_size": 16,
        "batch_size": 32,
        "d_updates": 1500,
        "evaluations": 5,
        "pretrain_images": 96000,
        "backbone": "dcgan64",
        "extractor": "random-cnn",
        "num_eval_samples": 1000,
        "bootstrap": 50,  # 50 resamples: about 1.9 s per evaluation of both protocols (100: 3.8 s, 1 thread)
        "bf16": "auto",
        "channels_last": "auto",
    },
    # lab: CIFAR-10-like 32x32 data in at most 10 minutes per cell on 2 cores (bf16 CPUs): dcgan64 at 32x32,
    # batch 64, 4,000 D updates (800 iterations of 5 D + 1 G), 4 evaluations of 2,000 images without bootstrap
    # intervals (on the random-cnn's 1,024 features each resample of both protocols costs about as much as the rest
    # of the evaluation: seeds give the intervals here); pretraining passes at most 64,000 images (6 epochs of
    # CIFAR10_LT's 9,500).
    "lab": {
        "image_size": 32,
        "batch_size": 64,
        "d_updates": 4000,
        "evaluations": 4,
        "pretrain_images": 64000,
        "backbone": "dcgan64",
        "extractor": "random-cnn",
        "num_eval_samples": 2000,
        "bootstrap": 0,
        "bf16": "auto",
        "channels_last": "auto",
    },
    "smoke": {
        "image_size": 16,
        "batch_size": 8,
        "d_updates": 20,
        "evaluations": 2,
        "pretrain_epochs": 1,
        "backbone": "tiny",
        "extractor": "random-cnn",
        "num_eval_samples": 64,
        "max_per_class": 20,
    },
}

BUDGET_KEYS = ("image_size", "batch_size", "steps", "eval_every", "ckpt_every", "pretrain_epochs",
               "pretrain_images", "num_eval_samples", "max_per_class")


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(RunConfig)]


def resolve(cell: dict[str, Any], scale: str | None = None, paper_budget: dict[str, Any] | None = None,
            overrides: dict[str, Any] | None = None) -> RunConfig:
    """Resolve a cell (axis values and keys of RunConfig) into a validated RunConfig.

    Args:
        cell: keys of RunConfig (``method_options`` a dict); unknown keys are a ConfigError.
        scale: scale preset name; None = ``cell["scale"]`` or the default.
        paper_budget: the grid's budget keys, applied only at scale ``paper``.
        overrides: ``--set`` values, applied last; ``method_options.<key>`` sets one option.
    """
    names = field_names()
    merged: dict[str, Any] = {}
    scale = scale or cell.get("scale") or RunConfig.scale
    _choice("scale", scale, tuple(SCALES))
    if scale == "paper":
        merged.update(paper_budget or {})
    preset = dict(SCALES[scale])
    fair = {k: preset.pop(k) for k in SCALE_BUDGET_KEYS if k in preset}
    merged.update(preset)
    merged.update({k: v for k, v in cell.items()})
    merged["scale"] = scale
    for key, value in (overrides or {}).items():
        if key.startswith("method_options."):
            options = dict(merged.get("method_options", {}))
            options[key.split(".", 1)[1]] = value
            merged["method_options"] = options
        else:
            merged[key] = value
    for key in merged:
        if key not in names:
            raise ConfigError(f"unknown config key {key!r}{closest(key, names)}")
    for key in FAST_PATH_KEYS:
        merged[key] = resolve_fast_path(merged.get(key, False), merged.get("device", RunConfig.device))
    explicit = set(cell) | set(overrides or {})
    if fair and "steps" not in explicit:
        merged.update(fair_budget(merged.get("method", RunConfig.method), merged.get("method_options") or {},
                                  fair, keep_eval_every="eval_every" in explicit, backbone=merged.get("backbone")))
    config = RunConfig(**merged).check_names()
    if (config.regularizer, config.augment) != ("none", "none"):
        from bench.methods import get_method

        get_method(config.method).check_training_aids(config.regularizer, config.augment)
    return config


def fair_budget(method: str, options: dict[str, Any], fair: dict[str, int], keep_eval_every: bool = False,
                backbone: str | None = None) -> dict[str, int]:
    """``steps`` (and ``eval_every``, ``ckpt_every``) giving ``method`` ``fair["d_updates"]`` D updates and
    ``fair["evaluations"]`` evaluations: steps = ceil(d_updates / n_dis)."""
    from bench.methods import get_method

    n_dis = get_method(method).d_steps_per_iteration(options, backbone)
    steps = max(1, math.ceil(fair["d_updates"] / n_dis))
    out = {"steps": steps}
    if not keep_eval_every and "evaluations" in fair:
        out["eval_every"] = max(1, steps // fair["evaluations"])
        out["ckpt_every"] = max(1, out["eval_every"] // 2)
    return out


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parse ``--set key=value`` items; values are read as JSON when they parse (numbers, true, lists)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def diff_configs(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys whose values differ between two config dicts (runtime keys ignored), as 'key: old -> new'; a key
    ``hyper`` (the resolved method hyperparameters) is compared option by option, as 'hyper.lr_g: 0.0002 -> 0.0001'."""
    keys = sorted((set(old) | set(new)) - set(RUNTIME_KEYS))
    out = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if k == "hyper" and isinstance(a, dict) and isinstance(b, dict):
            out += diff_configs(a, b, prefix=f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out
