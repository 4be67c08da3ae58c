"""The run plan: one cell resolved and checked once, then carried unchanged.

:func:`make_plan` turns a cell (its axis values), a scale and the ``--set`` overrides into a frozen :class:`RunPlan`:

1. the options, later wins: ``RunConfig`` defaults < the grid's ``[budget]`` (scale ``paper`` only) < the scale
   preset < the grid's ``[settings]`` (but a preset that names a network replaces the settings' one) < the cell's
   own keys (its axes: a backbone that names the cell is the one it trains) < ``--set``;
   ``"auto"`` of an option that takes it (``bf16``, ``channels_last``: the CPU's fast path) is resolved here, once
   (``bench.config.resolve_auto``), so that the config, its hash and the cell id hold what the run computes with;
2. every name looked up in its registry (method, backbone, dataset, extractor), with the closest name on a typo;
3. the method's hyperparameters resolved, once (``Method.resolve_hyper``: Hyper defaults < the backbone's recipe <
   ``method_options``);
4. the budget: a scale preset's ``d_updates`` give every method the same number of D updates (steps =
   ceil(d_updates / n_dis)) and ``evaluations`` even evaluation steps, unless the cell or ``--set`` name ``steps``
   (or ``eval_every``);
5. the config's value rules (``bench.config``), then every rule the method's build would enforce
   (``Method.check_build``: how G takes the class on this backbone, the backbone's pieces and image sizes, the
   training aids, the data's channels and classes where the dataset's spec knows them) — so ``bench run
   --dry-run`` refuses what a run would refuse, before any data are loaded;
6. the config hash: sha256 of the hashed options (``bench.config.hashed_view``) and the resolved hyperparameters.

The plan is written once, as the run folder's ``config.json`` (:meth:`RunPlan.to_json`), and handed as it is to the
scheduler, the workers (in the cell spec), the loop and ``bench eval`` / ``bench sample``
(:meth:`RunPlan.from_json`: no second resolution); the method is built from it (:meth:`RunPlan.method_config`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.config import (
    OPTIONS,
    SCALE_BUDGET_KEYS,
    SCALES,
    RunConfig,
    check_keys,
    hashed_view,
    resolve_auto,
)
from bench.datasets import get_spec
from bench.errors import ConfigError
from bench.methods import Method, get_method
from bench.methods import hyper as hyper_options
from bench.methods.backbones import get_backbone
from bench.methods.base import MethodConfig
from bench.metrics.extractors import EXTRACTORS


@dataclass(frozen=True)
class Budget:
    """What a run will do: iterations, evaluation and checkpoint intervals, D updates (steps × n_dis), and the
    pretraining epochs (None = the method has no pretraining stage)."""

    steps: int
    eval_every: int
    ckpt_every: int
    d_updates: int
    pretrain_epochs: int | None


@dataclass(frozen=True)
class DataPlan:
    """The data a run will load, as far as they are known before loading: ``channels`` and ``num_classes`` are None
    where the dataset's spec does not say (``folder:<path>`` finds them when it loads)."""

    dataset: str
    image_size: int
    channels: int | None
    num_classes: int | None
    max_per_class: int | None
    sampling: str


@dataclass(frozen=True)
class RunPlan:
    """One run, resolved and checked (module docstring). ``config`` holds the options as resolved (the keys of
    config.json's ``config``; ``backbone`` stays None where the method's default applies); the other fields are what
    the options resolve to: the Hyper, the backbone and how G takes the class (``g_cond``, None when the class lives
    in the method's latent), D steps per iteration, the budget, the data and the hash."""

    config: RunConfig
    hyper: Any
    backbone: str
    g_cond: str | None
    n_dis: int
    budget: Budget
    data: DataPlan
    hash: str

    @property
    def method(self) -> str:
        return self.config.method

    def method_class(self) -> type[Method]:
        return get_method(self.config.method)

    def hyper_json(self) -> dict[str, Any]:
        return hyper_options.to_json(self.hyper)

    def recipe(self) -> dict[str, Any]:
        """What the run's nets and steps are, for config.json and the report: backbone, how G takes the class, D steps
        per G step, the adversarial loss, the GP weight, the aids, every hyperparameter, steps and D updates."""
        hyper = self.hyper_json()
        return {"backbone": self.backbone, "g_cond": self.g_cond, "n_dis": self.n_dis,
                "adv_loss": hyper.get("adv_loss") or self.method_class().adversarial_loss,
                "gp_weight": hyper.get("gp_weight", 0.0), "regularizer": self.config.regularizer,
                "augment": self.config.augment, "hyper": hyper, "steps": self.budget.steps,
                "d_updates": self.budget.d_updates}

    def method_config(self, data: Mapping[str, Any], world: int = 1) -> MethodConfig:
        """What the method is built from: the plan's resolved values and the loaded data's facts (``data``:
        num_classes, channels, image_size, class_counts); on one of ``world`` data-parallel ranks its G steps take
        ``batch_size / world`` fakes."""
        cfg = self.config
        return MethodConfig(num_classes=data["num_classes"], image_size=data["image_size"], channels=data["channels"],
                            backbone=self.backbone, g_cond=self.g_cond, quirks=cfg.quirks,
                            regularizer=cfg.regularizer, augment=cfg.augment, batch_size=cfg.batch_size // world,
                            class_counts=list(data["class_counts"]), options=dict(cfg.method_options),
                            hyper=self.hyper)

    def to_json(self) -> dict[str, Any]:
        """The plan as config.json holds it: ``config`` (the options), ``hyper``, ``hash`` and ``recipe`` (which
        carries the backbone, g_cond, n_dis and the budget)."""
        return {"config": self.config.to_dict(), "hyper": self.hyper_json(), "hash": self.hash,
                "recipe": self.recipe() | {"eval_every": self.budget.eval_every, "ckpt_every": self.budget.ckpt_every,
                                           "pretrain_epochs": self.budget.pretrain_epochs}}

    @classmethod
    def from_json(cls, saved: Mapping[str, Any], where: str = "the plan") -> RunPlan:
        """The plan as :meth:`to_json` wrote it, rebuilt without resolving anything again (the saved Hyper, backbone,
        g_cond, n_dis, budget and hash are taken as they are; each value is checked by its rule). A plan saved by a
        bench that predates the run plan (no ``recipe``) is resolved from its config once, as it was then."""
        try:
            config = RunConfig(**saved["config"])
        except TypeError as err:
            raise ConfigError(f"{where}: the saved config does not fit this version of bench ({err})") from None
        except KeyError:
            raise ConfigError(f"{where} has no 'config' entry") from None
        recipe = saved.get("recipe") or {}
        if not {"backbone", "n_dis", "steps"} <= set(recipe) or "hyper" not in saved or "hash" not in saved:
            plan = make_plan(config.to_dict())  # written before the run plan: resolve it once, as it was then
            return dataclasses.replace(plan, hash=saved.get("hash", plan.hash))
        method = get_method(config.method)
        hyper = _named(where, lambda: hyper_options.restore(method.name, method.Hyper, saved["hyper"]))
        n_dis = int(recipe["n_dis"])
        budget = Budget(config.steps, config.eval_every, config.ckpt_every, config.steps * n_dis,
                        recipe.get("pretrain_epochs", _pretrain_epochs(config, method, hyper)))
        return cls(config=config, hyper=hyper, backbone=recipe["backbone"], g_cond=recipe.get("g_cond"), n_dis=n_dis,
                   budget=budget, data=_data_plan(config), hash=str(saved["hash"]))


def make_plan(cell: Mapping[str, Any], scale: str | None = None, paper_budget: Mapping[str, Any] | None = None,
              overrides: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None) -> RunPlan:
    """Resolve and check one run (module docstring).

    Args:
        cell: the cell's own keys (its axis values; any RunConfig key); unknown keys are a ConfigError.
        scale: scale preset name; None = ``cell["scale"]`` or the default.
        paper_budget: the grid's budget keys, applied only at scale ``paper``.
        overrides: ``--set`` values, applied last; ``method_options.<key>`` sets one option.
        settings: the grid's ``[settings]``.

    Returns:
        The frozen, checked RunPlan. Raises ConfigError naming the key (and the closest name) for anything a run would
        refuse.
    """
    values, fair, explicit = _layers(cell, scale, paper_budget, overrides, settings)
    config = RunConfig(**values)  # every value against its option's rule
    replaced = (settings or {}).get("backbone")
    if replaced is not None and config.backbone != replaced and "backbone" not in set(cell) | set(overrides or {}):
        try:  # the preset replaced the grid's network: say so when that is what the build refuses
            return _resolved(config, fair, explicit)
        except ConfigError as err:
            raise ConfigError(f"{err}; the {config.scale} scale's preset replaced the grid's backbone {replaced} by "
                              f"{config.backbone} (--set backbone={replaced} keeps it)") from None
    return _resolved(config, fair, explicit)


def _resolved(config: RunConfig, fair: Mapping[str, int], explicit: set[str]) -> RunPlan:
    """The rest of :func:`make_plan` for a config whose values have passed their rules."""
    method = get_method(config.method)
    backbone = config.backbone or method.default_backbone
    get_backbone(backbone)
    hyper = _named("method_options", lambda: method.resolve_hyper(dict(config.method_options), backbone))
    n_dis = Method.d_steps(hyper)
    if fair and "steps" not in explicit:
        config = dataclasses.replace(config, **fair_budget(n_dis, fair, keep_eval_every="eval_every" in explicit))
    return _checked_plan(config, method, hyper, backbone, n_dis)


def fair_budget(n_dis: int, fair: Mapping[str, int], keep_eval_every: bool = False) -> dict[str, int]:
    """``steps`` (and ``eval_every``, ``ckpt_every``) giving a method of ``n_dis`` D steps per iteration
    ``fair["d_updates"]`` D updates and ``fair["evaluations"]`` evaluations: steps = ceil(d_updates / n_dis)."""
    steps = max(1, math.ceil(fair["d_updates"] / n_dis))
    out = {"steps": steps}
    if not keep_eval_every and "evaluations" in fair:
        out["eval_every"] = max(1, steps // fair["evaluations"])
        out["ckpt_every"] = max(1, out["eval_every"] // 2)
    return out


def _layers(cell: Mapping[str, Any], scale: str | None, paper_budget: Mapping[str, Any] | None,
            overrides: Mapping[str, Any] | None, settings: Mapping[str, Any] | None
            ) -> tuple[dict[str, Any], dict[str, int], set[str]]:
    """The options merged in resolution order; the preset's fair budget (d_updates, evaluations); the keys the cell,
    the settings or ``--set`` named."""
    scale = OPTIONS["scale"].check(scale or cell.get("scale") or OPTIONS["scale"].default)
    merged: dict[str, Any] = {}
    if scale == "paper":
        merged.update(paper_budget or {})
    preset = dict(SCALES[scale])
    fair = {k: preset.pop(k) for k in SCALE_BUDGET_KEYS if k in preset}
    merged.update(preset)
    settings = dict(settings or {})
    if "backbone" in preset:
        settings.pop("backbone", None)  # the preset's network (smoke: tiny) replaces the grid's; a cell's own wins
    merged.update(settings)
    merged.update(cell)
    merged["scale"] = scale
    for key, value in (overrides or {}).items():
        if key.startswith("method_options."):
            merged["method_options"] = {**(merged.get("method_options") or {}), key.split(".", 1)[1]: value}
        else:
            merged[key] = value
    check_keys(merged)
    return resolve_auto(merged), fair, set(cell) | set(settings) | set(overrides or {})


def _checked_plan(config: RunConfig, method: type[Method], hyper: Any, backbone: str, n_dis: int) -> RunPlan:
    """Names, the method's construction rules and the hash of a resolved config."""
    get_spec(config.dataset)
    if config.extractor is not None:
        _named("extractor", lambda: EXTRACTORS.get(config.extractor))
    data = _data_plan(config)
    arch = get_backbone(backbone)
    g_cond = method.resolve_g_cond(arch, config.g_cond)
    method.check_build(MethodConfig(num_classes=data.num_classes, image_size=config.image_size, channels=data.channels,
                                    backbone=backbone, g_cond=g_cond, quirks=config.quirks,
                                    regularizer=config.regularizer, augment=config.augment,
                                    batch_size=config.batch_size, hyper=hyper), hyper)
    budget = Budget(config.steps, config.eval_every, config.ckpt_every, config.steps * n_dis,
                    _pretrain_epochs(config, method, hyper))
    return RunPlan(config=config, hyper=hyper, backbone=backbone, g_cond=g_cond, n_dis=n_dis, budget=budget,
                   data=data, hash=config_hash(config, hyper))


def config_hash(config: RunConfig, hyper: Any) -> str:
    """sha256 (16 hex digits) of the canonical JSON of the hashed options (``bench.config.hashed_view``) and
    ``hyper``: the resolved hyperparameters, so that a changed default makes a resumed run refuse, naming it."""
    blob = json.dumps(hashed_view(config.to_dict()) | {"hyper": hyper_options.to_json(hyper)}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _data_plan(config: RunConfig) -> DataPlan:
    spec = get_spec(config.dataset)
    return DataPlan(dataset=config.dataset, image_size=config.image_size,
                    channels=config.channels if config.channels is not None else spec.native_channels,
                    num_classes=spec.num_classes, max_per_class=config.max_per_class, sampling=config.sampling)


def _pretrain_epochs(config: RunConfig, method: type[Method], hyper: Any) -> int | None:
    """The epochs of the method's pretraining stage (the config's, else the Hyper's), None without a stage."""
    if not method.pretrains or getattr(hyper, "pretrained", True) is False:
        return None
    return config.pretrain_epochs if config.pretrain_epochs is not None else getattr(hyper, "pretrain_epochs", None)


def _named(key: str, lookup: Any) -> Any:
    """``lookup()``, with a ConfigError it raises prefixed by the config key it concerns."""
    try:
        return lookup()
    except ConfigError as err:
        raise ConfigError(f"{key}: {err}") from None
