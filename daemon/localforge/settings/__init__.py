"""One typed settings tree: defaults < config.toml < LOCALFORGE_* environment < flags.

``schema`` declares the sections; ``loading`` merges the layers, validates once and
remembers where every value came from.
"""

from localforge.settings.loading import (
    LoadedSettings,
    check_config_file,
    config_warnings,
    env_names,
    load_settings,
    parse_flag_assignments,
    read_config_file,
    resolve_config_path,
    validate,
)
from localforge.settings.schema import (
    ENV_PREFIX,
    HTTP_RESTART_KEYS,
    MIB,
    ClassifierSettings,
    DaemonSettings,
    EmbeddingSettings,
    HttpSettings,
    LspSettings,
    MemorySettings,
    ModelEntry,
    ResidencySettings,
    RoutingSettings,
    Section,
    Settings,
    Source,
    StorageSettings,
    WeightSettings,
    split_listen,
)

__all__ = [
    "ENV_PREFIX",
    "HTTP_RESTART_KEYS",
    "MIB",
    "ClassifierSettings",
    "DaemonSettings",
    "EmbeddingSettings",
    "HttpSettings",
    "LoadedSettings",
    "LspSettings",
    "MemorySettings",
    "ModelEntry",
    "ResidencySettings",
    "RoutingSettings",
    "Section",
    "Settings",
    "Source",
    "StorageSettings",
    "WeightSettings",
    "check_config_file",
    "config_warnings",
    "env_names",
    "load_settings",
    "parse_flag_assignments",
    "read_config_file",
    "resolve_config_path",
    "split_listen",
    "validate",
]
