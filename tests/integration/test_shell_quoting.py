"""A value rendered into a shell ``cmd`` template reaches bash as exactly that value."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.templates.render import render_template
from core.templates.shellquote import shell_quoted_template

NASTY = ["$(id)", "`id`", '"; id; "', "'; id; '", "a\\", "\\$HOME", "$HOME", "-rf /", "", "x\ny"]


def bash(template: str, **values: str) -> str:
    cmd = render_template(shell_quoted_template(template), values)
    return subprocess.run(
        ["bash", "-c", cmd], capture_output=True, check=True, timeout=10
    ).stdout.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("value", NASTY)
@pytest.mark.parametrize(
    "template", ['printf %s "{{v}}"', "printf %s '{{v}}'", "printf %s {{v}}", 'printf %s "a{{v}}b"']
)
def test_bash_prints_the_value_exactly(template: str, value: str) -> None:
    expected = value if "a{{v}}b" not in template else f"a{value}b"
    assert bash(template, v=value) == expected


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")))
def test_any_text_stays_one_argument(value: str) -> None:
    out = bash('printf "%s|" "{{v}}" {{v}} \'{{v}}\'', v=value)
    # One argument per expression: each printf %s consumes exactly the value (or nothing when
    # an unquoted value is empty, as bash drops an empty unquoted expansion).
    expected = f"{value}|" + (f"{value}|" if value else "") + f"{value}|"
    assert out == expected
