"""``bench run --grid FILE --dry-run`` rejects a misspelt name before anything runs: one line naming the cell, the
key and the closest registered name (the names are looked up in their registries and the method's options
resolved while the grid expands)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import main


def dry_run(tmp_path: Path, axes: str, settings: str = "") -> tuple[int, str, str]:
    """Write a one-cell grid (the given ``[axes]`` lines) and dry-run it: (exit code, the error line, stdout)."""
    grid = tmp_path / "typo.toml"
    grid.write_text(f'description = "a grid with a typo"\nscale = "cpu"\n{settings}[axes]\n{axes}\n',
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "--grid", str(grid), "--dry-run", "--results-root",
                                       str(tmp_path / "results")])
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) <= 1 and "Traceback" not in result.output, result.output
    return result.exit_code, errors[0] if errors else "", result.stdout


@pytest.mark.parametrize(("axes", "settings", "cell", "key", "closest"), [
    ('dataset = ["digits_lt"]\nmethod = ["ecogn"]', "", "digits_lt-ecogn-none-s0", "method", "'ecogan'"),
    ('dataset = ["digits_ltt"]\nmethod = ["ecogan"]', "", "digits_ltt-ecogan-none-s0", "dataset", "'digits_lt'"),
    ('dataset = ["digits_lt"]\nmethod = ["ecogan"]\nbackbone = ["bigan32"]', "", "digits_lt-ecogan-none-s0-bigan32",
     "backbone", "'biggan32'"),
    ('dataset = ["digits_lt"]\nmethod = ["ecogan"]\nmethod_options = [{lr_gg = 1e-4}]', "",
     "digits_lt-ecogan-none-s0-lr_gg0.0001", "option", "'lr_g'"),
])
def test_dry_run_rejects_a_misspelt_name_in_one_line(tmp_path, axes, settings, cell, key, closest):
    code, error, stdout = dry_run(tmp_path, axes, settings)
    assert code != 0 and stdout == ""
    assert f"cell {cell}:" in error, error
    assert key in error and f"(did you mean {closest}?)" in error, error
    assert not (tmp_path / "results").exists()  # nothing ran, nothing was written


def test_dry_run_rejects_a_bad_option_value_and_a_misspelt_extractor(tmp_path):
    code, error, _ = dry_run(tmp_path, 'dataset = ["digits_lt"]\nmethod = ["bagan"]\n'
                                       'method_options = [{betas = [0.5, 1.5]}]')
    assert code != 0 and "option betas = [0.5, 1.5] is invalid; expected two numbers in [0, 1)" in error, error
    code, error, _ = dry_run(tmp_path, 'dataset = ["digits_lt"]\nmethod = ["ecogan"]', '[settings]\n'
                                       'extractor = "clasifier"\n')
    assert code != 0 and "extractor: unknown feature extractor 'clasifier' (did you mean 'classifier'?)" in error


def test_dry_run_of_correct_names_lists_the_cells(tmp_path):
    code, error, stdout = dry_run(tmp_path, 'dataset = ["digits_lt"]\nmethod = ["ecogan", "bagan"]\n'
                                            'backbone = ["dcgan64"]')
    assert code == 0 and error == "", error
    assert "digits_lt-ecogan-none-s0" in stdout and "digits_lt-bagan-none-s0" in stdout
