"""The run options, declared once: :class:`RunConfig`'s fields are the table (:data:`OPTIONS`).

Each field is made with :func:`setting`, which records, once, everything bench needs to know about the option:

- its default and its value rule (``bench.rules``: a ``--set`` value, a grid file's value and a saved config.json
  are checked by the same rule, with one line naming the key and the value);
- whether it is a grid axis (:class:`Axis`): its part of the cell id and of the cell's label;
- whether it enters the config hash: always, only at a value other than its default (options added after runs
  existed, so that older runs keep their hash), or never (where the results go, how they run);
- its column in the gathered CSV (``bench gather``) and whether the report groups cells by it;
- where a grid file may set it (an axis, ``[budget]``, ``[settings]``, the top level, or bench alone);
- whether ``bench eval --set`` may change it on a finished run (how a checkpoint is measured, not what was trained);
- whether it takes the value ``"auto"`` and what that resolves to (``bf16`` and ``channels_last``: the CPU's fast
  path), and whether the cell id names its resolved value (``-bf16``, ``-chlast``: a scale may pick it per machine).

Everything else is derived from the table: the grid axes and the ``--only`` keys (``bench.grid``), the CLI's
choices (``bench.cli``), cell ids and labels (:func:`make_cell_id`, :func:`make_label`), the hashed view
(:func:`hashed_view`), the gathered columns (``bench.results``), the report's grouping (``bench.report``) and
the keys ``bench eval --set`` takes (:data:`EVALUATION_KEYS`).
Adding an option is adding a field here and the code that uses it.

The resolved config of one run is made by ``bench.plan.make_plan`` (resolution order, scale presets, the
method's hyperparameters, every construction rule, the value ``"auto"`` of an option that takes it), which this
module does not know about: it is a leaf that imports nothing of bench but the errors, the rules and
``bench.hardware`` (what the CPU offers, for ``"auto"``).

Scale presets (:data:`SCALES`) hold budgets only, never a method's math; ``d_updates`` and ``evaluations`` are
turned into each method's ``steps`` and ``eval_every`` by the plan.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.errors import ConfigError, check, closest
from bench.hardware import AUTO, cpu_fast_path
from bench.rules import (
    FLAG,
    NAME,
    NON_NEGATIVE_INT,
    OPTIONS_TABLE,
    POSITIVE_INT,
    Rule,
    at_least,
    choice,
    list_of,
    or_null,
)

SAMPLINGS = ("none", "balanced")
G_CONDS = ("scale", "concat", "cbn")  # every backbone's g_cond values (each backbone says which it supports)
REGULARIZERS = ("none", "lecam")  # D-loss regularisers any method with an adversarial logit takes (bench.methods.lecam)
AUGMENTS = ("none", "diffaug")  # augmentations of every image D sees, any method (bench.methods.diffaugment)
QUIRKS = ("paper", "fixed")  # paper = reproduce the upstream code's bugs, fixed = correct them
PROTOCOLS = ("paper", "standard", "studiogan")
DEVICES = ("auto", "cpu", "cuda")
FOLDER_PREFIX = "folder:"  # as bench.datasets.FOLDER_PREFIX (not imported: config is a leaf)

# Scale presets: budgets only (and, below the paper scale, the label-free ``random-cnn`` features: FID, coverage
# and diversity must see variation within a class, which the judge's classifier features are trained to ignore;
# bench.metrics.random_features says why). ``d_updates`` and ``evaluations`` are turned into each method's ``steps``
# and ``eval_every`` by the plan (every method gets the same number of D updates: ceil(d_updates / n_dis) iterations);
# the other keys are RunConfig keys. ``"auto"`` for ``bf16`` and ``channels_last`` means the CPU's fast path: on
# when the run trains on a CPU with bf16 units (:mod:`bench.hardware`), resolved by the plan before the config
# exists. Every phase below the paper scale has a budget that does not grow with the dataset: pretraining passes
# at most ``pretrain_images`` images, the judge trains on a fixed number of image passes
# (:mod:`bench.metrics.classifier`), reference features and evaluations take ``num_eval_samples`` images
# (:mod:`bench.run.phases`).
SCALE_BUDGET_KEYS = ("d_updates", "evaluations")
SCALES: dict[str, dict[str, Any]] = {
    # paper: the grid's own budget; evaluations as a 2026 reviewer expects them: 10,000 fakes while monitoring,
    # the best and last checkpoints measured again on 50,000 (StudioGAN's and EDM2's count); the paper protocol
    # keeps the ECOGAN code's one fake per train image.
    "paper": {"eval_fakes": 10000, "final_fakes": 50000},
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
        "bf16": AUTO,
        "channels_last": AUTO,
    },
    # lab: CIFAR-10-like 32x32 data in at most 10 minutes per cell on 2 cores (bf16 CPUs): dcgan64 at 32x32,
    # batch 64, 2,500 D updates (500 iterations of 5 D + 1 G; the slowest method, EBGAN, whose D is an autoencoder,
    # takes 0.84 s per such iteration alone on 2 cores, so 4,000 D updates took it over 13 minutes), 4 evaluations
    # of 2,000 images without bootstrap intervals (on the random-cnn's 1,024 features each resample of both
    # protocols costs about as much as the rest of the evaluation: seeds give the intervals here); pretraining
    # passes at most 64,000 images (6 epochs of CIFAR10_LT's 9,500).
    "lab": {
        "image_size": 32,
        "batch_size": 64,
        "d_updates": 2500,
        "evaluations": 4,
        "pretrain_images": 64000,
        "backbone": "dcgan64",
        "extractor": "random-cnn",
        "num_eval_samples": 2000,
        "bootstrap": 0,
        "bf16": AUTO,
        "channels_last": AUTO,
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

# How an option enters the config hash (:func:`hashed_view`).
ALWAYS, AT_NON_DEFAULT, NEVER = "always", "at non-default", "never"
# Where a grid file sets an option: an axis ([axes] / [[cells]]), [budget] (paper scale), [settings], the file's
# top level (scale, protocols), or nowhere (bench sets it: the grid key).
AXIS, BUDGET, SETTINGS, TOP, BENCH = "axis", "budget", "settings", "top", "bench"
MAX_ID_LENGTH = 120  # characters of a cell id (the longest shipped id has 76)
FAST_PATH = Rule(FLAG.accepts, "true, false or auto")  # a flag that also takes "auto" (resolved by the plan)


# -- cell-id tokens ------------------------------------------------------------------------------
def token(value: Any) -> str:
    """A value as a cell-id part: characters other than letters, digits, ``_`` and ``.`` become ``_``."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_") or "_"


def option_token(key: str, value: Any) -> str:
    """A method option as a cell-id part: ``div4`` for numbers, ``pretrained_false`` otherwise."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return f"{token(key)}{token(value)}" if is_number else f"{token(key)}_{token(value)}"


def dataset_token(dataset: Any) -> str:
    """The dataset part of a cell id: the registered name, or for ``folder:<path>`` a readable slug of the
    folder's name and 8 hex digits of the sha256 of its absolute path (``folder_my_set_1a2b3c4d``), so that two
    folders never share an id, whatever characters their names hold."""
    text = str(dataset)
    if not text.startswith(FOLDER_PREFIX):
        return token(text)
    full = os.path.abspath(os.path.expanduser(text[len(FOLDER_PREFIX):]))
    readable = unicodedata.normalize("NFKD", os.path.basename(full)).encode("ascii", "ignore").decode()
    readable = re.sub(r"[^A-Za-z0-9_.]+", "_", readable).strip("_.")[:40]
    digest = hashlib.sha256(full.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"folder_{readable}_{digest}" if readable else f"folder_{digest}"


def _unless(default: Any, text: Callable[[Any], str]) -> Callable[[Any, Mapping[str, Any]], str | None]:
    """A token or label part that is left out at ``default``."""
    return lambda value, _settings: None if value == default else text(value)


def _backbone_part(value: Any, settings: Mapping[str, Any]) -> str | None:
    """A backbone names the cell when it differs from the grid's ``[settings]`` backbone."""
    return None if value is None or value == settings.get("backbone") else str(value)


@dataclass(frozen=True)
class Axis:
    """How a grid axis names a cell.

    Attributes:
        id_rank: position of its part in the cell id (``<dataset>-<method>-<sampling>-s<seed>`` first).
        label_rank: position of its part in the cell's label (the method first, the seed last).
        token: its part of the cell id, from (value, the grid's [settings]); None = left out.
        label: its part of the label; None = left out.
        also_setting: a grid's ``[settings]`` may also set it for every cell (backbone, g_cond).
    """

    id_rank: int
    label_rank: int
    token: Callable[[Any, Mapping[str, Any]], str | None]
    label: Callable[[Any, Mapping[str, Any]], str | None]
    also_setting: bool = False


@dataclass(frozen=True)
class Option:
    """One row of the option table (see the module docstring); made by :func:`setting`."""

    name: str
    default: Any
    rule: Rule
    doc: str
    axis: Axis | None = None
    hashed: str = ALWAYS
    column: str | None = None  # its column in the gathered CSV; None = not gathered
    group: bool = False  # the report groups cells by it (cells of one group differ only in the seed)
    place: str = SETTINGS  # where a grid file sets it
    evaluation: bool = False  # how a checkpoint is measured: ``bench eval --set`` may change it on a finished run
    # what "auto" resolves to, from the other options (the plan resolves it once, before the config exists: a
    # RunConfig never holds "auto"); None = the option does not take "auto"
    auto: Callable[[Mapping[str, Any]], Any] | None = None
    id_suffix: str | None = None  # the cell id ends in -<id_suffix> when the resolved value is true

    def check(self, value: Any) -> Any:
        """``value`` if the rule accepts it (normalised); a ConfigError naming the key and the value otherwise: for an
        enumeration ``key = 'x' is not one of a, b (did you mean ...)``, else ``key must be <expected>, got x``."""
        rule = self.rule
        if rule.accepts(value):
            return rule.normalise(value)
        if rule.choices is not None:
            known = [c for c in rule.choices if c is not None]
            items = value if isinstance(value, list | tuple) and value else [value]
            bad = next((x for x in items if x not in known), value)
            if not isinstance(bad, list | tuple | dict):
                names = [str(c) for c in known]
                raise ConfigError(f"{self.name} = {bad!r} is not one of {', '.join(names)}{closest(str(bad), names)}")
        raise ConfigError(f"{self.name} must be {rule.expected}, got {value!r}")

    def gathered(self, value: Any) -> Any:
        """The option's value as its gathered column holds it (None as "", a table as sorted JSON)."""
        if value is None:
            return ""
        if isinstance(value, dict):
            return json.dumps(value, sort_keys=True)
        return value


def setting(default: Any, rule: Rule, doc: str, *, axis: Axis | None = None, hashed: str = ALWAYS,
            column: str | None = None, group: bool = False, place: str | None = None,
            evaluation: bool = False, auto: Callable[[Mapping[str, Any]], Any] | None = None,
            id_suffix: str | None = None) -> Any:
    """A RunConfig field: ``default`` and the option's row of the table (see :class:`Option`); the name is the
    field's."""
    place = place or (AXIS if axis is not None else SETTINGS)
    row = {"default": default, "rule": rule, "doc": doc, "axis": axis, "hashed": hashed, "column": column,
           "group": group, "place": place, "evaluation": evaluation, "auto": auto, "id_suffix": id_suffix}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"option": row})
    return field(default=default, metadata={"option": row})


# The table. Fields are in the order of the gathered CSV's columns (then the rest); axes vary in this order in a
# grid's product, dataset slowest.
@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one run, flat, so that config.json, ``--set`` and grid files name every key at one
    level. Frozen and checked when made (:meth:`validate`): a RunConfig that exists holds valid values."""

    dataset: str = setting("digits_lt", NAME, "registered dataset name (bench list datasets), or folder:<path>",
                           axis=Axis(1, 2, lambda v, _s: dataset_token(v), lambda v, _s: str(v)),
                           column="dataset", group=True)
    method: str = setting("ecogan", NAME, "registered method name (bench list methods)",
                          axis=Axis(2, 1, lambda v, _s: token(v), lambda v, _s: str(v)), column="method", group=True)
    sampling: str = setting("none", choice(*SAMPLINGS),
                            "real-batch sampler: none (shuffled) | balanced (weight N/n_c, with replacement)",
                            axis=Axis(3, 3, lambda v, _s: token(v), _unless("none", lambda v: f"{v} sampling")),
                            column="sampling", group=True)
    seed: int = setting(0, NON_NEGATIVE_INT, "seeds python, numpy, torch and the sampler",
                        axis=Axis(4, 99, lambda v, _s: f"s{token(v)}", _unless(0, lambda v: f"seed {v}")),
                        column="seed")
    quirks: str = setting("paper", choice(*QUIRKS), "paper = reproduce upstream bugs | fixed = correct them",
                          axis=Axis(60, 60, _unless("paper", lambda v: f"quirks_{token(v)}"),
                                    _unless("paper", lambda v: f"quirks {v}")),
                          column="quirks", group=True)
    scale: str = setting("cpu", choice(*SCALES), "budget preset: paper | cpu | lab | smoke", column="scale",
                         place=TOP)
    backbone: str | None = setting(None, or_null(Rule(NAME.accepts, "a name")),
                                   "the network family; None = the method's default",
                                   axis=Axis(10, 10, lambda v, s: _backbone_part(v, s) and token(v), _backbone_part,
                                             also_setting=True),
                                   column="backbone", group=True)
    g_cond: str | None = setting(None, or_null(choice(*G_CONDS)),
                                 "how the class enters G: scale | concat | cbn; None = the backbone's paper way",
                                 axis=Axis(20, 20, _unless(None, lambda v: f"g_{token(v)}"),
                                           _unless(None, lambda v: f"G {v}"), also_setting=True),
                                 hashed=AT_NON_DEFAULT, column="g_cond", group=True)
    regularizer: str = setting("none", choice(*REGULARIZERS),
                               "D-loss regulariser: none | lecam (LeCam, Tseng et al. 2021)",
                               axis=Axis(40, 40, _unless("none", lambda v: f"reg_{token(v)}"),
                                         _unless("none", str)),
                               hashed=AT_NON_DEFAULT, column="regularizer", group=True)
    augment: str = setting("none", choice(*AUGMENTS),
                           "augmentation of every image D sees: none | diffaug (DiffAugment, Zhao et al. 2020)",
                           axis=Axis(50, 50, _unless("none", lambda v: f"aug_{token(v)}"), _unless("none", str)),
                           hashed=AT_NON_DEFAULT, column="augment", group=True)
    method_options: dict[str, Any] = setting(
        {}, OPTIONS_TABLE, "method hyperparameter overrides (keys of the method's Hyper)",
        axis=Axis(30, 30, lambda v, _s: "-".join(option_token(k, v[k]) for k in sorted(v)) or None,
                  lambda v, _s: " · ".join(f"{k}={token(v[k])}" for k in sorted(v)) or None),
        column="options", group=True)
    image_size: int = setting(32, POSITIVE_INT, "images are resized (bilinear) to image_size x image_size",
                              place=BUDGET)
    channels: int | None = setting(None, Rule(lambda v: v in (None, 1, 3) and not isinstance(v, bool), "1 or 3"),
                                   "1 or 3; None = the dataset's own")
    max_per_class: int | None = setting(None, or_null(POSITIVE_INT),
                                        "keep at most this many training images per class (smoke runs)",
                                        place=BUDGET)
    data_root: str | None = setting(None, or_null(NAME), "None = $BENCH_DATA or ./data", hashed=NEVER)
    batch_size: int = setting(32, at_least(2, "contrastive losses need pairs"),
                              "real batch per D step and fake batch per G step", place=BUDGET)
    steps: int = setting(300, POSITIVE_INT, "training iterations; one iteration = n_dis D steps + 1 G step",
                         place=BUDGET)
    eval_every: int = setting(100, POSITIVE_INT, "evaluate every this many iterations (and at the end)",
                              place=BUDGET)
    ckpt_every: int = setting(50, POSITIVE_INT, "checkpoint every this many iterations (and at each evaluation)",
                              place=BUDGET)
    pretrain_epochs: int | None = setting(None, or_null(POSITIVE_INT),
                                          "None = the method's default (BAGAN 150, EBGAN 30, IDA-GAN 150)",
                                          place=BUDGET)
    pretrain_images: int | None = setting(None, or_null(POSITIVE_INT),
                                          "at most this many images pass through pretraining (its epochs cut to "
                                          "fit, bench.run.phases); None = no cap (the paper scale)",
                                          hashed=AT_NON_DEFAULT, place=BUDGET)
    protocols: list[str] = setting(["standard"], list_of(choice(*PROTOCOLS)),
                                   "paper | standard | studiogan, each a metrics row", place=TOP)
    extractor: str | None = setting(None, or_null(NAME),
                                    "None = each protocol's own; or a registered extractor for all", evaluation=True)
    num_eval_samples: int | None = setting(None, or_null(at_least(2, "FID needs two images per set")),
                                           "cap on real (and, without eval_fakes, fake) images per evaluation; "
                                           "None = the reference size", place=BUDGET, evaluation=True)
    eval_fakes: int | None = setting(None, or_null(POSITIVE_INT), "fakes per evaluation while training; None = one "
                                     "per real image (the paper protocol: always)", hashed=AT_NON_DEFAULT,
                                     evaluation=True)
    final_fakes: int | None = setting(None, or_null(POSITIVE_INT), "fakes of the final measurement of the best and "
                                      "last checkpoints (rows final:best, final:last); None = none",
                                      hashed=AT_NON_DEFAULT, evaluation=True)
    bootstrap: int = setting(100, Rule(NON_NEGATIVE_INT.accepts, "a non-negative integer (0 = no intervals)"),
                             "resamples of the bootstrap intervals of FID; 0 = none",
                             hashed=AT_NON_DEFAULT, evaluation=True)
    inception_weights: str | None = setting(None, or_null(NAME), "torch-fidelity weights; None = "
                                            "$BENCH_INCEPTION_WEIGHTS, else the hub cache", hashed=NEVER,
                                            evaluation=True)
    tv_inception_weights: str | None = setting(None, or_null(NAME), "torchvision's (paper); None = "
                                               "$BENCH_TV_INCEPTION_WEIGHTS, else the hub cache", hashed=NEVER,
                                               evaluation=True)
    dinov2_weights: str | None = setting(None, or_null(NAME), "dinov2_vitl14_pretrain.pth (FD-DINOv2); None = "
                                         "$BENCH_DINOV2_WEIGHTS, else the hub cache", hashed=NEVER, evaluation=True)
    grid: str = setting("adhoc", NAME, "grid key; the run folder is results/<grid>/<cell id>", hashed=NEVER,
                        place=BENCH)
    tensorboard: bool = setting(False, FLAG, "also write a TensorBoard event file (pip install tensorboard)",
                                hashed=NEVER)
    device: str = setting("auto", choice(*DEVICES), "auto | cpu | cuda", hashed=NEVER)
    bf16: bool = setting(False, FAST_PATH, "bf16 autocast of the steps' forward passes (CUDA and CPU); auto = on "
                         "when the run trains on a CPU with bf16 units (bench.hardware)", auto=cpu_fast_path,
                         id_suffix="bf16", column="bf16", group=True)
    channels_last: bool = setting(False, FAST_PATH, "channels_last memory format of the nets and real batches; auto "
                                  "as bf16", auto=cpu_fast_path, id_suffix="chlast", column="channels_last", group=True)
    compile: bool = setting(False, FLAG, "torch.compile G and D (in place; checkpoints unchanged)",
                            hashed=AT_NON_DEFAULT)
    nproc: int = setting(1, POSITIVE_INT, "data-parallel processes (devices); batch_size is the global batch",
                         hashed=AT_NON_DEFAULT)

    def __post_init__(self) -> None:
        self.validate()  # a RunConfig that exists is valid: checked once, where it is made

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> RunConfig:
        """Every value against its option's rule, then across options; a ConfigError names the key and the value."""
        for name, option in OPTIONS.items():
            option.check(getattr(self, name))
        check(self.batch_size % self.nproc == 0 and self.batch_size // self.nproc >= 2,
              f"batch_size {self.batch_size} must split into nproc = {self.nproc} equal parts of >= 2 samples")
        return self


OPTIONS: dict[str, Option] = {f.name: Option(name=f.name, **f.metadata["option"])
                               for f in dataclasses.fields(RunConfig)}
"""The option table, in declaration order."""

AXES: tuple[str, ...] = tuple(name for name, o in OPTIONS.items() if o.axis is not None)
AXIS_DEFAULTS: dict[str, Any] = {name: OPTIONS[name].default for name in AXES if name not in ("dataset", "method")}
BUDGET_KEYS: tuple[str, ...] = tuple(name for name, o in OPTIONS.items() if o.place == BUDGET)
SETTING_KEYS: tuple[str, ...] = tuple(name for name, o in OPTIONS.items()
                                      if o.place == SETTINGS or (o.axis is not None and o.axis.also_setting))
RUNTIME_KEYS: tuple[str, ...] = tuple(name for name, o in OPTIONS.items() if o.hashed == NEVER)
HASH_OMITTED_AT_DEFAULT: dict[str, Any] = {name: o.default for name, o in OPTIONS.items() if o.hashed == AT_NON_DEFAULT}
GATHERED: tuple[tuple[str, str], ...] = tuple((name, o.column) for name, o in OPTIONS.items() if o.column)
"""(option, column) of every gathered option, in column order."""
GROUP_COLUMNS: tuple[str, ...] = tuple(o.column for o in OPTIONS.values() if o.group and o.column)
AUTO_KEYS: tuple[str, ...] = tuple(name for name, o in OPTIONS.items() if o.auto is not None)
"""Options that take ``"auto"`` (the plan resolves it: :func:`resolve_auto`)."""
ID_SUFFIXES: tuple[tuple[str, str], ...] = tuple((name, o.id_suffix) for name, o in OPTIONS.items() if o.id_suffix)
"""(option, token) of the options whose resolved value the cell id ends in, in id order."""
EVALUATION_KEYS: tuple[str, ...] = tuple(name for name, o in OPTIONS.items() if o.evaluation)
"""What ``bench eval --set`` may change: how a checkpoint is measured, never what was trained (the protocol has its
own option)."""
LEGACY_RUNTIME_KEYS = ("workers_hint",)  # keys of older config.json files that never changed the numbers


def choices(name: str) -> list[str]:
    """The values an enumerated option takes (for the CLI's choices)."""
    values = OPTIONS[name].rule.choices
    assert values is not None, f"option {name} is not an enumeration"
    return [str(v) for v in values if v is not None]


def field_names() -> list[str]:
    return list(OPTIONS)


def resolve_auto(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every ``"auto"`` of an option that takes it (:data:`AUTO_KEYS`) replaced by what it resolves
    to on this machine (its :attr:`Option.auto` of the other values); absent options stay absent."""
    out = dict(values)
    for name in AUTO_KEYS:
        if out.get(name) == AUTO:
            out[name] = OPTIONS[name].auto(out)
    return out


def check_keys(values: Mapping[str, Any], where: str = "") -> None:
    """A ConfigError for the first key of ``values`` that is not an option, naming the closest."""
    for key in values:
        if key not in OPTIONS:
            raise ConfigError(f"{where}unknown config key {key!r}{closest(key, OPTIONS)}")


# -- cell ids and labels ---------------------------------------------------------------------------
def make_cell_id(axes: Mapping[str, Any], default_backbone: str | None = None,
                 resolved: RunConfig | None = None) -> str:
    """The cell id: every axis's token (:class:`Axis`) in id order, joined by ``-``:
    ``<dataset>-<method>-<sampling>-s<seed>`` then, where they apply, ``-<backbone>`` (when it differs from the
    grid's ``[settings]`` backbone ``default_backbone``), ``-g_<g_cond>``, ``-<option><value>`` per method option in
    key order, ``-reg_<regularizer>``, ``-aug_<augment>`` and ``-quirks_<quirks>``; then, with the cell's
    ``resolved`` config, ``-bf16`` / ``-chlast`` where it trains with bf16 autocast / channels_last nets
    (:data:`ID_SUFFIXES`: the cpu and lab scales pick them per machine, and fp32 and bf16 runs of a cell never
    share a folder). An axis missing from ``axes`` takes its default. An id longer than :data:`MAX_ID_LENGTH` is
    bounded (:func:`bounded_id`)."""
    settings = {"backbone": default_backbone}
    parts = [_part(name, axes, settings, "token") for name in sorted(AXES, key=lambda n: OPTIONS[n].axis.id_rank)]
    if resolved is not None:
        parts += [token for name, token in ID_SUFFIXES if getattr(resolved, name) is True]
    return bounded_id("-".join(p for p in parts if p))


def without_id_suffixes(cell_id: str) -> str:
    """``cell_id`` without the tokens :data:`ID_SUFFIXES` add (``--only id=...`` takes either form)."""
    for _, token in reversed(ID_SUFFIXES):
        cell_id = cell_id.removesuffix(f"-{token}")
    return cell_id


def bounded_id(cell_id: str) -> str:
    """``cell_id`` itself up to :data:`MAX_ID_LENGTH` characters; a longer one (many method options) cut to its
    first characters plus ``-`` and 8 hex digits of the whole id's sha256, so that the run folder, its lock
    (``.<id>.lock.<random>.tmp`` while written), log and report files all stay within a file name's 255 bytes."""
    if len(cell_id) <= MAX_ID_LENGTH:
        return cell_id
    digest = hashlib.sha256(cell_id.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{cell_id[:MAX_ID_LENGTH - len(digest) - 1].rstrip('-_.')}-{digest}"


def make_label(axes: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> str:
    """A readable label, e.g. ``ecogan · cifar10_lt · balanced sampling · div=4 · quirks fixed``: every axis's
    label part (:class:`Axis`) in label order, joined by `` · ``."""
    settings = settings or {}
    parts = [_part(name, axes, settings, "label") for name in sorted(AXES, key=lambda n: OPTIONS[n].axis.label_rank)]
    return " · ".join(p for p in parts if p)


def _part(name: str, axes: Mapping[str, Any], settings: Mapping[str, Any], kind: str) -> str | None:
    """One axis's part of a cell id (``kind`` token) or label (``kind`` label); a missing value is the default."""
    option = OPTIONS[name]
    value = axes.get(name)
    return getattr(option.axis, kind)(option.default if value is None else value, settings)


# -- the hash and diffs ----------------------------------------------------------------------------
def hashed_view(values: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a config dict that determine the numbers: every option but those never hashed, and those hashed
    only at a non-default value left out at their default (or absent: a config.json written before they existed).
    Keys that are not options (a config.json of an older bench) are kept, so that they show in a diff."""
    out = {}
    for key, value in values.items():
        option = OPTIONS.get(key)
        if key in LEGACY_RUNTIME_KEYS or (option is not None and option.hashed == NEVER):
            continue
        if option is not None and option.hashed == AT_NON_DEFAULT and value == option.default:
            continue
        out[key] = value
    return out


def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The hashed keys whose values differ between two config dicts, as 'key: old -> new' (keys hashed only at a
    non-default value count as their default where absent); a key ``hyper`` (the resolved method hyperparameters)
    is compared option by option, as 'hyper.lr_g: 0.0002 -> 0.0001'."""
    if not prefix:
        old, new = hashed_view(old), hashed_view(new)
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if k == "hyper" and isinstance(a, dict) and isinstance(b, dict):
            out += diff_configs(a, b, prefix=f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out
