"""The machine: CPU features, the llama.cpp build, GPUs (NVML), disk space in the data dir."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from localforge.doctor.report import Check
from localforge.models.runtime.gpu import probe_budgets
from localforge.settings import Settings

GROUP = "system"
GIB = 1024**3
DISK_WARN_BYTES = 2 * GIB
DISK_FAIL_BYTES = GIB // 2
# llama.cpp's system line names what it was built to use; the CPU flag that each one needs.
BUILD_NEEDS = {
    "AVX": "avx",
    "AVX2": "avx2",
    "AVX_VNNI": "avx_vnni",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}


def rebuild_fix(version: str, cmake_args: str = "") -> str:
    """How to build this llama-cpp-python again, from source, for this machine."""
    env = f"CMAKE_ARGS='{cmake_args}' " if cmake_args else ""
    return (
        f"rebuild it here: {env}.venv/bin/pip install --force-reinstall --no-cache-dir "
        f"--no-deps llama-cpp-python=={version} (about 5-10 minutes on 2 cores)"
    )


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str | None, set[str]]:
    """The CPU's model name and feature flags (of the first processor listed)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None, set()
    model = None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, flags


def cpu_check(model: str | None, flags: set[str]) -> Check:
    if not flags:
        return Check(GROUP, "cpu", "ok", f"{model or 'unknown CPU'}: no x86 feature flags listed")
    avx512 = sorted(f for f in flags if f.startswith("avx512"))
    amx = sorted(f for f in flags if f.startswith("amx"))
    shown = [f for f in ("avx", "avx2", "fma", "f16c") if f in flags]
    parts = [
        " ".join(shown) or "no AVX",
        f"avx512: {' '.join(avx512)}" if avx512 else "no AVX-512",
        f"amx: {' '.join(amx)}" if amx else "no AMX",
    ]
    data = {"model": model, "avx512": avx512, "amx": amx, "flags": sorted(flags)}
    detail = f"{model or 'unknown CPU'}; " + "; ".join(parts)
    if "avx2" not in flags:
        return Check(
            GROUP,
            "cpu",
            "warn",
            detail,
            "without AVX2 llama.cpp runs several times slower; prefer small quantised models",
            data,
        )
    return Check(GROUP, "cpu", "ok", detail, data=data)


def parse_system_info(line: str) -> dict[str, str]:
    """``"CPU : SSE3 = 1 | AVX = 1 | "`` → ``{"SSE3": "1", "AVX": "1"}``."""
    values = {}
    for part in line.replace(":", "|").split("|"):
        key, sep, value = part.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def unsupported(built: dict[str, str], flags: set[str]) -> list[str]:
    """What the build uses that the CPU lacks (nothing, when the CPU lists no flags)."""
    if not flags:
        return []
    return [key for key, flag in BUILD_NEEDS.items() if built.get(key) == "1" and flag not in flags]


def llama_build_check(flags: set[str]) -> tuple[Check, Any]:
    """llama-cpp-python's version and system line, against what this CPU can run."""
    try:
        import llama_cpp
    except Exception as exc:  # ImportError, or OSError from a shared library that will not load
        return (
            Check(
                GROUP,
                "llama.cpp",
                "fail",
                f"llama-cpp-python does not import: {exc}",
                "run 'make setup' (it builds llama-cpp-python; needs a C++ compiler and cmake)",
            ),
            None,
        )
    line = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    version = llama_version(llama_cpp)
    built = parse_system_info(line)
    data: dict[str, Any] = {"version": version, "system_info": line, "build": built}
    missing = unsupported(built, flags)
    detail = f"llama-cpp-python {version}: {line}"
    if missing:
        data["missing_on_cpu"] = missing
        return (
            Check(
                GROUP,
                "llama.cpp",
                "fail",
                f"{detail} — built for {', '.join(missing)}, which this CPU lacks (SIGILL)",
                rebuild_fix(version),
                data,
            ),
            llama_cpp,
        )
    return Check(GROUP, "llama.cpp", "ok", detail, data=data), llama_cpp


def gpu_check(settings: Settings, llama_cpp: Any) -> Check:
    budgets = probe_budgets(settings.residency)
    offload = bool(llama_cpp.llama_supports_gpu_offload()) if llama_cpp is not None else None
    gpus = [d for d in budgets.devices if d.key != "cpu"]
    data = {
        "mode": budgets.mode,
        "gpu_offload_built": offload,
        "devices": [
            {
                "device": d.key,
                "name": d.name,
                "total_bytes": d.total_bytes,
                "free_bytes": d.free_bytes,
            }
            for d in gpus
        ],
    }
    if not gpus:
        return Check(GROUP, "gpu", "ok", budgets.detail, data=data)
    shown = "; ".join(
        f"{d.key} {d.name}, {d.free_bytes / GIB:.1f} of {d.total_bytes / GIB:.1f} GiB free"
        for d in gpus
    )
    if offload is False:
        return Check(
            GROUP,
            "gpu",
            "warn",
            f"{shown}; but this llama-cpp-python has no GPU offload: models run on the CPU",
            rebuild_fix(llama_version(llama_cpp), "-DGGML_CUDA=on"),
            data,
        )
    return Check(GROUP, "gpu", "ok", f"NVML: {shown}", data=data)


def llama_version(llama_cpp: Any) -> str:
    return str(getattr(llama_cpp, "__version__", "?"))


def disk_check(data_dir: Path) -> Check:
    where = data_dir
    while not where.exists() and where != where.parent:
        where = where.parent
    usage = shutil.disk_usage(where)
    detail = f"{usage.free / GIB:.1f} GiB free of {usage.total / GIB:.1f} GiB at {data_dir}"
    data = {"path": str(data_dir), "free_bytes": usage.free, "total_bytes": usage.total}
    fix = (
        "free some space there (the database, vector memory and embedding model live there), "
        "or set XDG_DATA_HOME to a larger disk"
    )
    if usage.free < DISK_FAIL_BYTES:
        return Check(GROUP, "disk", "fail", detail, fix, data)
    if usage.free < DISK_WARN_BYTES:
        return Check(GROUP, "disk", "warn", detail, fix, data)
    return Check(GROUP, "disk", "ok", detail, data=data)
