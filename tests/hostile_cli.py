"""The hostile-input test helper shared by the test folders: run ``bench ...`` in this process through click's
CliRunner and fail on any Python traceback, so that every bad input is shown as one line (issues 11 and 21)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bench.cli import main


def bench(*args: str | Path):
    """Run ``bench ARGS`` in this process; the result has separate stdout and stderr."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"bench {' '.join(map(str, args))} raised {result.exception!r}\n{result.output}")
    return result


def error_line(result) -> str:
    """The one error line on stderr (the test fails on anything longer)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]
