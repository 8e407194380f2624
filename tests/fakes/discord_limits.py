"""What Discord's REST API refuses, with its error shape (used by FakeDiscord).

Messages: content 2000; at most 10 embeds; an embed's title 256, description 4096, 25 fields of
name 256 and value 1024, footer 2048, author 256, and 6000 characters across all embeds of a
message; 5 action rows of 5 components; custom_id 100; button label 80; select: 25 options,
values 100. Application commands: 100 per scope; name 32, description 100; 25 options, 25
choices each with name and value 100; 8000 characters per command in all. Discord answers
``400 {"code": 50035, "message": "Invalid Form Body", "errors": {...}}``.
"""

from __future__ import annotations

from typing import Any

INVALID_FORM_BODY = 50035


def _long(value: Any, limit: int, where: str, problems: list[str]) -> int:
    if isinstance(value, str):
        if len(value) > limit:
            problems.append(f"{where}: must be {limit} or fewer in length")
        return len(value)
    return 0


def message_problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return []
    problems: list[str] = []
    _long(data.get("content"), 2000, "content", problems)
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        problems.append("embeds: must be 10 or fewer in length")
    total = 0
    for n, embed in enumerate(embeds):
        at = f"embeds.{n}"
        total += _long(embed.get("title"), 256, f"{at}.title", problems)
        total += _long(embed.get("description"), 4096, f"{at}.description", problems)
        total += _long((embed.get("footer") or {}).get("text"), 2048, f"{at}.footer", problems)
        total += _long((embed.get("author") or {}).get("name"), 256, f"{at}.author", problems)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(f"{at}.fields: must be 25 or fewer in length")
        for i, field in enumerate(fields):
            total += _long(field.get("name"), 256, f"{at}.fields.{i}.name", problems)
            total += _long(field.get("value"), 1024, f"{at}.fields.{i}.value", problems)
    if total > 6000:
        problems.append(f"embeds: the embeds of a message hold {total} characters (max 6000)")
    rows = data.get("components") or []
    if len(rows) > 5:
        problems.append("components: must be 5 or fewer in length")
    for r, row in enumerate(rows):
        items = row.get("components") or []
        if len(items) > 5:
            problems.append(f"components.{r}.components: must be 5 or fewer in length")
        for c, item in enumerate(items):
            at = f"components.{r}.components.{c}"
            _long(item.get("custom_id"), 100, f"{at}.custom_id", problems)
            _long(item.get("label"), 80, f"{at}.label", problems)
            options = item.get("options") or []
            if len(options) > 25:
                problems.append(f"{at}.options: must be 25 or fewer in length")
            for o, option in enumerate(options):
                _long(option.get("value"), 100, f"{at}.options.{o}.value", problems)
    return problems


def _option_chars(option: dict[str, Any], at: str, problems: list[str]) -> int:
    total = _long(option.get("name"), 32, f"{at}.name", problems)
    total += _long(option.get("description"), 100, f"{at}.description", problems)
    choices = option.get("choices") or []
    if len(choices) > 25:
        problems.append(f"{at}.choices: must be 25 or fewer in length")
    for n, choice in enumerate(choices):
        total += _long(choice.get("name"), 100, f"{at}.choices.{n}.name", problems)
        total += _long(choice.get("value"), 100, f"{at}.choices.{n}.value", problems)
    subs = option.get("options") or []
    if len(subs) > 25:
        problems.append(f"{at}.options: must be 25 or fewer in length")
    for n, sub in enumerate(subs):
        total += _option_chars(sub, f"{at}.options.{n}", problems)
    return total


def command_problems(commands: Any) -> list[str]:
    if not isinstance(commands, list):
        return []
    problems: list[str] = []
    if len(commands) > 100:
        problems.append("commands: must be 100 or fewer in length")
    for n, command in enumerate(commands):
        total = _option_chars(command, str(n), problems)
        if total > 8000:
            problems.append(f"{n}: a command holds {total} characters (max 8000)")
    return problems


def invalid_form_body(problems: list[str]) -> dict[str, Any]:
    return {"code": INVALID_FORM_BODY, "message": "Invalid Form Body", "errors": problems}
