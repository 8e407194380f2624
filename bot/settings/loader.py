"""``load_settings``: find the config file, read YAML safely, substitute ``${VAR}``, parse."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from bot.settings.errors import SettingsError
from bot.settings.parser import Context, parse_document
from bot.settings.schema import Settings

CONFIG_ENV_VAR = "SQUALL_CONFIG"


def load_settings(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """Load settings from ``path``, else ``$SQUALL_CONFIG``, else defaults for the cwd.

    ``env`` (default ``os.environ``) is read here and only here. Raises SettingsError listing
    every problem, each with its dotted key path.
    """
    env = os.environ if env is None else env
    chosen = path if path is not None else env.get(CONFIG_ENV_VAR) or None
    if chosen is None:
        return Settings.defaults(Path.cwd())
    file = Path(os.path.abspath(chosen))
    label = str(chosen)
    raw = _read_yaml(file, label)
    ctx = Context(base_dir=file.parent, env=env, source=file, label=label)
    return parse_document(Settings, raw, ctx)


def _read_yaml(file: Path, label: str) -> object:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(["config file not found"], label) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError([f"cannot read config file: {exc}"], label) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError([_yaml_message(exc)], label) from None


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
