"""Runner type definitions (StackStorm's runner.yaml files as data, st2-format §2.4).

Pure data: the pack loader and the parameter pipeline use these without starting any runner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.models import ParamSchema, RunnerType

# ``env`` keys must be variable names: ``BASH_FUNC_name%%`` would export a bash function that
# replaces a command the action runs (a permission rule allowing ``cmd: uptime`` then runs
# anything). Draft 4 has no ``propertyNames``; a pattern plus no other properties says it.
ENV_NAMES: ParamSchema = {
    "patternProperties": {"^[A-Za-z_][A-Za-z0-9_]*$": {}},
    "additionalProperties": False,
}

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def bad_env_name(parameters: Mapping[str, Any]) -> bool:
    """Whether the ``env`` parameter names something that is not a plain variable name."""
    env = parameters.get("env")
    return isinstance(env, Mapping) and any(
        not isinstance(key, str) or _ENV_NAME.fullmatch(key) is None for key in env
    )


# Shared by the local and the remote shell runners.
_ARGUMENTS_AND_SUDO: dict[str, ParamSchema] = {
    "kwarg_op": {
        "type": "string",
        "default": "--",
        "description": "Operator used in front of keyword arguments.",
    },
    "sudo": {"type": "boolean", "default": False, "description": "Run the command with sudo."},
}

_SHELL_COMMON: dict[str, ParamSchema] = {
    "cwd": {"type": "string", "description": "Working directory where the command is run."},
    "env": {
        "type": "object",
        "description": "Environment variables for the command.",
        **ENV_NAMES,
    },
    **_ARGUMENTS_AND_SUDO,
    "sudo_password": {
        "type": "string",
        "secret": True,
        "required": False,
        "description": "Password for sudo.",
    },
    "timeout": {"type": "integer", "default": 60, "description": "Timeout in seconds."},
}

LOCAL_SHELL_CMD = RunnerType(
    name="local-shell-cmd",
    description="Runs a pack-authored command through bash on the Squall host.",
    parameters={
        "cmd": {"type": "string", "description": "Command to run (bash syntax)."},
        **_SHELL_COMMON,
    },
)

LOCAL_SHELL_SCRIPT = RunnerType(
    name="local-shell-script",
    description="Runs a pack script with arguments built from the action parameters.",
    parameters={
        **_SHELL_COMMON,
        "debug": {"type": "boolean", "default": False, "description": "Run with bash -x."},
        "content_version": {"type": "string", "description": "Accepted for st2 compatibility."},
    },
)

PYTHON_SCRIPT = RunnerType(
    name="python-script",
    description="Runs a pack's Action subclass in a warmed Python interpreter.",
    output_key="result",
    parameters={
        "env": {
            "type": "object",
            "description": "Environment variables for the action.",
            **ENV_NAMES,
        },
        "timeout": {"type": "integer", "default": 600, "description": "Timeout in seconds."},
        "log_level": {
            "type": "string",
            "default": "DEBUG",
            "enum": ["AUDIT", "CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"],
            "description": "Log level of the action's logger.",
        },
        "debug": {"type": "boolean", "default": False, "description": "Debug logging."},
        "content_version": {"type": "string", "description": "Accepted for st2 compatibility."},
    },
)

HTTP_REQUEST = RunnerType(
    name="http-request",
    description="Makes an HTTP request with aiohttp.",
    output_key="body",
    parameters={
        "url": {"type": "string", "required": True, "description": "URL to request."},
        "headers": {"type": "object", "description": "HTTP headers."},
        "cookies": {"type": "object", "description": "Cookies to send."},
        "username": {"type": "string", "description": "Basic auth user name."},
        "password": {"type": "string", "secret": True, "description": "Basic auth password."},
        "allow_redirects": {
            "type": "boolean",
            "default": False,
            "description": "Follow redirects (each hop is checked by the SSRF policy).",
        },
        "verify_ssl_cert": {"type": "boolean", "default": True, "description": "Verify TLS."},
        "http_proxy": {"type": "string", "description": "Proxy for http:// URLs."},
        "https_proxy": {"type": "string", "description": "Proxy for https:// URLs."},
        "url_hosts_blacklist": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Hosts this action may not call.",
        },
        "url_hosts_whitelist": {
            "type": "array",
            "items": {"type": "string"},
            "description": "If set, the only hosts this action may call.",
        },
    },
)

_REMOTE_COMMON: dict[str, ParamSchema] = {
    "hosts": {
        "type": "string",
        "required": True,
        "description": "Comma-separated hosts to run on, each optionally host:port.",
    },
    "username": {"type": "string", "description": "Login user (default: runners.ssh.user)."},
    "password": {"type": "string", "secret": True, "description": "Login password."},
    "private_key": {
        "type": "string",
        "secret": True,
        "description": "Private key material, or the path of a key file on the Squall host.",
    },
    "passphrase": {"type": "string", "secret": True, "description": "Passphrase of the key."},
    "port": {"type": "integer", "description": "SSH port of hosts that name none (22)."},
    # st2's runner.yaml says false, but st2 runs hosts concurrently whatever it says; an action
    # may set its default to false to go one host after another.
    "parallel": {
        "type": "boolean",
        "default": True,
        "immutable": True,
        "description": "Run on the hosts at once (else one after another).",
    },
    "concurrency": {
        "type": "integer",
        "description": "Most hosts at once when parallel (default: runners.ssh.max_parallel).",
    },
    "bastion_host": {
        "type": "string",
        "description": "Host to tunnel through, logged in to with the same credentials.",
    },
    "cwd": {"type": "string", "default": "/tmp", "description": "Remote working directory."},
    "env": {"type": "object", "description": "Environment variables for the command."},
    **_ARGUMENTS_AND_SUDO,
    "sudo_password": {
        "type": "string",
        "secret": True,
        "required": False,
        "description": "Password for sudo, when passwordless sudo is not allowed.",
    },
    "timeout": {"type": "integer", "default": 60, "description": "Timeout per host in seconds."},
}

REMOTE_SHELL_CMD = RunnerType(
    name="remote-shell-cmd",
    description="Runs a command over SSH on each of the given hosts.",
    parameters={
        "cmd": {"type": "string", "description": "Command to run on the remote hosts."},
        **_REMOTE_COMMON,
        "dir": {
            "type": "string",
            "default": "/tmp",
            "immutable": True,
            "description": "Remote directory where scripts are copied to.",
        },
    },
)

REMOTE_SHELL_SCRIPT = RunnerType(
    name="remote-shell-script",
    description="Copies a pack script to each host over SFTP and runs it there.",
    parameters={
        **_REMOTE_COMMON,
        "dir": {
            "type": "string",
            "default": "/tmp",
            "description": "Remote directory under which the per-execution folder is made.",
        },
        "debug": {"type": "boolean", "default": False, "description": "Run with bash -x."},
    },
)

NOOP = RunnerType(name="noop", description="Does nothing and succeeds.")

# Squall's own: ``core.inject_trigger`` hands its trigger to the engine's dispatcher.
INJECT_TRIGGER = RunnerType(
    name="inject-trigger", description="Dispatches a trigger instance so rules can fire."
)

# Squall's own: the ``chatops`` pack posts through the chat adapters of ``squall serve``.
CHAT_POST = RunnerType(
    name="chat-post",
    description="Posts a message or an execution's result card to a chat channel or route.",
    parameters={
        "operation": {
            "type": "string",
            "enum": ["message", "result"],
            "default": "message",
            "description": "Post the 'message' parameter, or the result of 'execution_id'.",
        },
    },
)

# Squall's own: the bundled ``packs`` pack installs and removes packs inside ``squall serve``
# (what ``POST /api/v1/packs/install|uninstall`` runs), then reloads the content.
PACK_MANAGE = RunnerType(
    name="pack-manage",
    description="Installs or removes packs in the running server and reloads its content.",
    parameters={
        "operation": {
            "type": "string",
            "enum": ["install", "uninstall"],
            "default": "install",
            "description": "Install the packs named by 'packs' (sources), or remove them (refs).",
        },
    },
)

ORQUESTA = RunnerType(
    name="orquesta",
    description="Runs an Orquesta workflow (entry_point: a workflow YAML under actions/).",
)

ACTION_CHAIN = RunnerType(
    name="action-chain",
    description="Runs a linear chain of actions (entry_point: a chain YAML under actions/).",
    parameters={
        "display_published": {"type": "boolean", "default": True,
                              "description": "Show the published variables in the result."},
        "skip_notify": {"type": "array", "default": [], "items": {"type": "string"},
                        "description": "Tasks that send no notifications."},
    },
)  # fmt: skip

# st2's default inquiry schema (st2-format §8): ``required: true`` on a property is draft-4
# style, normalised by core.approvals.inquiries before use.
DEFAULT_INQUIRY_SCHEMA = {
    "title": "response_data",
    "type": "object",
    "properties": {
        "continue": {
            "type": "boolean",
            "description": "Would you like to continue the workflow?",
            "required": True,
        }
    },
}

INQUIRER = RunnerType(
    name="inquirer",
    description="Asks people a question (an inquiry) and waits for their answer.",
    parameters={
        "schema": {"type": "object", "default": DEFAULT_INQUIRY_SCHEMA,
                   "description": "JSON schema the response must satisfy."},
        "roles": {"type": "array", "default": [], "items": {"type": "string"},
                  "description": "Roles allowed to respond (empty: anyone)."},
        "users": {"type": "array", "default": [], "items": {"type": "string"},
                  "description": "Users allowed to respond (empty: anyone)."},
        "route": {"type": "string", "default": "",
                  "description": "Where to ask: a notify route name, or empty for the chat "
                                 "the workflow was started from."},
        "ttl": {"type": "integer", "default": 1440,
                "description": "Minutes before the inquiry times out; 0 or less: never."},
    },
)  # fmt: skip

RUNNER_TYPES: dict[str, RunnerType] = {
    r.name: r
    for r in (
        LOCAL_SHELL_CMD,
        LOCAL_SHELL_SCRIPT,
        REMOTE_SHELL_CMD,
        REMOTE_SHELL_SCRIPT,
        PYTHON_SCRIPT,
        HTTP_REQUEST,
        NOOP,
        INJECT_TRIGGER,
        CHAT_POST,
        PACK_MANAGE,
        ORQUESTA,
        ACTION_CHAIN,
        INQUIRER,
    )
}

# Runner types StackStorm has that later issues may add or that Squall does not run (winrm:
# Windows hosts); the loader reports them with a clear message.
LATER_RUNNERS = frozenset({"announcement"})
UNSUPPORTED_RUNNERS = frozenset(
    {
        "winrm-cmd",
        "winrm-ps-cmd",
        "winrm-ps-script",
    }
)
