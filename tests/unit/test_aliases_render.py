"""Alias ack / result messages (st2-format §6.4)."""

from __future__ import annotations

from typing import Any

from core.aliases.render import RenderedResult, render_ack, render_result, split_pretext
from core.models import Alias

EXECUTION: dict[str, Any] = {
    "id": "e1",
    "status": "succeeded",
    "action": {"ref": "core.local", "runner_type": "local-shell-cmd"},
    "parameters": {"cmd": "date"},
    "result": {"stdout": "Sun", "stderr": "", "return_code": 0},
    "elapsed_seconds": 1.5,
}


def make(**fields: Any) -> Alias:
    return Alias(pack="p", name="a", action_ref="core.local", **fields)


def test_ack_renders_with_execution_and_alias() -> None:
    alias = make(ack={"format": "{{ actionalias.ref }} runs {{ execution.id }}"})
    assert render_ack(alias, EXECUTION) == "p.a runs e1"


def test_ack_disabled_is_none() -> None:
    assert render_ack(make(ack={"enabled": False}), EXECUTION) is None


def test_ack_default_and_url_only_when_configured() -> None:
    assert render_ack(make(), EXECUTION) == (
        "I'll take it from here! Your execution ID for reference is e1"
    )
    with_url = render_ack(make(), EXECUTION, web_url="https://x/e1")
    assert with_url is not None and with_url.endswith(" (details available at https://x/e1)")
    no_url = make(ack={"append_url": False})
    assert "details" not in (render_ack(no_url, EXECUTION, web_url="https://x") or "")


def test_ack_undefined_variable_gives_st2_error_text() -> None:
    message = render_ack(make(ack={"format": "{{ nope }}"}), EXECUTION)
    assert message == 'Cannot render "format" in field "ack" for alias. \'nope\' is undefined'


def test_result_splits_pretext_and_renders_extra() -> None:
    alias = make(
        result={
            "format": "ran {{ alias.name }}{~}{{ execution.result.stdout }}",
            "extra": {"slack": {"color": "{{ 'good' if execution.status == 'succeeded' }}"}},
        }
    )
    assert render_result(alias, EXECUTION) == RenderedResult(
        "ran a", "Sun", {"slack": {"color": "good"}}
    )


def test_result_disabled_is_none() -> None:
    assert render_result(make(result={"enabled": False}), EXECUTION) is None


def test_default_result_shows_the_runners_truthy_keys() -> None:
    rendered = render_result(make(), EXECUTION)
    assert rendered is not None and rendered.pretext is None
    assert rendered.text == (
        "Action core.local completed.\nstatus : succeeded\nexecution: e1\n"
        "Took 1.5s to complete.\nresult :\n--------\nstdout : Sun"
    )


def test_split_pretext() -> None:
    assert split_pretext("a{~}b{~}c") == ("a", "b{~}c")
    assert split_pretext("plain") == (None, "plain")


def test_result_missing_keys_render_empty_like_st2() -> None:
    alias = make(result={"format": "[{{ execution.result.result }}|{{ execution.nope.deeper }}]"})
    rendered = render_result(alias, EXECUTION)
    assert rendered is not None and rendered.text == "[|]"


def test_result_values_keep_their_text_and_json() -> None:
    alias = make(result={"format": "{{ execution.parameters }} {{ execution.result | tojson }}"})
    rendered = render_result(alias, EXECUTION)
    assert rendered is not None
    assert rendered.text == (
        '{\'cmd\': \'date\'} {"return_code": 0, "stderr": "", "stdout": "Sun"}'
    )
