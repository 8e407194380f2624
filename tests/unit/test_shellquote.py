"""Values rendered into a shell ``cmd`` template cannot change the command (shellquote)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.models import Action
from core.params import resolve_parameters
from core.runners.types import LOCAL_SHELL_CMD, LOCAL_SHELL_SCRIPT
from core.templates.shellquote import shell_quoted_template


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('echo "{{message}}"', 'echo "{{ (message) | shell_dq }}"'),
        ("echo '{{ m }}'", "echo '{{ ( m ) | shell_sq }}'"),
        (
            "ping -c {{count}} {{host}}",
            "ping -c {{ (count) | shell_word }} {{ (host) | shell_word }}",
        ),
        ("a {{- x -}} b", "a {{- ( x ) | shell_word -}} b"),
        ('echo "{{ "}}" }}"', 'echo "{{ ( "}}" ) | shell_dq }}"'),
        ("{% if a %}sudo{% endif %} ls", "{% if a %}sudo{% endif %} ls"),
        ("echo \\'{{x}}", "echo \\'{{ (x) | shell_word }}"),
        ('echo "it\'s {{x}}"', 'echo "it\'s {{ (x) | shell_dq }}"'),
        ("{# {{x}} #}echo", "{# {{x}} #}echo"),
    ],
)
def test_each_expression_gets_the_filter_of_its_quote_context(source: str, expected: str) -> None:
    assert shell_quoted_template(source) == expected


def test_an_unclosed_tag_is_an_error() -> None:
    with pytest.raises(ValueError, match="unclosed"):
        shell_quoted_template("echo {{ x")


def echo_action() -> Action:
    cmd = {"type": "string", "default": 'echo "{{message}}"', "immutable": True}
    return Action(
        pack="demo",
        name="echo",
        runner_type="local-shell-cmd",
        pack_path=Path("/packs/demo"),
        parameters={"message": {"type": "string", "required": True}, "cmd": cmd},
    )


def test_resolve_quotes_live_values_inside_the_cmd_default() -> None:
    resolved = resolve_parameters(
        LOCAL_SHELL_CMD, echo_action(), {"message": "$(touch /tmp/pwned)"}, render_live=False
    )
    assert resolved.runner["cmd"] == 'echo "\\$(touch /tmp/pwned)"'


def test_script_runner_cmd_is_quoted_for_shlex_split() -> None:
    action = Action(
        pack="demo",
        name="ssh",
        runner_type="local-shell-script",
        pack_path=Path("/packs/demo"),
        entry_point="x.sh",
        parameters={
            "host": {"type": "string"},
            "cmd": {"type": "string", "default": "ssh {{host}}", "immutable": True},
        },
    )
    resolved = resolve_parameters(LOCAL_SHELL_SCRIPT, action, {"host": "-oProxyCommand=id x"})
    assert resolved.all["cmd"] == "ssh '-oProxyCommand=id x'"


def test_other_parameters_are_rendered_unquoted() -> None:
    action = echo_action()
    params = {**action.parameters, "note": {"type": "string", "default": "{{ message }}!"}}
    action = replace(action, parameters=params)
    resolved = resolve_parameters(LOCAL_SHELL_CMD, action, {"message": "$x"})
    assert resolved.action["note"] == "$x!"
