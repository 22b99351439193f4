"""Memory budgets: one per GPU from NVML (pynvml), or a RAM budget in CPU mode."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from localforge.settings import ResidencySettings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
CPU = "cpu"
DEFAULT_RAM_FRACTION = 0.6


@dataclass(frozen=True)
class Device:
    key: str  # "cpu" or "cuda:N"
    name: str
    total_bytes: int
    free_bytes: int
    budget_bytes: int


@dataclass(frozen=True)
class Budgets:
    mode: str  # "gpu" | "cpu"
    devices: tuple[Device, ...]
    detail: str

    def as_dict(self) -> dict[str, int]:
        return {device.key: device.budget_bytes for device in self.devices}


def gpu_index(device: str) -> int | None:
    """``"cuda:1"`` → 1; ``None`` for the CPU."""
    prefix = "cuda:"
    return int(device[len(prefix) :]) if device.startswith(prefix) else None


def total_ram_bytes() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def probe_budgets(settings: ResidencySettings) -> Budgets:
    """GPUs when NVML answers, otherwise the CPU with a RAM budget; never raises."""
    ram_total = total_ram_bytes()
    if settings.ram_budget_mb is not None:
        ram_budget = settings.ram_budget_mb * MIB
        ram_why = "residency.ram_budget_mb"
    else:
        ram_budget = int(ram_total * DEFAULT_RAM_FRACTION)
        ram_why = f"{DEFAULT_RAM_FRACTION:.0%} of {ram_total / 1024**3:.1f} GiB RAM"
    cpu = Device(CPU, "CPU", ram_total, ram_total, ram_budget)
    gpus, why_not = _nvml_devices(settings.vram_reserve_mb * MIB)
    if gpus:
        names = "; ".join(
            f"{d.key} {d.name} budget {d.budget_bytes / MIB:.0f} MiB of {d.total_bytes / MIB:.0f}"
            for d in gpus
        )
        return Budgets("gpu", (*gpus, cpu), f"GPU mode: {names}; CPU-only models use {ram_why}")
    return Budgets(
        "cpu",
        (cpu,),
        f"CPU mode ({why_not}): models run on the CPU with a RAM budget of "
        f"{ram_budget / MIB:.0f} MiB ({ram_why})",
    )


def _nvml_devices(reserve_bytes: int) -> tuple[list[Device], str]:
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError when there is no driver or no GPU
        return [], f"no NVIDIA GPU found: {exc}"
    try:
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            budget = max(int(memory.total) - reserve_bytes, 0)
            devices.append(
                Device(f"cuda:{index}", name, int(memory.total), int(memory.free), budget)
            )
        return devices, "no NVIDIA GPU found" if not devices else ""
    except Exception as exc:
        return [], f"NVML failed: {exc}"


def gpu_usage(pids: Collection[int]) -> dict[str, dict[str, Any]]:
    """Per GPU: total, free, and the bytes used by the given worker pids (empty without NVML)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return {}
    usage: dict[str, dict[str, Any]] = {}
    try:
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            ours = 0
            for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid in pids and proc.usedGpuMemory:
                    ours += int(proc.usedGpuMemory)
            usage[f"cuda:{index}"] = {
                "total": int(memory.total),
                "free": int(memory.free),
                "ours": ours,
            }
    except Exception as exc:
        log.debug("NVML usage query failed: %s", exc)
    return usage
