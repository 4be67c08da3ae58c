"""--seeds N and [[claims]] in grid files."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.errors import ConfigError
from bench.grid import load_grid


def test_seeds_repeat_every_cell_and_keep_the_paper_numbers():
    grid = load_grid("table3")
    one = grid.cells()
    three = grid.cells(overrides={"seed": [0, 1, 2]})
    assert len(three) == 3 * len(one)
    assert {c.id.replace("-s0", "") for c in one} == {c.id.replace(f"-s{c.axes['seed']}", "") for c in three}
    by_id = {c.id: c for c in three}
    for cell in one:
        for seed in (1, 2):
            twin = by_id[cell.id.replace("-s0", f"-s{seed}")]
            assert twin.axes["seed"] == seed and twin.config.seed == seed and twin.paper == cell.paper


def test_seeds_and_seed_together_are_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["run", "--grid", "demo", "--seeds", "2", "--seed", "1", "--dry-run",
                                       "--results-root", str(tmp_path)])
    assert result.exit_code == 2 and "either --seed or --seeds" in result.output


def test_a_claim_with_an_unknown_kind_or_missing_rows_is_rejected(tmp_path):
    base = 'description = "x"\n[[cells]]\ndataset = "digits_lt"\nmethod = "ecogan"\n'
    bad_kind = tmp_path / "kind.toml"
    bad_kind.write_text(base + '[[claims]]\nid = "c"\ntext = "t"\nkind = "lesser"\n')
    with pytest.raises(ConfigError, match="kind = 'lesser' is not one of"):
        load_grid(bad_kind)
    no_rows = tmp_path / "rows.toml"
    no_rows.write_text(base + '[[claims]]\nid = "c"\ntext = "t"\nkind = "less"\nbetter = { method = "ecogan" }\n')
    with pytest.raises(ConfigError, match="needs 'worse'"):
        load_grid(no_rows)
