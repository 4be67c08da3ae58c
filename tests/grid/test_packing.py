"""bench.executors.packing: which GPUs each running cell gets, on fake device lists; and the executors using it."""

from __future__ import annotations

import json

import pytest
from gridstub import STUB_IDS

from bench.errors import ConfigError
from bench.executors.local import local_slots
from bench.executors.packing import chunk, first_wave, gpu_load, worker_slots
from bench.scheduler import SlurmOptions, run_grid


@pytest.mark.parametrize("gpus", [1, 2, 3, 8])
@pytest.mark.parametrize("per_gpu", [1, 2, 3])
def test_k_cells_on_every_gpu_and_every_gpu_busy_first(gpus, per_gpu):
    devices = [str(d) for d in range(10, 10 + gpus)]
    slots = worker_slots(devices, per_gpu)
    assert len(slots) == gpus * per_gpu and [s.index for s in slots] == list(range(len(slots)))
    assert gpu_load(slots) == dict.fromkeys(devices, per_gpu)
    for n in range(1, len(slots) + 1):  # however many cells, the loads differ by at most one
        loads = gpu_load(first_wave(n, slots))
        assert sum(loads.values()) == n and max(loads.values()) - min(loads.get(d, 0) for d in devices) <= 1


def test_data_parallel_cells_get_disjoint_groups_of_gpus():
    slots = worker_slots(["0", "1", "2", "3", "4"], cells_per_gpu=2, gpus_per_cell=2)
    assert [s.visible for s in slots] == ["0,1", "2,3", "0,1", "2,3"]  # GPU 4 cannot host a 2-GPU cell
    with pytest.raises(ConfigError, match="needs 4 GPUs; 2 visible"):
        worker_slots(["0", "1"], gpus_per_cell=4)


def test_cpu_slots_and_bad_values():
    assert [s.devices for s in worker_slots([], cpu_workers=3)] == [(), (), ()]
    for bad in ({"cells_per_gpu": 0}, {"gpus_per_cell": 0}, {"cpu_workers": 0}):
        with pytest.raises(ConfigError):
            worker_slots(["0"], **bad)


def test_without_cells_per_gpu_workers_go_round_robin_as_before():
    assert [s.visible for s in local_slots(["3", "5"], 3, None, 1)] == ["3", "5", "3"]
    assert [s.visible for s in local_slots(["3", "5"], 1, 2, 1)] == ["3", "5", "3", "5"]  # workers ignored


def test_chunk_packs_cells_into_jobs():
    assert chunk(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert chunk(list("ab"), 5) == [["a", "b"]]
    with pytest.raises(ConfigError, match="cells-per-job"):
        chunk([1], 0)


def test_local_executor_packs_cells_per_gpu(stub, stub_grid, results, monkeypatch):
    import bench.executors.local as local

    monkeypatch.setattr(local, "visible_gpus", lambda: ["3", "5"])
    summary = run_grid(stub_grid, results_root=results, executor="local", cells_per_gpu=2)
    assert [r.state for r in summary.results] == ["done"] * len(STUB_IDS)
    envs = [json.loads((results / "stubgrid" / c / "env.json").read_text()) for c in STUB_IDS]
    assert sorted(e["CUDA_VISIBLE_DEVICES"] for e in envs) == ["3", "3", "5", "5"]


def test_slurm_jobs_run_several_cells_each(stub, stub_grid, results):
    summary = run_grid(stub_grid, results_root=results, executor="slurm",
                       slurm=SlurmOptions(local=True, cells_per_job=3, gpus=0))
    assert sorted(r.cell for r in summary.results if r.state == "done") == sorted(STUB_IDS)
    jobs = {(results / "stubgrid" / c / "attempts.log").read_text().split("pid=")[1].split()[0] for c in STUB_IDS}
    assert len(jobs) == len(STUB_IDS)  # each cell in its own worker process, two jobs of up to three cells
    assert len(list((results / "stubgrid" / ".submitit").glob("*_submission.sh"))) <= 2
