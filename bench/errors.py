"""User-facing errors.

Anything a user can cause (a bad name, a missing file, a malformed grid) raises a subclass of
:class:`BenchError` with a one-line message that names the thing at fault. The CLI shows the message
without a traceback; ``assert`` stays for internal invariants only.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchError(Exception):
    """An error caused by the user's input or environment, with a message meant to be read."""


class ConfigError(BenchError):
    """A bad configuration value, key, name or file."""


class DataNotFoundError(BenchError):
    """A dataset (or weights file) is not on disk and cannot be downloaded here."""


class WriteError(BenchError):
    """A file or folder could not be written: no permission, a read-only file system, a full disk."""


def write_error(path: object, err: OSError) -> WriteError:
    """A WriteError naming ``path`` (the file bench meant to write; ``err.filename`` when the OS names
    another, such as a folder it could not create) and the OS's reason, in one line."""
    where = err.filename if getattr(err, "filename", None) else path
    reason = err.strerror or one_line(err)
    return WriteError(f"cannot write {where}: {reason}")


class RunFailed(BenchError):
    """A training run stopped on purpose (non-finite loss, ...); the run folder says why."""


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest choice, or '' if none is close."""
    match = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> ConfigError:
    """A ConfigError for an unknown registry name, listing the known names and the closest one."""
    choices = sorted(choices)
    return ConfigError(f"unknown {kind} {name!r}{closest(name, choices)}; known: {', '.join(choices)}")


def check(condition: bool, message: str, error: type[BenchError] = ConfigError) -> None:
    """Raise ``error(message)`` unless ``condition`` holds (a uniform one-line check)."""
    if not condition:
        raise error(message)


def one_line(err: BaseException) -> str:
    """An error as one line: a BenchError's own message, otherwise ``Type: first line``."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, BenchError) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
