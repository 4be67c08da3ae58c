"""Search spaces: which options ``bench tune`` varies for a method, over which ranges, and where each range comes from.

A method declares its space next to its Hyper, as a class attribute::

    search_space = SearchSpace(
        shared=("lr_g", "lr_d", "n_dis", "cond_lambda", "temperature", "g_cond", "regularizer", "augment"),
        own={"pretrain_lr": LogUniform(5e-5, 1e-3, source="...")})

- ``shared`` names keys of :data:`SHARED`: one range for every method that searches the key, so that no method's
  learning rate (say) is searched wider or finer than another's. A method cannot redefine a shared key.
- ``own`` adds the keys only this method has (its paper's sensitive options), each with its range and source.
- A key is an option of the method's Hyper (:mod:`bench.methods.hyper`) or one of the run's axes that a recipe
  chooses (:data:`AXIS_KEYS`: how the class enters G, and the training aids), each a row of the option table
  (:data:`bench.config.OPTIONS`) whose rule checks its values.

:func:`check_space` runs when a method registers (``register_method``), so that a misspelt key, a key the method
does not have, or a range its value rule refuses (an ``n_dis`` of 0: the Hyper field's rule; a ``g_cond`` the option
table's rule refuses, or any for BAGAN, whose class lives in its latent Gaussians (``class_input = "latent"``);
``lecam`` for a D without an adversarial logit: :meth:`Method.check_training_aids`) fails at import, in one line
naming the method, the key and the closest valid name. Which ``g_cond`` values a run can take also depends on its
backbone (biggan32 takes ``cbn`` only): a search grid checks that against the backbone each cell's run plan resolves
to when it loads (:func:`bench.search_grid.search_entries`).

A dimension maps a coordinate u in [0, 1) (a Sobol or a uniform random draw, :mod:`bench.tune.sampler`) to a value:
:class:`LogUniform` and :class:`Uniform` ranges round to two significant digits (values that read well in cell ids
and tables), :class:`Choice` picks the ⌊u·k⌋-th of its k values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.config import AXES, OPTIONS
from bench.errors import ConfigError, closest

AXIS_KEYS = ("g_cond", "regularizer", "augment")  # run axes (not Hyper options) a recipe chooses
assert all(key in AXES for key in AXIS_KEYS), "AXIS_KEYS must be grid axes of the option table (bench.config)"


def _two_digits(value: float) -> float:
    return float(f"{value:.2g}")


@dataclass(frozen=True)
class LogUniform:
    """Values spread evenly in log scale between ``low`` and ``high`` (both > 0), two significant digits."""

    low: float
    high: float
    source: str = ""

    def value(self, u: float) -> float:
        return _two_digits(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))

    def extremes(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def describe(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"

    def position(self, value: Any) -> float:
        """Where ``value`` lies on the dimension's own scale (log here), for sensitivities."""
        return math.log(float(value))

    def valid(self) -> bool:
        return 0 < self.low < self.high and all(math.isfinite(v) for v in (self.low, self.high))


@dataclass(frozen=True)
class Uniform:
    """Values spread evenly between ``low`` and ``high``, two significant digits."""

    low: float
    high: float
    source: str = ""

    def value(self, u: float) -> float:
        return _two_digits(self.low + u * (self.high - self.low))

    def extremes(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def describe(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"

    def position(self, value: Any) -> float:
        return float(value)

    def valid(self) -> bool:
        return self.low < self.high and all(math.isfinite(v) for v in (self.low, self.high))


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (each equally likely)."""

    values: tuple[Any, ...]
    source: str = ""

    def value(self, u: float) -> Any:
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]

    def extremes(self) -> tuple[Any, ...]:
        return self.values

    def describe(self) -> str:
        return "{" + ", ".join(value_text(v) for v in self.values) + "}"

    def position(self, value: Any) -> float:
        return float(value) if all(_is_number(v) for v in self.values) else math.nan

    def valid(self) -> bool:
        return len(self.values) >= 2 and len(set(map(repr, self.values))) == len(self.values)


Dimension = LogUniform | Uniform | Choice

LR_SOURCE = ("Adam learning rates of the methods' papers and codes: 5e-5 (BAGAN, Mariani et al. 2018; IDA-GAN), "
             "2e-4 (DCGAN, Radford et al. 2016; ECOGAN, ContraGAN, ReACGAN, EBGAN upstream), 4e-4 (SAGAN's TTUR D, "
             "Zhang et al. 2019); the range spans them and a factor 2.5 beyond the highest. G and D drawn apart "
             "(TTUR, Heusel et al. 2017)")
SHARED: dict[str, Dimension] = {
    "lr_g": LogUniform(5e-5, 1e-3, source=LR_SOURCE),
    "lr_d": LogUniform(5e-5, 1e-3, source=LR_SOURCE),
    "n_dis": Choice((1, 2, 3, 5), source="D steps per G step of the methods' codes: 1 (BAGAN, IDA-GAN), 2 (BigGAN, "
                                         "Brock et al. 2019), 5 (WGAN-GP, Gulrajani et al. 2017; ECOGAN, EBGAN, "
                                         "ContraGAN upstream); 3 between"),
    "cond_lambda": LogUniform(0.25, 8.0, source="the methods' own conditional weights: 0.5 (D2D-CE here), 1 (ECO, "
                                                "2C, ACGAN, IDA-GAN); 5 was the demo's hand-picked 2C weight; a "
                                                "factor 2 beyond both ends"),
    "temperature": LogUniform(0.1, 1.0, source="τ of the metric-learning losses: 1.0 (2C and ECO here), 0.5 "
                                               "(D2D-CE, Kang et al. 2021); down to a decade below"),
    "g_cond": Choice(("scale", "concat", "cbn"), source="how the class enters G: the paper's latent scale, input "
                                                       "concatenation (Mirza & Osindero 2014), class-conditional "
                                                       "BatchNorm (de Vries et al. 2017; Miyato & Koyama 2018); this "
                                                       "bench's conditioning grid compares them"),
    "regularizer": Choice(("none", "lecam"), source="LeCam (Tseng et al. 2021), the long-tail GAN literature's "
                                                    "regulariser for little data"),
    "augment": Choice(("none", "diffaug"), source="DiffAugment (Zhao et al. 2020), the long-tail GAN literature's "
                                                  "augmentation for little data"),
}


@dataclass(frozen=True)
class SearchSpace:
    """A method's search space: the :data:`SHARED` keys it searches and its own keys (see the module docstring)."""

    shared: tuple[str, ...] = ()
    own: Mapping[str, Dimension] = field(default_factory=dict)

    def dimensions(self) -> dict[str, Dimension]:
        """Key -> dimension, the shared keys first (in :data:`SHARED`'s order), then the method's own."""
        shared = {k: SHARED[k] for k in SHARED if k in self.shared}
        return {**shared, **self.own}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def value_text(v: Any) -> str:
    """An option value as a grid file and the tables write it (``true``, not ``True``)."""
    return str(v).lower() if isinstance(v, bool) else str(v)


def check_space(method: type) -> None:
    """A ConfigError (one line) unless ``method.search_space`` is a :class:`SearchSpace` whose keys are :data:`SHARED`
    keys (for ``shared``) or new ones (for ``own``), each an option of ``method.Hyper`` or an :data:`AXIS_KEYS` axis
    the method takes, and every value of each range (its ends, its choices) passes that option's rule."""
    name, space = method.name, getattr(method, "search_space", SearchSpace())
    where = f"method {name!r}: search space"
    if not isinstance(space, SearchSpace):
        raise ConfigError(f"{where} must be a SearchSpace, got {space!r}")
    options = [f.name for f in dataclasses.fields(method.Hyper)]
    for key in space.shared:
        if key not in SHARED:
            raise ConfigError(f"{where}: {key!r} is not a shared key{closest(key, list(SHARED))}; shared keys: "
                              f"{', '.join(SHARED)} (a key of the method's own goes under own=)")
    for key, dim in space.own.items():
        if key in SHARED:
            raise ConfigError(f"{where}: {key!r} is a shared key, which takes the same range for every method "
                              f"({SHARED[key].describe()}): name it in shared=, not own=")
        if not isinstance(dim, LogUniform | Uniform | Choice):
            raise ConfigError(f"{where}: {key} must be a LogUniform, Uniform or Choice, got {dim!r}")
        if not dim.valid():
            raise ConfigError(f"{where}: {key} = {dim!r} is not a range (low < high, log ranges > 0; choices: two or "
                              f"more distinct values)")
        if not dim.source:
            raise ConfigError(f"{where}: {key} has no source (the paper, code or practice its range comes from)")
    for key, dim in space.dimensions().items():
        if key not in options and key not in AXIS_KEYS:
            raise ConfigError(f"{where}: {key!r} is neither an option of {name} nor one of {', '.join(AXIS_KEYS)}"
                              f"{closest(key, [*options, *AXIS_KEYS])}; its options: {', '.join(options)}")
        for value in dim.extremes():
            problem = _refusal(method, key, value)
            if problem:
                raise ConfigError(f"{where}: {key} = {value_text(value)} ({dim.describe()}) is out of rule: {problem}")


def _refusal(method: type, key: str, value: Any) -> str | None:
    """Why ``method`` refuses ``key = value`` (None when it accepts it)."""
    if key in AXIS_KEYS:
        try:
            OPTIONS[key].check(value)  # the option table's rule (each backbone takes some of the g_conds)
            if key == "g_cond" and method.class_input != "generator":
                return (f"{method.name}'s G takes the class through its latent (class_input = "
                        f"{method.class_input!r}): leave g_cond out of its space")
            if key != "g_cond":
                method.check_training_aids(value if key == "regularizer" else "none",
                                           value if key == "augment" else "none")
        except ConfigError as err:
            return str(err)
        return None
    rule = next(f for f in dataclasses.fields(method.Hyper) if f.name == key).metadata.get("rule")
    return None if rule is None or rule.accepts(value) else f"expected {rule.expected}"


def describe_spaces(methods: list[type]) -> str:
    """The search spaces of ``methods`` for ``bench list methods``: one line per method naming its keys (its own keys
    with their ranges and sources), then each shared key's range and source once."""
    lines = ["search spaces (bench tune; shared keys take one range for every method, listed below):"]
    width = max(len(m.name) for m in methods) if methods else 0
    used: list[str] = []
    for method in methods:
        space = getattr(method, "search_space", SearchSpace())
        dims = space.dimensions()
        shared = [k for k in dims if k in SHARED]
        used += [k for k in shared if k not in used]
        own = [f"{k} {d.describe()} ({d.source})" for k, d in dims.items() if k not in SHARED]
        text = ", ".join(shared) if dims else "none declared"
        lines.append(f"  {method.name:<{width}}  {text}{'; own: ' + '; '.join(own) if own else ''}")
    key_width = max((len(k) for k in used), default=0)
    lines.append("shared keys:")
    lines += [f"  {k:<{key_width}}  {SHARED[k].describe():<26}  {SHARED[k].source}" for k in SHARED if k in used]
    return "\n".join(lines)
