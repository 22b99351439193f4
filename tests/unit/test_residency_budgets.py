"""Memory budgets: CPU mode with a RAM budget when there is no GPU, and placement on GPUs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from localforge.models.runtime.gpu import (
    CPU,
    Budgets,
    Device,
    gpu_index,
    probe_budgets,
    total_ram_bytes,
)
from localforge.models.runtime.manager import ModelManager
from localforge.models.runtime.pool import ModelPool
from localforge.models.runtime.residency import Planner
from localforge.settings import ResidencySettings, Settings, StorageSettings
from localforge.storage.database import Database
from tests.unit.test_residency_candidates import Registry, spec

MIB = 1024 * 1024


def test_configured_ram_budget_is_used_and_said() -> None:
    budgets = probe_budgets(ResidencySettings(ram_budget_mb=1234))
    cpu = next(device for device in budgets.devices if device.key == CPU)
    assert cpu.budget_bytes == 1234 * MIB
    assert "residency.ram_budget_mb" in budgets.detail
    if budgets.mode == "cpu":
        assert budgets.detail.startswith("CPU mode (")
        assert budgets.as_dict() == {CPU: 1234 * MIB}


def test_default_ram_budget_is_sixty_percent_of_ram() -> None:
    budgets = probe_budgets(ResidencySettings())
    cpu = next(device for device in budgets.devices if device.key == CPU)
    assert cpu.budget_bytes == int(total_ram_bytes() * 0.6)
    assert "60% of" in budgets.detail


# --- placement on several GPUs -------------------------------------------------------------

GIB = 1024 * MIB


def _manager_with_gpus(tmp_path: Path, *sizes_gib: int) -> ModelManager:
    gpus = tuple(
        Device(f"cuda:{i}", f"GPU {i}", size * GIB, size * GIB, size * GIB)
        for i, size in enumerate(sizes_gib)
    )
    cpu = Device(CPU, "CPU", 16 * GIB, 16 * GIB, 8 * GIB)
    manager = ModelManager(
        Settings, Registry([]), Database(tmp_path / "db", StorageSettings()), tmp_path
    )
    manager.budgets = Budgets("gpu", (*gpus, cpu), "two GPUs")
    manager.pool = ModelPool(
        Planner(manager.budgets.as_dict(), 1.0),
        device_for=manager._device_for,
        log_dir=tmp_path,
        load_timeout_s=lambda: 60.0,
        default_ttl_s=lambda: 60.0,
        keep_spare=False,
    )
    return manager


def test_each_model_goes_to_the_gpu_with_the_most_room(tmp_path: Path) -> None:
    manager = _manager_with_gpus(tmp_path, 8, 6)
    pool = manager.pool
    assert pool is not None
    big = pool.slot(replace(spec("big", memory=5 * GIB), n_gpu_layers=-1))
    assert big.device == "cuda:0"
    big.state = "idle"  # loaded: 3 GiB left on cuda:0, 6 GiB on cuda:1
    small = pool.slot(replace(spec("small", memory=2 * GIB), n_gpu_layers=-1))
    assert small.device == "cuda:1"
    assert pool.used_bytes() == {"cuda:0": 5 * GIB}
    assert pool.slot(spec("cpu-only", memory=GIB)).device == CPU  # n_gpu_layers = 0

    big.state = "absent"  # unloaded: placed afresh at its next load
    small.state = "idle"
    assert pool.slot(big.spec).device == "cuda:0"
    assert manager.status()["budgets"][1]["used_bytes"] == 2 * GIB


def test_gpu_index_names_the_device_llama_cpp_puts_the_model_on() -> None:
    assert gpu_index("cuda:1") == 1
    assert gpu_index("cuda:0") == 0
    assert gpu_index(CPU) is None


def test_a_removed_model_that_comes_back_is_placed_and_kept_like_a_new_one(
    tmp_path: Path,
) -> None:
    manager = _manager_with_gpus(tmp_path, 8, 6)
    pool = manager.pool
    assert pool is not None
    gone = replace(spec("gone", memory=2 * GIB), n_gpu_layers=-1)
    pool.slot(gone)
    pool.forget("gone")  # removed from the registry while not loaded
    holder = pool.slot(replace(spec("holder", memory=5 * GIB), n_gpu_layers=-1))
    holder.state = "idle"  # cuda:0 keeps 3 GiB of room, cuda:1 has 6 GiB

    back = pool.slot(gone)  # the file is dropped into the model dir again
    assert back.retire is False  # it would otherwise be unloaded as soon as it went idle
    assert back.device == "cuda:1"
