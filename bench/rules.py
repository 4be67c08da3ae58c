"""Value rules: what values an option accepts, said once and in words.

A :class:`Rule` answers whether a value is valid (``accepts``), says what it expects (``expected``, for the one-line
error) and how an accepted value is stored (``normalise``, e.g. a JSON list to a tuple). The run options
(``bench.config``) and the methods' hyperparameters (``bench.methods.hyper``) take their rules from here, so that
``--set bf16=False`` and ``--set method_options.lr_g=-1`` are refused the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """What values an option accepts (``accepts``), in words (``expected``), how an accepted value is stored
    (``normalise``) and, for an enumeration, its values (``choices``: the CLI offers them and an error names the
    closest)."""

    accepts: Callable[[Any], bool]
    expected: str
    normalise: Callable[[Any], Any] = lambda v: v
    choices: tuple[Any, ...] | None = None


def is_number(v: Any) -> bool:
    """A finite int or float that is not a bool (JSON's ``true`` parses to True, which Python counts as 1)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def is_integer(v: Any) -> bool:
    """An int that is not a bool."""
    return isinstance(v, int) and not isinstance(v, bool)


ANY = Rule(lambda v: True, "any value")
POSITIVE = Rule(lambda v: is_number(v) and v > 0, "a number > 0")
NON_NEGATIVE = Rule(lambda v: is_number(v) and v >= 0, "a number >= 0")
COUNT = Rule(lambda v: is_integer(v) and v >= 1, "an integer >= 1")
STEP = Rule(lambda v: is_integer(v) and v >= 0, "an integer >= 0")
EMA_DECAY = Rule(lambda v: is_number(v) and 0 <= v < 1, "a number in [0, 1) (0 = no EMA)")
MARGIN = Rule(lambda v: is_number(v) and 0 < v <= 1, "a number in (0, 1]")
BETAS = Rule(lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(is_number(b) and 0 <= b < 1 for b in v),
             "two numbers in [0, 1), e.g. [0.5, 0.999]", tuple)
FLAG = Rule(lambda v: isinstance(v, bool), "true or false")
NAME = Rule(lambda v: isinstance(v, str) and v != "", "a non-empty string")
POSITIVE_INT = Rule(lambda v: is_integer(v) and v >= 1, "a positive integer")
NON_NEGATIVE_INT = Rule(lambda v: is_integer(v) and v >= 0, "a non-negative integer")
OPTIONS_TABLE = Rule(lambda v: isinstance(v, dict), "a table of options (a JSON object)", dict)


def choice(*values: Any) -> Rule:
    """A rule accepting exactly ``values`` (a bool is not the integer 1 or 0 here)."""
    def accepts(v: Any) -> bool:
        return any(v == x and isinstance(v, bool) == isinstance(x, bool) for x in values)

    return Rule(accepts, " or ".join(repr(v) for v in values), choices=tuple(values))


def int_range(low: int, high: int) -> Rule:
    """A rule accepting integers in ``low..high``."""
    return Rule(lambda v: is_integer(v) and low <= v <= high, f"an integer in {low}..{high}")


def at_least(low: int, why: str = "") -> Rule:
    """A rule accepting integers >= ``low`` (``why`` says why in the message)."""
    return Rule(lambda v: is_integer(v) and v >= low, f"an integer >= {low}{f' ({why})' if why else ''}")


def or_null(rule: Rule) -> Rule:
    """``rule``, or None (JSON null: "the default")."""
    choices = (*rule.choices, None) if rule.choices is not None else None
    return Rule(lambda v: v is None or rule.accepts(v), f"{rule.expected} or null",
                lambda v: v if v is None else rule.normalise(v), choices)


def list_of(rule: Rule) -> Rule:
    """A non-empty list whose items each pass ``rule`` (an enumeration's values listed)."""
    return Rule(lambda v: isinstance(v, list | tuple) and len(v) > 0 and all(rule.accepts(x) for x in v),
                f"a non-empty list of {rule.expected}", list, rule.choices)
