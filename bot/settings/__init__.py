"""Squall settings: YAML + ``${ENV}`` → frozen dataclasses, every error reported with its path.

Usage::

    settings = load_settings("config.yaml")   # else found (see loader)
    settings.http.port                         # 9101
    settings.packs.resolved_paths()            # (bundled packs/, *packs.paths), absolute
"""

from bot.settings.errors import SettingsError
from bot.settings.loader import CONFIG_ENV_VAR, ConfigChoice, find_config, load_settings
from bot.settings.schema import (
    BUNDLED_PACKS_DIR,
    AliasesSettings,
    CryptoSettings,
    ExecutionsSettings,
    HttpRunnerSettings,
    HttpSettings,
    LogFormat,
    LogLevel,
    LogSettings,
    PacksSettings,
    RunnersSettings,
    Settings,
    StoreSettings,
)

__all__ = [
    "BUNDLED_PACKS_DIR",
    "CONFIG_ENV_VAR",
    "AliasesSettings",
    "ConfigChoice",
    "CryptoSettings",
    "ExecutionsSettings",
    "HttpRunnerSettings",
    "HttpSettings",
    "LogFormat",
    "LogLevel",
    "LogSettings",
    "PacksSettings",
    "RunnersSettings",
    "Settings",
    "SettingsError",
    "StoreSettings",
    "find_config",
    "load_settings",
]
