"""Method hyperparameters: ``Hyper`` dataclass fields that carry their own value rule, and their resolution.

A method declares its options as a dataclass whose fields are made with :func:`option`, which attaches a
``bench.rules.Rule`` (what values are valid and how the expectation reads in an error). :func:`resolve` builds the
full, checked Hyper of one run in one place, later wins:

    the Hyper's defaults  <  the backbone's recipe (``Method.backbone_recipe``)  <  the run's options

An option given as None means "the recipe's value" and is dropped. An unknown option, or a value its rule
rejects, is a ConfigError naming the method, the key and (for an unknown key) the closest option.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bench.errors import ConfigError, closest
from bench.rules import (  # the rules a Hyper's fields use, from the one vocabulary of value rules
    BETAS,
    COUNT,
    EMA_DECAY,
    FLAG,
    MARGIN,
    NON_NEGATIVE,
    POSITIVE,
    STEP,
    Rule,
    choice,
    int_range,
)

__all__ = ["BETAS", "COUNT", "EMA_DECAY", "FLAG", "MARGIN", "NON_NEGATIVE", "POSITIVE", "STEP", "Rule", "check",
           "check_keys", "choice", "int_range", "option", "option_names", "resolve", "restore", "to_json"]


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


def restore(method: str, hyper: type, values: Mapping[str, Any]) -> Any:
    """A Hyper as a run plan saved it (:func:`to_json`), rebuilt as it was: no defaults or recipe merged in, every
    value checked against its rule again (a config.json edited by hand is refused in one line)."""
    check_keys(method, hyper, values)
    missing = [name for name in option_names(hyper) if name not in values]
    if missing:
        raise ConfigError(f"method {method!r}: the saved hyperparameters lack {', '.join(missing)} (saved by another "
                          f"version of the method)")
    return check(method, hyper(**values))
