"""``load_settings``: find the config file, read YAML safely, substitute ``${VAR}``, parse.

Where the file comes from, first match wins: ``--config``, ``$SQUALL_CONFIG``, ``./squall.yaml``,
then the user's config folder (``$XDG_CONFIG_HOME/squall/squall.yaml``, else
``~/.config/squall/squall.yaml``). A file named by ``--config`` or ``$SQUALL_CONFIG`` must exist;
when nothing is found the built-in defaults apply to the current folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings.errors import SettingsError
from bot.settings.parser import Context, parse_document
from bot.settings.schema import Settings

CONFIG_ENV_VAR = "SQUALL_CONFIG"
CONFIG_FILE_NAME = "squall.yaml"


@dataclass(frozen=True)
class ConfigChoice:
    """The config file a command uses (None: built-in defaults) and how it was found."""

    path: Path | None
    how: str


def find_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ConfigChoice:
    env = os.environ if env is None else env
    if path is not None:
        return ConfigChoice(Path(path), "--config")
    if env.get(CONFIG_ENV_VAR):
        return ConfigChoice(Path(env[CONFIG_ENV_VAR]), f"${CONFIG_ENV_VAR}")
    here = (cwd or Path.cwd()) / CONFIG_FILE_NAME
    if here.is_file():
        return ConfigChoice(here, f"./{CONFIG_FILE_NAME}")
    user_file = user_config_dir(env) / "squall" / CONFIG_FILE_NAME
    if user_file.is_file():
        return ConfigChoice(user_file, "the user's config folder")
    return ConfigChoice(None, f"no config file found (looked at ./{CONFIG_FILE_NAME}, {user_file})")


def user_config_dir(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_CONFIG_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec ignores relative values
        return Path(xdg)
    return Path(env.get("HOME") or Path.home()) / ".config"


def load_settings(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """Load the settings of the config file ``find_config`` picks, else defaults for the cwd.

    ``env`` (default ``os.environ``) is read here and only here. Raises SettingsError listing
    every problem, each with its dotted key path.
    """
    env = os.environ if env is None else env
    chosen = find_config(path, env=env).path
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
