"""Issue 11: the bad inputs and faults a hostile user found. Each test runs the row's command through the CLI
(click's CliRunner, the stub train function) and checks the one-line error (or the fixed behaviour), and
that no Python traceback reaches the user."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import re
import shlex
import stat
from pathlib import Path

import pytest
from gridstub import STUB_IDS
from hostile_cli import bench, error_line

from bench.cli import parse_set
from bench.errors import ConfigError, WriteError
from bench.executors.progress import ProgressBoard
from bench.grid import make_cell_id
from bench.metrics.cache import atomic_save
from bench.plan import make_plan
from bench.run.folder import append_rows, atomic_write_bytes, atomic_write_text
from bench.run.locks import CellLock
from bench.scheduler import run_grid

SMOKE_RUN = ("run", "--dataset", "digits_lt", "--method", "ecogan", "--scale", "smoke")


def read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Make writes under ``root`` fail with EACCES, as on a read-only folder (tests run as root, which ignores
    chmod): os.open/mkdir/replace/link/unlink and open() in a writing mode."""
    root = str(Path(root).resolve())

    def under(path) -> bool:
        return str(Path(os.fspath(path)).resolve()).startswith(root)

    def deny(path):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))

    def guard(real, writes=lambda *a, **k: True):
        def wrapped(path, *args, **kwargs):
            if isinstance(path, str | os.PathLike) and under(path) and writes(*args, **kwargs):
                deny(path)
            return real(path, *args, **kwargs)
        return wrapped

    writing_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    monkeypatch.setattr(os, "open", guard(os.open, lambda flags, *a, **k: bool(flags & writing_flags)))
    for name in ("mkdir", "unlink", "rmdir"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))
    for name in ("replace", "rename", "link"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda src, dst, *a, _real=real, **k:
                            deny(dst) if under(dst) or under(src) else _real(src, dst, *a, **k))

    def writes_mode(mode="r", *args, **kwargs):
        return any(c in mode for c in "wax+")

    for module in (builtins, io):
        monkeypatch.setattr(module, "open", guard(module.open, writes_mode))


def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every os.write fails with ENOSPC, as on a full disk (bench's writers all go through os.write)."""

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)


# -- row 6: booleans are not integers ---------------------------------------------------------------
def test_row6_set_steps_true_is_refused(stub, results):
    assert parse_set(["steps=true"]) == {"steps": True}
    with pytest.raises(ConfigError, match="steps must be a positive integer, got True"):
        make_plan({"dataset": "digits_lt", "method": "ecogan"}, "smoke", overrides={"steps": True})
    for key in ("seed", "batch_size", "max_per_class", "num_eval_samples", "pretrain_epochs"):
        with pytest.raises(ConfigError, match=key):
            make_plan({"dataset": "digits_lt", "method": "ecogan"}, "smoke", overrides={key: False})
    result = bench(*SMOKE_RUN, "--set", "steps=true", "--results-root", results)
    assert result.exit_code == 2 and "steps must be a positive integer, got True" in error_line(result)
    assert not results.exists()  # refused before anything was written


# -- row 7: read-only results and reports roots ---------------------------------------------------------
def test_row7_read_only_results_root_is_one_line_and_a_finished_grid_needs_no_write(stub, stub_grid, results,
                                                                                  monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    with monkeypatch.context() as patch:
        read_only(patch, ro)
        result = bench("run", "--grid", stub_grid, "--results-root", ro)
    assert result.exit_code == 2
    line = error_line(result)
    assert str(ro) in line and "Permission denied" in line

    assert bench("run", "--grid", stub_grid, "--results-root", results).exit_code == 0
    assert bench("gather", "--grid", stub_grid, "--results-root", results).exit_code == 0
    with monkeypatch.context() as patch:
        read_only(patch, results)
        again = bench("run", "--grid", stub_grid, "--results-root", results)
        assert again.exit_code == 0, again.output
        assert all(re.search(rf"^{cell}\s+skipped", again.stdout, re.M) for cell in STUB_IDS), again.stdout
        reports = tmp_path / "reports"
        read_only(patch, reports)
        report = bench("report", "--grid", "stubgrid", "--results-root", results, "--reports-root", reports)
    assert report.exit_code == 2
    assert str(reports) in error_line(report) and "Permission denied" in error_line(report)


# -- row 8: a full disk ---------------------------------------------------------------------------------
def test_row8_full_disk_names_the_path_and_leaves_no_lock(stub, results, monkeypatch):
    with monkeypatch.context() as patch:
        full_disk(patch)
        first = bench(*SMOKE_RUN, "--results-root", results)
    assert first.exit_code == 2
    assert f"cannot write {results / 'adhoc-smoke' / 'grid.json'}: No space left on device" in error_line(first)
    assert bench(*SMOKE_RUN, "--results-root", results).exit_code == 0
    lock = results / "adhoc-smoke" / ".locks" / "digits_lt-ecogan-none-s0.lock"
    with monkeypatch.context() as patch:
        full_disk(patch)
        assert bench(*SMOKE_RUN, "--results-root", results).exit_code == 0  # done: skipped, nothing written
        again = bench(*SMOKE_RUN, "--results-root", results, "--force-restart")
    assert again.exit_code == 2
    assert f"cannot write the lock {lock}: No space left on device" in error_line(again)
    assert not lock.exists() and not list(lock.parent.glob(".*.tmp"))
    # with space again the same command runs at once (no 5-minute wait on a lock nobody holds)
    assert bench(*SMOKE_RUN, "--results-root", results, "--force-restart").exit_code == 0


def test_row8_writers_name_the_path_on_a_full_disk_and_keep_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "status.json"
    target.write_text("old")
    csv_path = tmp_path / "metrics.csv"
    with monkeypatch.context() as patch:
        full_disk(patch)
        with pytest.raises(WriteError, match=rf"cannot write {target}: No space left on device"):
            atomic_write_text(target, "new")
        with pytest.raises(WriteError, match=rf"cannot write {csv_path}: No space left"):
            append_rows(csv_path, [{"step": 1, "fid": 2.0}])
        with pytest.raises(WriteError, match=r"cannot write the lock .*c\.lock: No space left"):
            CellLock(tmp_path / "c.lock").acquire()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv", "status.json"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]
    assert not (tmp_path / "c.lock").exists()


# -- row 13: atomic writes honour the umask -------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_row13_atomic_writes_honour_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        atomic_save({"x": 1}, tmp_path / "cache" / "c.pt")
        with open(tmp_path / "plain", "w") as fh:
            fh.write("x")
        lock = CellLock(tmp_path / "c.lock")
        assert lock.acquire()
        modes = {name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.bin", "cache/c.pt", "c.lock")}
        lock.release()
    finally:
        os.umask(previous)
    plain = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert plain == 0o666 & ~umask
    assert modes == dict.fromkeys(modes, plain)


def test_row13_cli_run_files_have_the_umask_mode(stub, results):
    previous = os.umask(0o022)
    try:
        assert bench(*SMOKE_RUN, "--results-root", results).exit_code == 0
    finally:
        os.umask(previous)
    run_dir = results / "adhoc-smoke" / "digits_lt-ecogan-none-s0"
    for name in ("status.json", "config.json"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o644, name
    assert json.loads((run_dir / "status.json").read_text())["state"] == "done"


# -- row 5: folder datasets' cell ids cannot collide ----------------------------------------------------
def test_row5_unicode_folder_names_get_distinct_ids(stub, results, tmp_path):
    first, second = tmp_path / "Ünïcode set", tmp_path / "Ønøcode set"
    ids = [make_cell_id({"dataset": f"folder:{p}", "method": "ecogan"}) for p in (first, second)]
    assert ids[0] != ids[1]
    assert re.fullmatch(r"folder_Unicode_set_[0-9a-f]{8}-ecogan-none-s0", ids[0]), ids[0]
    assert ids[0] == make_cell_id({"dataset": f"folder:{first}", "method": "ecogan"})  # stable
    assert make_cell_id({"dataset": "digits_lt", "method": "ecogan"}) == "digits_lt-ecogan-none-s0"  # unchanged
    for path in (first, second):
        result = bench("run", "--dataset", f"folder:{path}", "--method", "ecogan", "--scale", "smoke",
                       "--results-root", results)
        assert result.exit_code == 0, result.output
    again = bench("run", "--dataset", f"folder:{second}", "--method", "ecogan", "--scale", "smoke",
                  "--results-root", results, "--force-restart")
    assert again.exit_code == 0
    for cell_id, path in zip(ids, (first, second), strict=True):
        config = json.loads((results / "adhoc-smoke" / cell_id / "config.json").read_text())["config"]
        assert config["dataset"] == f"folder:{path}"
    assert not (results / "adhoc-smoke" / ids[0] / "_previous").exists()  # the first run was left alone


# -- row 14: Ctrl-C ---------------------------------------------------------------------------------------
def test_row14_ctrl_c_on_a_single_run_exits_130_and_says_interrupted(stub, results, monkeypatch):
    monkeypatch.setenv("BENCH_STUB_INTERRUPT_AT", "digits_lt-ecogan-none-s0:3")
    result = bench(*SMOKE_RUN, "--results-root", results)
    assert result.exit_code == 130
    assert "Aborted!" not in result.output
    assert "digits_lt-ecogan-none-s0: interrupted at step 2/4; run the same command again to resume" in result.stderr
    assert not (results / "adhoc-smoke" / ".locks" / "digits_lt-ecogan-none-s0.lock").exists()
    monkeypatch.delenv("BENCH_STUB_INTERRUPT_AT")
    assert bench(*SMOKE_RUN, "--results-root", results).exit_code == 0  # resumes


def test_row14_a_grid_lists_unfinished_cells_as_interrupted(stub, stub_grid, results, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_STUB_INTERRUPT_AT", f"{STUB_IDS[1]}:2")
    summary = run_grid(stub_grid, results_root=results, executor="inline")
    assert summary.exit_code == 130
    states = {r.cell: r.state for r in summary.results}
    assert states == {STUB_IDS[0]: "done", **{c: "interrupted" for c in STUB_IDS[1:]}}
    out = capsys.readouterr().out
    assert re.search(rf"^{STUB_IDS[1]}\s+interrupted", out, re.M) and "skipped" not in out


# -- row 10: ad-hoc runs gather and report like a grid; advice works when typed ---------------------------
def advised(message: str) -> list[list[str]]:
    """The `bench ...` commands an error message advises, as argument lists."""
    return [shlex.split(cmd)[1:] for cmd in re.findall(r"`(bench [^`]+)`", message)]


def test_row10_ad_hoc_runs_are_gathered_and_reported(stub, results, tmp_path):
    for method in ("ecogan", "reacgan"):
        run = bench("run", "--dataset", "digits_lt", "--method", method, "--scale", "smoke", "--results-root", results)
        assert run.exit_code == 0, run.output
    manifest = json.loads((results / "adhoc-smoke" / "grid.json").read_text())
    assert {c["id"] for c in manifest["cells"]} == {"digits_lt-ecogan-none-s0", "digits_lt-reacgan-none-s0"}
    for grid_args in (["--grid", "adhoc-smoke"], ["--grid", "adhoc", "--scale", "smoke"]):
        gathered = bench("gather", *grid_args, "--results-root", results)
        assert gathered.exit_code == 0, gathered.output
        assert bench("status", *grid_args, "--results-root", results).exit_code == 0
    rows = (results / "adhoc-smoke.csv").read_text().splitlines()
    assert any("digits_lt-reacgan-none-s0" in row for row in rows[1:])
    report = bench("report", "--grid", "adhoc-smoke", "--results-root", results, "--reports-root", tmp_path / "rep")
    assert report.exit_code == 0, report.output
    assert (tmp_path / "rep" / "adhoc-smoke").is_dir()


@pytest.mark.parametrize("command", [["gather", "--grid", "adhoc-smoke"], ["report", "--grid", "adhoc-smoke"],
                                     ["gather", "--grid", "stubgrid-paper"], ["report", "--grid", "demo"]])
def test_row10_every_advice_in_an_error_works_when_typed(stub, stub_grid, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)  # a grid named by its key, as the user would: stubgrid.toml is here
    (tmp_path / "stubgrid.toml").write_text(stub_grid.read_text())
    if command[2] == "stubgrid-paper":
        command = ["gather", "--grid", "stubgrid.toml", "--scale", "paper"]
    root = tmp_path / "elsewhere"  # not the default results root: the advice must say so
    failed = bench(*command, "--results-root", root, *(["--reports-root", tmp_path / "rep"]
                                                       if command[0] == "report" else []))
    assert failed.exit_code == 2
    steps = advised(error_line(failed))
    assert steps, error_line(failed)
    for step in steps:
        if step[0] == "run" and "--grid" in step:
            step += ["--only", "seed=0"] if "stubgrid" in " ".join(step) else ["--only", "method=ecogan"]
        done = bench(*step)
        assert done.exit_code == 0, (step, done.output)
    again = bench(*command, "--results-root", root, *(["--reports-root", tmp_path / "rep"]
                                                      if command[0] == "report" else []))
    assert again.exit_code == 0, again.output


# -- row 9: a [budget] the scale does not apply is named -------------------------------------------------
def test_row9_budget_at_scale_smoke_is_not_silently_ignored(stub, results, tmp_path):
    grid = tmp_path / "mine.toml"
    grid.write_text('description = "my grid"\nscale = "smoke"\n[budget]\nsteps = 3\n'
                    '[axes]\ndataset = ["digits_lt"]\nmethod = ["ecogan"]\n', encoding="utf-8")
    result = bench("run", "--grid", grid, "--dry-run", "--results-root", results)
    assert result.exit_code == 0
    assert ("[budget] steps=3 (the smoke scale gives every method 20 D updates) applies at scale paper only; "
            "scale smoke takes its own "
            "budget (use --set KEY=VALUE to set a key at any scale)") in result.stderr
    assert re.search(r"digits_lt-ecogan-none-s0\s+\S.*\s4\s", result.stdout)  # the order is as documented
    ran = bench("run", "--grid", grid, "--set", "steps=3", "--results-root", results)
    assert ran.exit_code == 0
    status = json.loads((results / "mine" / "digits_lt-ecogan-none-s0" / "status.json").read_text())
    assert status["steps"] == 3
    quiet = bench("run", "--grid", grid, "--scale", "paper", "--dry-run", "--results-root", results)
    assert "applies at scale paper only" not in quiet.stderr


# -- rows 11 and 12: the README documents grid files and what is bit-exact ----------------------------------
README = Path(__file__).parents[2] / "README.md"


def test_row11_own_grid_files_are_documented_with_an_example_that_loads(tmp_path, stub, results):
    text = README.read_text(encoding="utf-8")
    assert "bench run --grid path/mine.toml" in text
    help_text = bench("run", "--help").stdout
    assert "--grid path/mine.toml" in " ".join(help_text.split())
    section = text[text.index("## Your own grid"):]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    (tmp_path / "mine.toml").write_text(example, encoding="utf-8")
    listing = bench("run", "--grid", tmp_path / "mine.toml", "--dry-run", "--results-root", results)
    assert listing.exit_code == 0 and "8 cells" in listing.stdout, listing.output


def test_row12_readme_says_what_is_bit_exact():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### What is bit-exact"):]
    for phrase in ("thread", "--workers 2", "OMP_NUM_THREADS", '"threads"', "GPU"):
        assert phrase in section, phrase


# -- row 15: progress with several workers ---------------------------------------------------------------
def test_row15_two_workers_show_one_live_line_each_with_step_rate_and_eta(stub, stub_grid, results, monkeypatch,
                                                                           capfd):
    monkeypatch.setenv("BENCH_STUB_STEP_SLEEP", "1.2")  # the bar's file is rewritten about once a second
    monkeypatch.setenv("BENCH_PROGRESS_EVERY_S", "0.5")  # not a terminal: a block of lines this often
    summary = run_grid(stub_grid, results_root=results, executor="local", workers=2, only="seed=0")
    assert summary.exit_code == 0
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if re.match(r"\[[12]\] ", ln)]
    for slot, cell in ((1, "digits_lt-ecogan-none-s0"), (2, "digits_lt-reacgan-none-s0")):
        shown = [ln for ln in lines if ln.startswith(f"[{slot}] ") and cell in ln]
        assert any(re.search(r"\b[1-3]/4 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+s/it\]", ln) for ln in shown), err
    assert not list((results / "stubgrid" / ".logs").glob("*.progress"))  # cleaned up


def test_row15_progress_board_redraws_in_place_on_a_terminal(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    (tmp_path / "a").write_text("ecogan a:  50%|#####     | 2/4 [00:02<00:02,  1.00it/s]\n")
    screen = Terminal()
    board = ProgressBoard(screen, interval=0)
    board.update([(0, "a", tmp_path / "a"), (1, "b", tmp_path / "missing")])
    board.update([(0, "a", tmp_path / "a")], force=True)
    board.clear()
    text = screen.getvalue()
    assert "[1] ecogan a:  50%" in text and "[2] b: starting" in text
    assert text.count("\x1b[2F\x1b[J") == 1 and text.endswith("\x1b[1F\x1b[J")


def test_row8_locks_without_hard_links_are_still_whole(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    lock = CellLock(tmp_path / "c.lock")
    assert lock.acquire()
    assert json.loads((tmp_path / "c.lock").read_text())["token"] == lock.token
    assert not CellLock(tmp_path / "c.lock").acquire()  # still exclusive
    lock.release()
    with monkeypatch.context() as patch:
        full_disk(patch)
        with pytest.raises(WriteError, match="No space left"):
            CellLock(tmp_path / "c.lock").acquire()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no empty lock left


def test_row8_full_disk_fails_each_cell_with_one_line_and_the_grid_goes_on(stub, stub_grid, results, monkeypatch,
                                                                          capfd):
    assert run_grid(stub_grid, results_root=results, executor="inline", only="seed=0").exit_code == 0
    with monkeypatch.context() as patch:
        full_disk(patch)
        summary = run_grid(stub_grid, results_root=results, executor="inline")  # grid.json unchanged: no write
    states = {r.cell: (r.state, r.error) for r in summary.results}
    assert summary.exit_code == 1
    for cell in ("digits_lt-ecogan-none-s1", "digits_lt-reacgan-none-s1"):
        state, error = states[cell]
        assert state == "failed" and error.startswith("cannot write the lock ") and "No space left" in error
    assert states["digits_lt-ecogan-none-s0"][0] == "skipped"
    assert "Traceback" not in capfd.readouterr().err
