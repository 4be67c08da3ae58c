"""The ``bench`` command line. It only parses arguments and calls the library; every user error is a
BenchError, shown as one line without a traceback."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from bench.config import choices
from bench.errors import BenchError, ConfigError, one_line

SCALES = choices("scale")


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parse ``--set key=value`` items; values are read as JSON when they parse (numbers, true, lists, objects), else
    kept as text. The plan checks each against its option's rule (``--set bf16=False`` is text, and refused)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


RESULTS_ROOT = click.option(
    "--results-root", type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("BENCH_RESULTS", "results"), show_default="$BENCH_RESULTS or ./results",
    help="Folder that holds results/<grid>/<cell>/ run folders and the gathered <grid>.csv.")
DATA_ROOT = click.option(
    "--data-root", type=click.Path(file_okay=False), default=None,
    help="Where datasets live (and are downloaded to). Default: $BENCH_DATA or ./data.")


class BenchGroup(click.Group):
    """Turns BenchError into a clean one-line message and exit code 2; so too an OSError that reaches here
    (a folder that cannot be written, a full disk), named by its path."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BenchError as err:
            click.echo(f"Error: {err}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:  # not click's "Aborted!" and exit 1: the shell's convention, as a grid does
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except OSError as err:
            where = f"{err.filename}: " if err.filename else ""
            click.echo(f"Error: {where}{err.strerror or one_line(err)}", err=True)
            ctx.exit(2)


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ecogan-bench")
def main() -> None:
    """ECOGAN Bench: class-conditional GANs on long-tailed image data.

    \b
    Start here:
      bench list datasets           the datasets bench knows (digits_lt needs no download)
      bench list methods            BAGAN, EBGAN, 2C, D2D-CE, ECOGAN (+ ACGAN, ProjGAN, IDA-GAN) with their rows
      bench list aids               the training aids: regularizer (lecam), augment (diffaug)
      bench run --grid demo         the embedded demo: eleven cells on digits_lt, CPU, ~11 min
      bench report --grid demo --html
    Every number bench prints names its protocol (paper | standard | studiogan) and feature extractor.
    """


@main.command("list")
@click.argument("what", type=click.Choice(["datasets", "methods", "grids", "aids"]))
def list_cmd(what: str) -> None:
    """List the registered datasets, methods, grids or training aids (the regularizer and augment axes)."""
    if what == "datasets":
        from bench.datasets import describe_datasets

        click.echo(describe_datasets())
    elif what == "methods":
        from bench.methods import get_method, list_methods
        from bench.methods.search import describe_spaces

        click.echo(f"{'name':<10} {'backbone':<9} paper row")
        for name in list_methods():
            click.echo(get_method(name).describe())
        click.echo("\n" + describe_spaces([get_method(name) for name in list_methods()]))
    elif what == "aids":
        from bench.methods.diffaugment import DESCRIPTIONS as AUGMENTS
        from bench.methods.lecam import DESCRIPTIONS as REGULARIZERS

        click.echo(f"{'axis':<12} {'value':<8} what it does")
        for axis, table in (("regularizer", REGULARIZERS), ("augment", AUGMENTS)):
            for value, text in table.items():
                click.echo(f"{axis:<12} {value:<8} {text}")
    else:
        from bench.grid import describe_grids

        click.echo(describe_grids())


# options of ``bench run`` that only a grid takes (the parameter names); a single run refuses them
GRID_ONLY = ("only", "executor", "workers", "cells_per_gpu", "retry_failed", "partition", "gpus", "time_min",
             "array_parallelism", "cells_per_job")


@main.command("run")
@click.option("--grid", "grid", default=None,
              help="Run every cell of a grid: a shipped one (bench list grids: demo, table3, ...) or your own grid "
                   "file, e.g. --grid path/mine.toml (the README's 'Your own grid' has an example).")
@click.option("--dataset", default=None, help="Single run: dataset name (bench list datasets).")
@click.option("--method", default=None, help="Single run: method name (bench list methods).")
@click.option("--sampling", type=click.Choice(choices("sampling")), default=None,
              help="Real-batch sampling; balanced = the paper's 'Sampling TRUE'. With --grid it overrides every "
                   "cell (and renames the cells).")
@click.option("--seed", type=int, default=None, help="Single run: seed.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Grid: run every cell with seeds 0..N-1 (cell ids end in -s<seed>); the report shows the mean and "
                   "a 95%% t-interval over them.")
@click.option("--quirks", type=click.Choice(choices("quirks")), default=None,
              help="Single run: reproduce (paper) or correct (fixed) the upstream bugs.")
@click.option("--scale", type=click.Choice(SCALES), default=None,
              help="Budget preset: paper (the paper's steps), lab (CIFAR-like 32x32 in < 20 min per cell on a CPU), "
                   "cpu (a couple of minutes per digits cell), smoke (seconds). Every method gets the same number "
                   "of D updates.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config key (repeatable), e.g. --set steps=500 --set method_options.pretrained=false.")
@click.option("--only", default=None, help="Grid: run only matching cells, e.g. method=ecogan,dataset=cifar10_lt.")
@click.option("--dry-run", is_flag=True,
              help="List the grid's cells (with the paper's numbers), each phase's budget and the estimated time per "
                   "cell on this machine (recorded rates, else a short calibration), or print the single run's "
                   "resolved cell (folder, budget, recipe), and stop.")
@click.option("--no-estimate", is_flag=True,
              help="Grid, --dry-run: list the cells without the budgets and estimated times.")
@click.option("--executor", type=click.Choice(["local", "slurm"]), default="local", show_default=True,
              help="Grid: run cells here (local) or as Slurm jobs through submitit.")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Grid, local executor: cells run at once (one GPU each when there are GPUs).")
@click.option("--cells-per-gpu", type=int, default=None,
              help="Grid, local executor with GPUs: cells run at once on each GPU (packs small cells; replaces "
                   "--workers).")
@click.option("--nproc", type=int, default=None,
              help="Data-parallel processes (GPUs) per cell; the batch size stays the global batch (config key "
                   "nproc).")
@click.option("--retry-failed", is_flag=True, help="Grid: run failed cells again (they are skipped by default).")
@click.option("--force-restart", is_flag=True, help="Start over even if a run folder holds a checkpoint.")
@click.option("--partition", default=None, help="Slurm: partition.")
@click.option("--gpus", type=int, default=1, show_default=True, help="Slurm: GPUs per job.")
@click.option("--time", "time_min", type=int, default=24 * 60, show_default=True, help="Slurm: minutes per job.")
@click.option("--array-parallelism", type=int, default=16, show_default=True, help="Slurm: jobs running at once.")
@click.option("--cells-per-job", type=int, default=1, show_default=True,
              help="Slurm: cells each job runs at once (sharing its --gpus).")
@click.option("--slurm-local", is_flag=True, hidden=True, help="Slurm: submitit's local mode (tests).")
@RESULTS_ROOT
@DATA_ROOT
@click.option("--device", type=click.Choice(choices("device")), default=None, help="Device (default auto).")
def run_cmd(grid, dataset, method, sampling, seed, seeds, quirks, scale, sets, only, dry_run, no_estimate, executor,
            workers, cells_per_gpu, nproc, retry_failed, force_restart, partition, gpus, time_min, array_parallelism,
            cells_per_job, slurm_local, results_root, data_root, device) -> None:
    """Train: every cell of a grid (--grid), or one cell (--dataset and --method).

    \b
    Examples:
      bench run --grid demo
      bench run --grid table3 --dry-run
      bench run --grid path/mine.toml          your own grid file
      bench run --dataset digits_lt --method ecogan --scale cpu
      bench run --dataset cifar10_lt --method ecogan --sampling balanced --scale paper
      bench run --grid table3 --cells-per-gpu 3          # 3 cells on each visible GPU
      bench run --dataset cifar10_lt --method ecogan --scale paper --nproc 4   # one cell on 4 GPUs
    A finished cell is never trained again; an interrupted one resumes from its last checkpoint.
    """
    overrides = parse_set(sets)
    if data_root is not None:
        overrides["data_root"] = data_root
    if device is not None:
        overrides["device"] = device
    if nproc is not None:
        overrides["nproc"] = nproc
    if grid is not None:
        if dataset or method:
            raise click.UsageError("give either --grid or --dataset/--method, not both")
        from bench.scheduler import SlurmOptions, run_grid

        if seeds is not None and seed is not None:
            raise click.UsageError("give either --seed or --seeds, not both")
        single_axes = {"sampling": sampling, "seed": seed if seeds is None else list(range(seeds)), "quirks": quirks}
        overrides.update({k: v for k, v in single_axes.items() if v is not None})
        slurm = SlurmOptions(partition=partition, gpus=gpus, time_min=time_min,
                             array_parallelism=array_parallelism, local=slurm_local, cells_per_job=cells_per_job)
        summary = run_grid(grid, results_root=results_root, scale=scale, executor=executor, workers=workers,
                           only=only, dry_run=dry_run, retry_failed=retry_failed, force_restart=force_restart,
                           overrides=overrides, slurm=slurm, cells_per_gpu=cells_per_gpu, estimate=not no_estimate)
        sys.exit(summary.exit_code)
    if seeds is not None:
        raise click.UsageError("--seeds goes with --grid; for one run give --seed")
    if not (dataset and method):
        raise click.UsageError("give --grid NAME, or --dataset and --method for a single run (see bench run --help)")
    ctx = click.get_current_context()
    given = [f"--{name.replace('_', '-')}" for name in GRID_ONLY
             if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise ConfigError(f"{', '.join(given)} {'goes' if len(given) == 1 else 'go'} with --grid: a single run "
                          f"(--dataset/--method) is one cell, in this process")
    from bench.scheduler import run_single

    cell = {"dataset": dataset, "method": method}
    cell.update({k: v for k, v in {"sampling": sampling, "seed": seed, "quirks": quirks}.items() if v is not None})
    outcome = run_single(cell, results_root=results_root, scale=scale, overrides=overrides,
                         force_restart=force_restart, dry_run=dry_run)
    sys.exit({"done": 0, "skipped": 0, "dry-run": 0, "interrupted": 130}.get(outcome.status, 1))


@main.command("tune")
@click.option("--grid", "grid", required=True,
              help="A search grid: a grid file with a [tune] table (shipped: demo-search), whose cells are tuned.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="Trials per cell (default: the grid's [tune] trials). Every cell gets the same number.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Tuning seeds per trial, counted from the grid's first (default: the grid's [tune] seeds).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The tuned grid file to write (default: <results-root>/<grid>-tuned.toml).")
@click.option("--scale", type=click.Choice(SCALES), default=None,
              help="Scale of the trials (default: the grid's).")
@click.option("--dry-run", is_flag=True, help="List the trial cells and stop.")
@click.option("--executor", type=click.Choice(["local", "slurm"]), default="local", show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Local executor: trials run at once.")
@click.option("--retry-failed", is_flag=True, help="Run failed trials again (a failed trial ranks last otherwise).")
@click.option("--partition", default=None, help="Slurm: partition.")
@click.option("--time", "time_min", type=int, default=24 * 60, show_default=True, help="Slurm: minutes per job.")
@RESULTS_ROOT
def tune_cmd(grid, trials, seeds, out, scale, dry_run, executor, workers, retry_failed, partition, time_min,
             results_root) -> None:
    """Choose each method's recipe by a declared protocol: the same trials, seeds and D-update budget for every
    cell of a search grid, scored by its objective on half A of the reference; writes the tuning table and the
    tuned grid (each method's paper recipe and its chosen one).

    \b
    Examples:
      bench tune --grid demo-search --trials 8 --out bench/grids/demo.toml
      bench tune --grid demo-search --dry-run
    A killed tune resumes: run the same command again (finished trials are kept).
    """
    from bench.scheduler import SlurmOptions
    from bench.tune import tune

    outcome = tune(grid, results_root=results_root, trials=trials, seeds=seeds, out=out, scale=scale,
                   executor=executor, workers=workers, dry_run=dry_run, retry_failed=retry_failed,
                   slurm=SlurmOptions(partition=partition, time_min=time_min))
    for path in outcome.written:
        click.echo(f"wrote {path}")
    sys.exit(outcome.exit_code)


@main.command("eval")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--protocol", type=click.Choice(choices("protocols")), required=True, help="How to measure.")
@click.option("--checkpoint", type=click.Choice(["best", "latest"]), default="best", show_default=True)
@click.option("--extractor", default=None,
              help="Feature extractor: inception-v3-compat, torchvision-inception, dinov2 or classifier "
                   "(default: the run's own, e.g. classifier for cpu-scale runs; else the protocol's).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override an evaluation key (repeatable), e.g. --set extractor=dinov2 "
                   "--set dinov2_weights=/models/dinov2_vitl14_pretrain.pth --set num_eval_samples=10000.")
@DATA_ROOT
@click.option("--device", type=click.Choice(choices("device")), default="auto", show_default=True)
@click.option("--allow-foreign-checkpoint", "allow_foreign", is_flag=True,
              help="Use a checkpoint whose config hash differs from the run folder's config.json (a file copied in "
                   "from another run); refused by default.")
def eval_cmd(run_dir, protocol, checkpoint, extractor, sets, data_root, device, allow_foreign) -> None:
    """Re-evaluate a run's checkpoint under a protocol, without training; rows are appended to its CSVs."""
    from bench.run.posthoc import evaluate_run

    result = evaluate_run(run_dir, protocol=protocol, checkpoint=checkpoint, extractor=extractor,
                          data_root=data_root, device=device, allow_foreign=allow_foreign,
                          overrides=parse_set(sets))
    row = result.row
    click.echo(f"step {row['step']} [{row['protocol']} protocol, {row['extractor']} features, "
               f"reference {row['reference']}]: FID {row['fid']:.2f}  IS {_number(row['is_mean'])}  "
               f"intra-class FID {row['ifid_mean']:.2f}")


def _number(value: float) -> str:
    """Two decimals, or "–" for a metric the extractor does not give (IS without logits)."""
    return "–" if value != value else f"{value:.2f}"


@main.command("sample")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--per-class", type=int, default=None, help="A grid image with this many samples per class (rows).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Grid image path.")
@click.option("--class", "class_index", type=int, default=None, help="Write n images of this class...")
@click.option("--n", type=int, default=64, show_default=True, help="...this many...")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="...into this folder.")
@click.option("--checkpoint", type=click.Choice(["best", "latest"]), default="best", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(choices("device")), default="auto", show_default=True)
@click.option("--allow-foreign-checkpoint", "allow_foreign", is_flag=True,
              help="Use a checkpoint whose config hash differs from the run folder's config.json (a file copied in "
                   "from another run); refused by default.")
def sample_cmd(run_dir, per_class, out, class_index, n, out_dir, checkpoint, seed, device, allow_foreign) -> None:
    """Write generated images from a run's checkpoint, without training or data."""
    from bench.run.posthoc import sample_run

    written = sample_run(run_dir, per_class=per_class, out=out, class_index=class_index, n=n, out_dir=out_dir,
                         checkpoint=checkpoint, seed=seed, device=device, allow_foreign=allow_foreign)
    click.echo(f"wrote {written}")


@main.command("gather")
@click.option("--grid", required=True,
              help="Grid name, grid file (path/mine.toml) or grid key such as table3-cpu; adhoc[-<scale>] for the "
                   "single runs of bench run --dataset --method.")
@click.option("--scale", type=click.Choice(SCALES), default=None,
              help="The scale the grid ran at, when not its default (results/<grid>-<scale>/).")
@RESULTS_ROOT
def gather_cmd(grid, scale, results_root) -> None:
    """Rebuild results/<grid>.csv (tidy: run x step x protocol x metric) from the run folders."""
    from bench.results import gather, speed_csv_path

    path = gather(grid, results_root=results_root, scale=scale)
    speed = speed_csv_path(path.parent, path.stem)
    click.echo(f"wrote {path}" + (f" and {speed} (what each run cost)" if speed.is_file() else ""))


@main.command("status")
@click.option("--grid", required=True, help="Grid name, grid file or key (as for bench gather).")
@click.option("--scale", type=click.Choice(SCALES), default=None)
@RESULTS_ROOT
def status_cmd(grid, scale, results_root) -> None:
    """Each cell of a grid: state, step, best FID (with protocol and extractor)."""
    from bench.results import grid_status

    click.echo(grid_status(grid, results_root=results_root, scale=scale))


@main.command("report")
@click.option("--grid", required=True,
              help="Grid name, grid file (path/mine.toml, as given to bench run) or key (table3-cpu, adhoc-smoke), "
                   "as gathered.")
@click.option("--scale", type=click.Choice(SCALES), default=None,
              help="The scale the grid ran at, when its results exist at several (results/<grid>-<scale>/).")
@click.option("--html", is_flag=True, help="Also render the self-contained HTML page.")
@RESULTS_ROOT
@click.option("--reports-root", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True)
def report_cmd(grid, scale, html, results_root, reports_root) -> None:
    """Tables (CSV, Markdown, LaTeX), curves, minority-class views and samples into reports/<grid>/."""
    from bench.report import render_report

    path = render_report(grid, results_root=results_root, reports_root=reports_root, html=html, scale=scale)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
