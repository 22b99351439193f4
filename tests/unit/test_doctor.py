"""The doctor's pieces on their own: CPU flags, the llama.cpp build line, verdicts, the report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localforge.doctor.files import socket_dir_check
from localforge.doctor.models import Smoke, verdict
from localforge.doctor.report import Check, Report
from localforge.doctor.system import cpu_check, parse_system_info, read_cpuinfo, unsupported
from localforge.paths import Paths

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse4_2 avx avx2 fma f16c avx512f avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu
"""
SYSTEM_INFO = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "


def test_cpu_features_come_from_the_first_processor(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    model, flags = read_cpuinfo(path)
    assert model == "Intel(R) Xeon(R) Platinum 8480+"
    check = cpu_check(model, flags)
    assert check.status == "ok"
    assert "avx512: avx512_bf16 avx512f" in check.detail
    assert "amx: amx_bf16 amx_int8 amx_tile" in check.detail
    assert check.data["amx"] == ["amx_bf16", "amx_int8", "amx_tile"]
    assert read_cpuinfo(tmp_path / "missing") == (None, set())


def test_a_cpu_without_avx2_is_a_warning() -> None:
    check = cpu_check("old", {"sse4_2", "avx"})
    assert check.status == "warn" and check.fix and "AVX2" in check.fix


def test_a_build_for_features_the_cpu_lacks_is_found() -> None:
    built = parse_system_info(SYSTEM_INFO)
    assert built == {
        "SSE3": "1",
        "AVX": "1",
        "AVX2": "1",
        "AVX512": "1",
        "AMX_INT8": "1",
        "REPACK": "1",
    }
    assert unsupported(built, {"avx", "avx2", "avx512f", "amx_int8"}) == []
    assert unsupported(built, {"avx", "avx2"}) == ["AVX512", "AMX_INT8"]
    assert unsupported(built, set()) == []  # no flags listed (not x86): nothing to compare


def smoke(mode: str, **kwargs: object) -> Smoke:
    return Smoke(mode, **kwargs)  # type: ignore[arg-type]


def test_a_crash_in_normal_mode_only_says_use_safe_mode(tmp_path: Path) -> None:
    log = tmp_path / "m.normal.log"
    results = [
        smoke("normal", crashed="SIGSEGV while generating", log=log),
        smoke("safe", tokens=4, load_ms=700, generate_ms=90),
    ]
    check = verdict("m", results, {})
    assert check.status == "fail"
    assert check.detail == (
        "normal mode crashed (SIGSEGV while generating); safe mode 4 tokens in 0.09 s (load 0.7 s)"
    )
    assert check.fix is not None and check.fix.startswith("use safe mode for this model")
    assert str(log) in check.fix


@pytest.mark.parametrize(
    ("normal", "safe", "status", "fix_starts"),
    [
        ({"tokens": 4}, {"tokens": 4}, "ok", None),
        ({"tokens": 4}, {"crashed": "SIGILL while loading"}, "warn", "normal mode works"),
        (
            {"crashed": "SIGSEGV while loading"},
            {"crashed": "SIGSEGV while loading"},
            "fail",
            "it crashes in both modes",
        ),
        ({"error": "model 'm' failed to load: bad"}, {"error": "same"}, "fail", "see the message"),
    ],
)
def test_verdicts(
    normal: dict[str, object], safe: dict[str, object], status: str, fix_starts: str | None
) -> None:
    check = verdict("m", [smoke("normal", **normal), smoke("safe", **safe)], {})
    assert check.status == status
    if fix_starts is None:
        assert check.fix is None
    else:
        assert check.fix is not None and check.fix.startswith(fix_starts)


def test_the_report_groups_lines_and_puts_fixes_under_them() -> None:
    report = Report(
        "0.1.0",
        (
            Check("system", "cpu", "ok", "avx2"),
            Check("setup", "socket dir", "fail", "/run/x has mode 0755", "chmod 700 /run/x"),
            Check("setup", "config", "warn", "model 'a': a.gguf does not exist"),
        ),
        1.25,
    )
    assert report.text().splitlines() == [
        "LocalForge doctor 0.1.0",
        "system",
        "  ok    cpu         avx2",
        "setup",
        "  FAIL  socket dir  /run/x has mode 0755",
        "                    fix: chmod 700 /run/x",
        "  warn  config      model 'a': a.gguf does not exist",
        "3 checks in 1.2 s: 1 ok, 1 warning(s), 1 failure(s)",
    ]
    assert report.failed and report.as_dict()["summary"] == {"ok": 1, "warn": 1, "fail": 1}


def test_socket_dir_modes(tmp_path: Path) -> None:
    paths = Paths.from_env({"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")})
    check = socket_dir_check(paths)
    assert check.status == "ok" and "does not exist yet" in check.detail
    paths.runtime_dir.mkdir(parents=True, mode=0o700)
    os.chmod(paths.runtime_dir, 0o750)
    check = socket_dir_check(paths)
    assert check.status == "fail" and check.fix == f"chmod 700 {paths.runtime_dir}"
    os.chmod(paths.runtime_dir, 0o700)
    check = socket_dir_check(paths)
    assert check.status == "ok" and "0700, yours" in check.detail
    assert "lfd is not running" in check.detail
