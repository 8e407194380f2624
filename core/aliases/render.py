"""Alias ``ack`` and ``result`` messages (st2-format §6.4).

Only pack-authored ``format`` / ``extra`` templates are rendered, through the one sandboxed
environment (``core.templates.render``); chat text reaches them only as context values. Contexts are
st2's: ``{execution, actionalias}`` for the ack (an undefined variable gives st2's error text),
``{execution, alias}`` for the result, where, as in st2, a missing key below those two names
renders as empty text (``execution.result.stdout`` of a python action).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from core.aliases.api import alias_to_api
from core.models import Alias
from core.templates.render import TemplateError, render_template, render_value

__all__ = [
    "DEFAULT_ACK",
    "PRETEXT_SEPARATOR",
    "RenderedResult",
    "default_result",
    "render_ack",
    "render_ack_extra",
    "render_result",
    "split_pretext",
]

PRETEXT_SEPARATOR: Final = "{~}"
# One of st2chatops' stock acknowledgements, chosen for determinism.
DEFAULT_ACK: Final = "I'll take it from here! Your execution ID for reference is {id}"
# Result keys the default message shows, by runner (st2 chatops.format_execution_result).
_SHELL_KEYS = ("stdout", "stderr", "return_code", "error")
_RESULT_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "local-shell-cmd": _SHELL_KEYS,
    "local-shell-script": _SHELL_KEYS,
    "remote-shell-cmd": _SHELL_KEYS,
    "remote-shell-script": _SHELL_KEYS,
    "python-script": ("result", "stdout", "stderr", "exit_code"),
}


@dataclass(frozen=True)
class RenderedResult:
    pretext: str | None
    text: str
    extra: Mapping[str, Any] = field(default_factory=dict)


def split_pretext(message: str) -> tuple[str | None, str]:
    """``"head{~}body"`` → ``("head", "body")``; no separator → ``(None, message)``."""
    head, separator, body = message.partition(PRETEXT_SEPARATOR)
    return (head, body) if separator else (None, message)


def _enabled(section: Mapping[str, Any]) -> bool:
    return section.get("enabled", True) is not False


def _render(field_name: str, template: str, context: Mapping[str, Any]) -> str:
    try:
        return render_template(template, context)
    except TemplateError as exc:
        return f'Cannot render "format" in field "{field_name}" for alias. {exc}'


def render_ack(
    alias: Alias, execution_api: Mapping[str, Any], *, web_url: str | None = None
) -> str | None:
    """The acknowledgement posted when the execution is created; None if ``ack.enabled`` is
    false. `` (details available at URL)`` is appended only when a ``web_url`` is given."""
    ack = alias.ack
    if not _enabled(ack):
        return None
    template = ack.get("format")
    if isinstance(template, str):
        context = {"execution": execution_api, "actionalias": alias_to_api(alias)}
        message = _render("ack", template, context)
    else:
        message = DEFAULT_ACK.format(id=execution_api.get("id", ""))
    if web_url and ack.get("append_url", True) is not False:
        message += f" (details available at {web_url})"
    return message


def render_ack_extra(alias: Alias, execution_api: Mapping[str, Any]) -> Mapping[str, Any]:
    """``ack.extra`` rendered with the ack context (``{}`` when absent or on error)."""
    extra = alias.ack.get("extra")
    context = {"execution": execution_api, "actionalias": alias_to_api(alias)}
    return _render_extra(extra, context)


def _render_extra(extra: Any, context: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(extra, Mapping):
        return {}
    try:
        rendered: Mapping[str, Any] = render_value(extra, context)
    except TemplateError:
        return {}
    return rendered


class _Lenient(dict[str, Any]):
    """A mapping whose missing keys are an empty ``_Lenient`` that prints as ``""``.

    The one environment is strict; st2 renders result messages leniently, so the data is
    wrapped instead of the environment being changed.
    """

    def __missing__(self, key: str) -> _Lenient:
        return _Lenient()

    def __str__(self) -> str:
        return super().__str__() if self else ""


def _lenient(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _Lenient({str(k): _lenient(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [_lenient(v) for v in value]
    return value


def render_result(alias: Alias, execution_api: Mapping[str, Any]) -> RenderedResult | None:
    """The message posted when the execution completes; None if ``result.enabled`` is false."""
    section = alias.result
    if not _enabled(section):
        return None
    context = {"execution": _lenient(execution_api), "alias": _lenient(alias_to_api(alias))}
    template = section.get("format")
    if isinstance(template, str):
        message = _render("result", template, context)
    else:
        message = default_result(execution_api)
    pretext, text = split_pretext(message)
    return RenderedResult(pretext, text, _render_extra(section.get("extra"), context))


def default_result(execution_api: Mapping[str, Any]) -> str:
    """st2's default result message: status, id, time taken and the runner's useful keys."""
    action = execution_api.get("action") or {}
    lines = [
        f"Action {action.get('ref', '?')} completed.",
        f"status : {execution_api.get('status', '?')}",
        f"execution: {execution_api.get('id', '?')}",
    ]
    if execution_api.get("web_url"):
        lines.append(str(execution_api["web_url"]))
    elapsed = execution_api.get("elapsed_seconds")
    if isinstance(elapsed, int | float):
        lines.append(f"Took {_human_seconds(elapsed)} to complete.")
    shown = _result_lines(execution_api.get("result"), str(action.get("runner_type", "")))
    if shown:
        lines += ["result :", "--------", *shown]
    return "\n".join(lines)


def _result_lines(result: Any, runner: str) -> list[str]:
    if not isinstance(result, Mapping):
        return [str(result)] if result else []
    keys = _RESULT_KEYS.get(runner, tuple(str(k) for k in result))
    return [f"{key} : {result[key]}" for key in keys if result.get(key)]


def _human_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {rest}s" if hours else f"{minutes}m {rest}s"
