"""What Slack's Web API refuses in Block Kit, with its error shapes (used by FakeSlack).

Limits from Slack's Block Kit reference: 50 blocks per message, 100 per modal; a section's text
3000 characters, at most 10 fields of 2000 each; a header 150; a button's text 75 and value
2000; a select option's text 75 and value 150, at most 100 options; an input label 2000;
private_metadata 3000. Slack answers ``{"ok": false, "error": "invalid_blocks", "errors":
["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]}``.
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100


def _too_long(text: Any, limit: int, where: str) -> list[str]:
    if isinstance(text, str) and len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{where}]"]
    return []


def _element_errors(element: dict[str, Any], where: str) -> list[str]:
    errors = []
    text = (
        (element.get("text") or {}).get("text") if isinstance(element.get("text"), dict) else None
    )
    if element.get("type") == "button":
        errors += _too_long(text, 75, f"{where}/text/text")
        errors += _too_long(element.get("value"), 2000, f"{where}/value")
    options = element.get("options") or []
    if len(options) > 100:
        errors.append(f"must provide at most 100 items [json-pointer:{where}/options]")
    for n, option in enumerate(options):
        errors += _too_long(option.get("value"), 150, f"{where}/options/{n}/value")
        errors += _too_long(
            (option.get("text") or {}).get("text"), 75, f"{where}/options/{n}/text/text"
        )
    return errors


def block_errors(blocks: Any, *, limit: int = MESSAGE_BLOCKS) -> list[str]:
    """Slack's ``errors`` for ``blocks``; empty when Slack would accept them."""
    if not isinstance(blocks, list):
        return []
    errors = []
    if len(blocks) > limit:
        errors.append(f"must provide at most {limit} items [json-pointer:/blocks]")
    for n, block in enumerate(blocks):
        where = f"/blocks/{n}"
        kind = block.get("type")
        text = block.get("text") if isinstance(block.get("text"), dict) else {}
        if kind == "section":
            errors += _too_long(text.get("text"), 3000, f"{where}/text/text")
            fields = block.get("fields") or []
            if len(fields) > 10:
                errors.append(f"must provide at most 10 items [json-pointer:{where}/fields]")
            for i, item in enumerate(fields):
                errors += _too_long(item.get("text"), 2000, f"{where}/fields/{i}/text")
        elif kind == "header":
            errors += _too_long(text.get("text"), 150, f"{where}/text/text")
        elif kind == "input":
            errors += _too_long((block.get("label") or {}).get("text"), 2000, f"{where}/label/text")
            errors += _element_errors(block.get("element") or {}, f"{where}/element")
        for i, element in enumerate(block.get("elements") or []):
            errors += _element_errors(element, f"{where}/elements/{i}")
    return errors


def view_errors(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return []
    errors = block_errors(view.get("blocks"), limit=MODAL_BLOCKS)
    errors += _too_long(view.get("private_metadata"), 3000, "/view/private_metadata")
    return errors
