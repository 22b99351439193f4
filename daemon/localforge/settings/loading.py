"""Load the settings: defaults < config.toml < LOCALFORGE_* environment < flags.

The loader merges the layers as plain dicts, validates once, and remembers which
layer set every key so that ``lfctl config show`` can say where a value came
from. Lists of paths in the environment are ``:``-separated, other lists and
tables are JSON.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from localforge.errors import ConfigError
from localforge.paths import Paths
from localforge.settings.schema import ENV_PREFIX, Section, Settings, Source


@dataclass(frozen=True)
class LoadedSettings:
    """Validated settings plus where each value came from."""

    settings: Settings
    sources: dict[str, Source]
    config_file: Path
    config_file_found: bool
    env_keys: list[str] = field(default_factory=list)

    def describe(self) -> list[dict[str, Any]]:
        """Every leaf setting as ``{key, value, source}``, for ``config show``."""
        rows = []
        for key, value in _flatten(self.settings.model_dump(mode="json")).items():
            rows.append({"key": key, "value": value, "source": self.sources.get(key, "default")})
        return rows

    def report(self) -> dict[str, Any]:
        """The config file, whether it exists, and every setting (``daemon.config``'s answer)."""
        return {
            "config_file": str(self.config_file),
            "file_found": self.config_file_found,
            "settings": self.describe(),
        }


def load_settings(
    paths: Paths,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> LoadedSettings:
    """Merge the four layers and validate; raise ConfigError naming key, value and source."""
    env = os.environ if env is None else env
    config_file = config_file or _config_path_from_env(env) or paths.config_file
    layers: list[tuple[Source, dict[str, Any]]] = []
    found = config_file.is_file()
    if found:
        layers.append(("file", read_config_file(config_file)))
    env_layer, env_keys = _env_layer(env)
    layers.append(("env", env_layer))
    layers.append(("flag", _flag_layer(flags or {})))

    merged: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for source, layer in layers:
        _deep_merge(merged, layer)
        for key in _flatten(layer):
            sources[key] = source
    settings = validate(merged, sources)
    return LoadedSettings(settings, sources, config_file, found, env_keys)


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}; fix the syntax") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc


def check_config_file(path: Path) -> Settings:
    """Validate one config file on its own (``lfctl config check FILE``)."""
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    data = read_config_file(path)
    return validate(data, {key: "file" for key in _flatten(data)})


def config_warnings(settings: Settings, config_file: Path | None = None) -> list[str]:
    """What is valid but will not work yet: model files and directories that do not exist.

    Relative paths are read against the config file's directory, as the registry reads them.
    """
    base = config_file.parent if config_file is not None else None
    warnings = []
    for entry in settings.models:
        if entry.path is None:
            continue
        path = resolve_config_path(entry.path, base)
        if not path.exists():
            warnings.append(
                f"model '{entry.name}': {path} does not exist; it is listed as broken until "
                "the file is there (fix 'path' if it is not on its way)"
            )
    for directory in settings.model_dirs:
        path = resolve_config_path(directory, base)
        if not path.is_dir():
            warnings.append(
                f"model_dirs: {path} is not a directory; create it or remove it from model_dirs"
            )
    return warnings


def resolve_config_path(path: Path, base: Path | None) -> Path:
    """``~`` expanded; a relative path is read against ``base`` (the config file's directory)."""
    path = Path(path).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def validate(data: Mapping[str, Any], sources: Mapping[str, Source]) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources)) from exc


def _explain(exc: ValidationError, sources: Mapping[str, Source]) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"])
        where = sources.get(key) or _source_of_prefix(key, sources)
        origin = f" (from {where})" if where else ""
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown setting '{key}'{origin}: remove it or check the spelling")
            continue
        shown = err.get("input")
        value = "" if isinstance(shown, dict) else f" = {shown!r}"
        problems.append(f"invalid setting '{key}'{value}{origin}: {err['msg']}")
    return "; ".join(problems)


def _source_of_prefix(key: str, sources: Mapping[str, Source]) -> Source | None:
    for known, source in sources.items():
        if known.startswith(key + ".") or key.startswith(known + "."):
            return source
    return None


def _config_path_from_env(env: Mapping[str, str]) -> Path | None:
    value = env.get(ENV_PREFIX + "CONFIG")
    return Path(value) if value else None


def env_names() -> dict[str, tuple[str, ...]]:
    """Map every environment variable name to the settings path it sets."""
    names: dict[str, tuple[str, ...]] = {}
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            for key, sub in annotation.model_fields.items():
                extra = sub.json_schema_extra if isinstance(sub.json_schema_extra, dict) else {}
                env_name = str(extra.get("env") or f"{ENV_PREFIX}{name}_{key}".upper())
                names[env_name] = (name, key)
        else:
            names[f"{ENV_PREFIX}{name}".upper()] = (name,)
    return names


def _env_layer(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    layer: dict[str, Any] = {}
    used = []
    for env_name, path in env_names().items():
        if env_name not in env:
            continue
        used.append(env_name)
        _set_path(layer, path, _parse_env_value(path, env[env_name], env_name))
    return layer, used


def _parse_env_value(path: tuple[str, ...], raw: str, env_name: str) -> Any:
    annotation = _annotation_of(path)
    if get_origin(annotation) is list and get_args(annotation) and get_args(annotation)[0] is Path:
        return [part for part in raw.split(os.pathsep) if part]
    if get_origin(annotation) in (list, dict) or raw.lstrip().startswith(("[", "{")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{env_name} must be JSON for this setting: {exc}") from exc
    return raw


def _annotation_of(path: tuple[str, ...]) -> Any:
    model: type[BaseModel] = Settings
    annotation: Any = None
    for part in path:
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return annotation


def _flag_layer(flags: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for dotted, raw in flags.items():
        path = tuple(dotted.split("."))
        try:
            value = _parse_env_value(path, raw, f"--set {dotted}")
        except KeyError:
            value = raw  # unknown key: validation reports it with its name
        _set_path(layer, path, value)
    return layer


def parse_flag_assignments(assignments: list[str]) -> dict[str, str]:
    """Turn ``["daemon.log_level=debug", ...]`` into a dict; reject malformed items."""
    flags = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--set expects KEY=VALUE (for example daemon.log_level=debug), got {item!r}"
            )
        flags[key.strip()] = value
    return flags


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested tables to dotted keys; lists (like ``models``) stay whole."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "benchmarks":
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat
