"""Quoting follows shell nesting (security.md row 52), checked through a real ``bash -c``.

The attack: a pack template ``echo "$(echo {{msg}})"`` with chat value ``x; touch canary``.
Inside ``"…$( … )…"`` the value is unquoted again, so double-quote escaping let it run. Then:
hypothesis builds templates from shell constructs and renders hostile values into them; a
template either refuses to render (naming the parameter) or runs with the canary never
created and every command seeing the same number of arguments as with a harmless value.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import Action
from core.params import ParameterError, resolve_parameters
from core.runners.types import LOCAL_SHELL_CMD

# ``args`` reports how many arguments each call got on stderr (a command substitution only
# captures stdout, so nesting does not hide the counts).
PRELUDE = 'args() { echo "$#" >&2; }; '
CANARY = "canary"


def render(template: str, value: str) -> str:
    action = Action(
        pack="demo",
        name="t",
        runner_type="local-shell-cmd",
        pack_path=Path("/packs/demo"),
        parameters={
            "msg": {"type": "string"},
            "cmd": {"type": "string", "default": template, "immutable": True},
        },
    )
    resolved = resolve_parameters(LOCAL_SHELL_CMD, action, {"msg": value}, render_live=False)
    return str(resolved.runner["cmd"])


def bash(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", PRELUDE + cmd], cwd=cwd, capture_output=True, text=True, timeout=10
    )


def test_a_value_inside_command_substitution_in_double_quotes_is_one_word(
    tmp_path: Path,
) -> None:
    cmd = render('echo "$(echo {{msg}})"', f"x; touch {CANARY}")
    done = bash(cmd, tmp_path)
    assert not (tmp_path / CANARY).exists()
    assert done.stdout == f"x; touch {CANARY}\n"


@pytest.mark.parametrize(
    ("template", "prefix"),
    [
        ("echo `echo {{msg}}`", ""),
        ('echo "a$(echo "b{{msg}}")"', "ab"),
        ("echo $(echo $(echo {{msg}}))", ""),
        ("echo \"$(echo '{{msg}}')\"", ""),
        ('echo `echo "{{msg}}"`', ""),
        ("cat <(echo {{msg}})", ""),
    ],
)
def test_nested_contexts_keep_the_value_exact(template: str, prefix: str, tmp_path: Path) -> None:
    value = f"a'b\"c\\d`touch {CANARY}`$(touch {CANARY})$((1+1)) e\nf"
    done = bash(render(template, value), tmp_path)
    assert not (tmp_path / CANARY).exists()
    # An unquoted substitution is word-split by the template itself: compare words.
    assert done.stdout.split() == (prefix + value).split()


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("echo ${X:-{{msg}}}", "inside ${...}"),
        ("echo x # {{msg}}", "inside a comment"),
        ("cat <<EOF\n{{msg}}\nEOF", "here-document"),
        ("[[ {{msg}} -eq 1 ]] && echo y", "inside [[ ... ]]"),
        ("eval echo {{msg}}", "'eval'"),
        ('echo "`echo {{msg}}`"', "backquote inside double quotes"),
        ("echo $'{{msg}}'", "$'...'"),
        ('{% if msg %}echo "{% endif %}{{msg}}', "differs across the Jinja block"),
    ],
)
def test_an_unsure_context_refuses_to_render_naming_the_template(template: str, why: str) -> None:
    with pytest.raises(ParameterError) as raised:
        render(template, "x")
    assert 'parameter "cmd"' in str(raised.value) and why in str(raised.value)


def test_arithmetic_takes_only_integers() -> None:
    assert render("echo $(( {{msg}} + 1 ))", "41") == "echo $(( 41 + 1 ))"
    with pytest.raises(ParameterError, match="integer"):
        render("echo $(( {{msg}} + 1 ))", "a[$(touch canary)]")


# -- hypothesis: random templates x hostile values ----------------------------------------
WORDS = st.sampled_from(["{{msg}}", "x{{msg}}y", "--o={{msg}}", "a"])
ATOMS = st.sampled_from(
    [
        "args {w}",
        'args "{w}"',
        "args '{w}'",
        'args "pre {w} post" {w}',
        "args $(args {w}) {w}",
        'args "$(args {w})"',
        'args "$(args "{w}")" {w}',
        "args \"$(args '{w}')\"",
        "args `args {w}`",
        'args `args "{w}"`',
        "args `args '{w}'`",
        "( args {w} )",
        "{{ args {w}; }}",
        "args $((1 + 1)) {w}",
        'args "${{HOME}}" {w}',
        "args {w} | args {w}",
        "true && args {w} || args {w}",
    ]
)
HOSTILE = st.lists(
    st.sampled_from(
        [
            ";",
            "&",
            "|",
            "\n",
            "'",
            '"',
            "`",
            "\\",
            "$",
            "(",
            ")",
            "{",
            "}",
            "*",
            "?",
            " ",
            "#",
            "<",
            ">",
            "!",
            "~",
            "\t",
            "$(touch canary)",
            "`touch canary`",
            "';touch canary;'",
            '";touch canary;"',
            "a[$(touch canary)]",
            "$((",
            "))",
            "${IFS}",
            "--",
            "x",
            "}}",
            "{{",
            "%}",
        ]
    ),
    min_size=1,
    max_size=6,
).map("".join)


@st.composite
def templates(draw: st.DrawFn) -> str:
    atoms = draw(st.lists(ATOMS, min_size=1, max_size=3))
    parts = [atom.format(w=draw(WORDS)) for atom in atoms]
    return draw(st.sampled_from(["; ", " && ", "\n"])).join(parts)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(template=templates(), value=HOSTILE)
def test_hostile_values_never_run_a_command_nor_change_argument_counts(
    template: str, value: str, tmp_path: Path
) -> None:
    try:
        hostile = render(template, value)
    except ParameterError:
        return  # refusing to render is always safe
    benign = bash(render(template, "v"), tmp_path)
    attacked = bash(hostile, tmp_path)
    assert not (tmp_path / CANARY).exists(), hostile
    assert attacked.stderr == benign.stderr, hostile
