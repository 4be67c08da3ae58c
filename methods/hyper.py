"""Method hyperparameters: ``Hyper`` dataclass fields that carry their own value rule, and their resolution.

A method declares its options as a dataclass whose fields are made with :func:`option`, which attaches a
:class:`Rule` (what values are valid and how the expectation reads in an error). :func:`resolve` builds the
full, checked Hyper of one run in one place, later wins:

    the Hyper's defaults  <  the backbone's recipe (``Method.backbone_recipe``)  <  the run's options

An option given as None means "the recipe's value" and is dropped. An unknown option, or a value its rule
rejects, is a ConfigError naming the method, the key and (for an unknown key) the closest option.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError, closest


@dataclass(frozen=True)
class Rule:
    """What values an option accepts (``accepts``), in words (``expected``), and how an accepted value is stored
    (``normalise``, e.g. a JSON list to a tuple)."""

    accepts: Callable[[Any], bool]
    expected: str
    normalise: Callable[[Any], Any] = lambda v: v


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


POSITIVE = Rule(lambda v: _number(v) and v > 0, "a number > 0")
NON_NEGATIVE = Rule(lambda v: _number(v) and v >= 0, "a number >= 0")
COUNT = Rule(lambda v: _integer(v) and v >= 1, "an integer >= 1")
STEP = Rule(lambda v: _integer(v) and v >= 0, "an integer >= 0")
EMA_DECAY = Rule(lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1) (0 = no EMA)")
MARGIN = Rule(lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]")
BETAS = Rule(lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(_number(b) and 0 <= b < 1 for b in v),
             "two numbers in [0, 1), e.g. [0.5, 0.999]", tuple)
FLAG = Rule(lambda v: isinstance(v, bool), "true or false")


def choice(*values: str) -> Rule:
    """A rule accepting exactly ``values``."""
    return Rule(lambda v: v in values, " or ".join(repr(v) for v in values))


def int_range(low: int, high: int) -> Rule:
    """A rule accepting integers in ``low..high``."""
    return Rule(lambda v: _integer(v) and low <= v <= high, f"an integer in {low}..{high}")


def option(default: Any, rule: Rule | None = None) -> Any:
    """A Hyper field with ``default`` and the value ``rule`` that :func:`check` applies (None: any value)."""
    return dataclasses.field(default=default, metadata={"rule": rule})


def option_names(hyper: type) -> list[str]:
    """The option names of a Hyper dataclass, in declaration order."""
    return [f.name for f in dataclasses.fields(hyper)]


def check(method: str, hp: Any) -> Any:
    """``hp`` with every value checked against its field's rule and normalised (pairs as tuples); a bad value is a
    ConfigError naming the method, the option and the value. None passes (a recipe value still to come)."""
    changes = {}
    for f in dataclasses.fields(hp):
        rule, value = f.metadata.get("rule"), getattr(hp, f.name)
        if rule is None or value is None:
            continue
        if not rule.accepts(value):
            raise ConfigError(f"method {method!r}: option {f.name} = {value!r} is invalid; expected {rule.expected}")
        changes[f.name] = rule.normalise(value)
    return dataclasses.replace(hp, **changes)


def check_keys(method: str, hyper: type, options: Mapping[str, Any]) -> None:
    """A ConfigError for the first key of ``options`` that is not an option of ``hyper``, naming the closest."""
    names = option_names(hyper)
    for key in options:
        if key not in names:
            raise ConfigError(f"method {method!r} has no option {key!r}{closest(key, names)}; "
                              f"options: {', '.join(names) or '(none)'}")


def resolve(method: str, hyper: type, recipe: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
    """The full Hyper of a run: ``hyper``'s defaults < ``recipe`` < ``options`` (None options dropped), checked."""
    check_keys(method, hyper, options)
    names = set(option_names(hyper))
    values = {k: v for k, v in recipe.items() if k in names}
    values.update({k: v for k, v in options.items() if v is not None})
    return check(method, hyper(**values))


def to_json(hp: Any) -> dict[str, Any]:
    """A Hyper as a JSON-ready dict (tuples as lists), as config.json stores and the config hash reads it."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(hp).items()}
