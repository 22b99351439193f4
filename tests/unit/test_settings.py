"""The settings tree: layering, sources, env names, and errors that name key, value and fix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel

from localforge.errors import ConfigError
from localforge.paths import Paths
from localforge.settings import (
    ModelEntry,
    Settings,
    check_config_file,
    env_names,
    load_settings,
    parse_flag_assignments,
)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(
        runtime_dir=tmp_path / "run",
        config_dir=tmp_path / "cfg",
        data_dir=tmp_path / "data",
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
    )


def write_config(paths: Paths, text: str) -> Path:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text)
    return paths.config_file


def source_of(loaded: object, key: str) -> str:
    rows = {row["key"]: row for row in loaded.describe()}  # type: ignore[attr-defined]
    return str(rows[key]["source"])


def test_defaults_when_nothing_is_set(paths: Paths) -> None:
    loaded = load_settings(paths, env={})
    assert loaded.settings == Settings()
    assert loaded.config_file == paths.config_file
    assert not loaded.config_file_found
    assert loaded.settings.daemon.max_frame_bytes == 16 * 1024 * 1024
    assert {row["source"] for row in loaded.describe()} == {"default"}


def test_each_layer_overrides_the_one_below(paths: Paths) -> None:
    write_config(
        paths,
        "[daemon]\nlog_level = 'warning'\nshutdown_grace_s = 3\n[memory]\ntop_k = 7\n",
    )
    env = {"LOCALFORGE_DAEMON_SHUTDOWN_GRACE_S": "4", "LOCALFORGE_MEMORY_COLLECTION": "team"}
    loaded = load_settings(paths, env=env, flags={"daemon.shutdown_grace_s": "5"})
    s = loaded.settings
    assert s.daemon.log_level == "warning"
    assert s.memory.top_k == 7
    assert s.memory.collection == "team"
    assert s.daemon.shutdown_grace_s == 5.0
    assert source_of(loaded, "daemon.log_level") == "file"
    assert source_of(loaded, "memory.top_k") == "file"
    assert source_of(loaded, "memory.collection") == "env"
    assert source_of(loaded, "daemon.shutdown_grace_s") == "flag"
    assert source_of(loaded, "routing.hysteresis") == "default"
    assert loaded.config_file_found
    assert sorted(loaded.env_keys) == sorted(env)


def test_env_names_follow_the_tree_with_declared_exceptions() -> None:
    names = env_names()
    assert names["LOCALFORGE_DAEMON_MAX_FRAME_BYTES"] == ("daemon", "max_frame_bytes")
    assert names["LOCALFORGE_WEIGHT_BENCHMARK"] == ("weights", "benchmark")
    assert "LOCALFORGE_WEIGHTS_BENCHMARK" not in names
    assert names["LOCALFORGE_MODEL_DIRS"] == ("model_dirs",)
    # Every leaf of every section has exactly one variable.
    leaves = {
        (section, key)
        for section, info in Settings.model_fields.items()
        if isinstance(info.annotation, type) and hasattr(info.annotation, "model_fields")
        for key in info.annotation.model_fields
    }
    assert leaves <= set(names.values())


def test_env_lists_and_tables(paths: Paths) -> None:
    env = {
        "LOCALFORGE_MODEL_DIRS": "/models/a:/models/b",
        "LOCALFORGE_MODELS": '[{"name": "m", "url": "http://127.0.0.1:8080"}]',
        "LOCALFORGE_WEIGHT_MEMORY": "0.5",
    }
    s = load_settings(paths, env=env).settings
    assert s.model_dirs == [Path("/models/a"), Path("/models/b")]
    assert s.models[0].name == "m" and s.models[0].url == "http://127.0.0.1:8080"
    assert s.weights.memory == 0.5


def test_bad_env_json_names_the_variable(paths: Paths) -> None:
    with pytest.raises(ConfigError, match="LOCALFORGE_MODELS must be JSON"):
        load_settings(paths, env={"LOCALFORGE_MODELS": "[{oops"})


def test_invalid_value_names_key_value_source_and_what_is_accepted(paths: Paths) -> None:
    write_config(paths, "[daemon]\nlog_level = 'loud'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(paths, env={})
    message = err.value.message
    assert "daemon.log_level" in message
    assert "'loud'" in message
    assert "(from file)" in message
    assert "'debug', 'info', 'warning' or 'error'" in message


def test_out_of_range_env_value(paths: Paths) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(paths, env={"LOCALFORGE_MEMORY_TOP_K": "0"})
    assert "memory.top_k" in err.value.message
    assert "'0'" in err.value.message
    assert "(from env)" in err.value.message
    assert "greater than or equal to 1" in err.value.message


def test_unknown_key_is_rejected_with_its_name(paths: Paths) -> None:
    write_config(paths, "[daemon]\nlog_levle = 'debug'\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'daemon.log_levle' \(from file\)"):
        load_settings(paths, env={})


def test_unknown_flag_is_rejected_with_its_name(paths: Paths) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'daemon.nope' \(from flag\)"):
        load_settings(paths, env={}, flags={"daemon.nope": "1"})


def test_invalid_toml_names_the_file(paths: Paths) -> None:
    path = write_config(paths, "[daemon\n")
    with pytest.raises(ConfigError, match=f"config file {path} is not valid TOML"):
        load_settings(paths, env={})


def test_model_entry_needs_path_or_url(paths: Paths) -> None:
    write_config(paths, "[[models]]\nname = 'x'\n")
    with pytest.raises(ConfigError, match="model 'x' needs exactly one of 'path' or 'url'"):
        load_settings(paths, env={})


def test_all_zero_weights_are_refused(paths: Paths) -> None:
    write_config(paths, "[weights]\nbenchmark = 0\nmemory = 0\nlatency = 0\nfeedback = 0\n")
    with pytest.raises(ConfigError, match="at least one routing weight must be above 0"):
        load_settings(paths, env={})


def test_config_path_from_env_and_argument(paths: Paths, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[memory]\ntop_k = 3\n")
    by_env = load_settings(paths, env={"LOCALFORGE_CONFIG": str(other)})
    assert by_env.config_file == other and by_env.settings.memory.top_k == 3
    by_arg = load_settings(paths, env={}, config_file=other)
    assert by_arg.settings.memory.top_k == 3


def test_check_config_file(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[routing]\nhysteresis = 0.1\n")
    assert check_config_file(good).routing.hysteresis == 0.1
    bad = tmp_path / "bad.toml"
    bad.write_text("[routing]\nhysteresis = 2\n")
    with pytest.raises(ConfigError, match=r"routing.hysteresis' = 2 \(from file\)"):
        check_config_file(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        check_config_file(tmp_path / "missing.toml")


def test_flag_assignments() -> None:
    assert parse_flag_assignments(["daemon.log_level=debug", "memory.url=http://h:1/?a=b"]) == {
        "daemon.log_level": "debug",
        "memory.url": "http://h:1/?a=b",
    }
    with pytest.raises(ConfigError, match="--set expects KEY=VALUE"):
        parse_flag_assignments(["daemon.log_level"])


def test_paths_follow_xdg(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": "/run/user/1000",
        "XDG_CONFIG_HOME": "/c",
        "XDG_DATA_HOME": "/d",
        "XDG_STATE_HOME": "relative/is/ignored",
    }
    p = Paths.from_env(env)
    assert p.socket == Path("/run/user/1000/localforge/lfd.sock")
    assert p.config_file == Path("/c/localforge/config.toml")
    assert p.database == Path("/d/localforge/localforge.db")
    assert p.log_file == tmp_path / ".local/state/localforge/lfd.log"
    fallback = Paths.from_env({"HOME": str(tmp_path)})
    assert fallback.socket == Path(f"/tmp/localforge-{os.getuid()}/lfd.sock")


# --- the README's configuration reference ------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def _default_text(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict) and not value:
        return "[]" if isinstance(value, list) else "{}"
    return str(value)


def _describe(info: Any) -> str:
    parts = []
    if get_origin(info.annotation) is Literal:
        parts.append("one of " + ", ".join(f"`{v}`" for v in get_args(info.annotation)))
    if info.description:
        parts.append(info.description)
    return "; ".join(parts)


def reference_rows() -> dict[str, tuple[str, str, str]]:
    """Every setting as key -> (default, environment variable, description)."""
    by_path = {path: name for name, path in env_names().items()}
    rows: dict[str, tuple[str, str, str]] = {}
    for section, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for key, sub in model.model_fields.items():
                env = by_path[(section, key)]
                rows[f"{section}.{key}"] = (_default_text(sub), env, _describe(sub))
        else:
            rows[section] = (_default_text(info), by_path[(section,)], _describe(info))
    for key, sub in ModelEntry.model_fields.items():
        rows[f"models[].{key}"] = (_default_text(sub), "", _describe(sub))
    return rows


def readme_rows() -> dict[str, tuple[str, str]]:
    """Rows of the README's configuration tables: `key` | `default` | `ENV` | description."""
    text = README.read_text()
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2].strip("`"))
    return rows


def test_readme_lists_every_setting_with_its_default_and_env_var() -> None:
    expected = reference_rows()
    documented = readme_rows()
    wrong = []
    for key, (default, env, description) in expected.items():
        if documented.get(key) != (default, env):
            env_cell = f"`{env}`" if env else ""
            wrong.append(f"| `{key}` | `{default}` | {env_cell} | {description} |")
    stale = sorted(set(documented) - set(expected))
    assert not wrong, "README.md configuration reference needs these rows:\n" + "\n".join(wrong)
    assert not stale, f"README.md documents settings that no longer exist: {stale}"
