"""Logging: text and JSON lines, level handling, and secret masking at run time."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from bot.logs import (
    MASK,
    JsonFormatter,
    SecretMaskingFilter,
    TextFormatter,
    configure_logging,
    register_secrets,
)
from core.observe import logcontext

Format = Literal["text", "json"]
log = logging.getLogger("core.sample")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def configured(fmt: Format, level: str = "DEBUG") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, fmt, stream=stream)
    return stream


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_fields_and_extras() -> None:
    stream = configured("json")
    log.info("ran %s\nin two lines", "core.local", extra={"execution_id": "e1", "n": 2})
    [entry] = json_lines(stream)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry.pop("ts"))
    assert entry == {
        "level": "INFO",
        "logger": "core.sample",
        "message": "ran core.local\nin two lines",
        "execution_id": "e1",
        "n": 2,
    }


def test_json_includes_exception_text_and_survives_odd_extras() -> None:
    stream = configured("json")
    try:
        raise ValueError("bad input")
    except ValueError:
        log.exception("failed", extra={"obj": object(), "level": "shadowed"})
    [entry] = json_lines(stream)
    assert entry["message"] == "failed"
    assert entry["level"] == "ERROR"  # an extra never overwrites a standard field
    assert entry["exception"].startswith("Traceback")
    assert entry["exception"].endswith("ValueError: bad input")
    assert entry["obj"].startswith("<object object")


def test_text_lines_end_with_extras() -> None:
    stream = configured("text")
    log.warning("queue full", extra={"execution_id": "e9"})
    line = stream.getvalue().rstrip("\n")
    time = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.fullmatch(time + r" WARNING  core\.sample: queue full execution_id=e9", line)


def test_level_is_case_insensitive_and_filters() -> None:
    stream = configured("json", level="warning")
    log.info("hidden")
    log.warning("shown")
    assert [e["message"] for e in json_lines(stream)] == ["shown"]
    assert logging.getLogger().level == logging.WARNING


def test_configuring_again_replaces_the_handler() -> None:
    first = configured("text")
    second = configured("json")
    log.info("once")
    assert first.getvalue() == ""
    assert [e["message"] for e in json_lines(second)] == ["once"]
    names = [h.get_name() for h in logging.getLogger().handlers]
    assert names.count("squall") == 1


@pytest.mark.parametrize(
    ("level", "fmt", "error"),
    [("LOUD", "text", "unknown log level 'LOUD'"), ("INFO", "xml", "unknown log format 'xml'")],
)
def test_bad_level_or_format(level: str, fmt: Any, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        configure_logging(level, fmt)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_registered_secret_passed_as_argument_is_masked(fmt: Format) -> None:
    secret = f"hunter2-{fmt}-token"
    stream = configured(fmt)
    register_secrets([secret])
    log.info("calling with token=%s and %r", secret, {"password": secret})
    try:
        raise RuntimeError(f"auth failed for {secret}")
    except RuntimeError:
        log.exception("boom", extra={"url": f"https://x/?t={secret}"})
    output = stream.getvalue()
    assert secret not in output
    assert f"token={MASK}" in output
    assert f"RuntimeError: auth failed for {MASK}" in output
    assert f"t={MASK}" in output


def make_record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("core.x", logging.INFO, __file__, 1, msg, args, None)


def test_secrets_can_be_added_while_running() -> None:
    mask = SecretMaskingFilter()
    before = make_record("key %s", "s3cr3t-value")
    assert mask.filter(before)
    assert before.getMessage() == "key s3cr3t-value"
    mask.register_secrets(["s3cr3t-value"])
    after = make_record("key %s", "s3cr3t-value")
    assert mask.filter(after)
    assert after.getMessage() == f"key {MASK}"
    assert JsonFormatter().format(after).count(MASK) == 1
    assert TextFormatter().format(after).endswith(f"core.x: key {MASK}")


def test_longest_secret_wins_and_short_values_are_ignored() -> None:
    mask = SecretMaskingFilter()
    mask.register_secrets(["abcd", "abcdefgh", "ok", ""])
    assert mask.mask("abcdefgh abcd ok") == f"{MASK} {MASK} ok"


def test_secret_with_regex_characters_is_masked_literally() -> None:
    mask = SecretMaskingFilter()
    mask.register_secrets(["p@ss.(w*rd)"])
    assert mask.mask("x p@ss.(w*rd) pXss") == f"x {MASK} pXss"


def test_bad_format_arguments_do_not_raise_from_the_filter() -> None:
    mask = SecretMaskingFilter()
    mask.register_secrets(["whatever-secret"])
    record = make_record("%d", "not a number")
    assert mask.filter(record)
    assert record.args == ("not a number",)


def test_text_lines_carry_the_bound_ids_short() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    try:
        # The last 8 digits: the first ones are the creation time, the same for a second's ids.
        trace_id, execution_id = "0" * 16 + "a" * 8, "0" * 16 + "b" * 8
        with logcontext.bound(trace_id=trace_id, execution_id=execution_id, rule="pack.rule"):
            logging.getLogger("core.test").info("ran")
        logging.getLogger("core.test").info("elsewhere")
    finally:
        configure_logging("WARNING", "text")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("ran trace_id=aaaaaaaa execution_id=bbbbbbbb rule=pack.rule")
    assert second.endswith("elsewhere")


def test_a_line_naming_an_execution_gets_its_remembered_trace() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logcontext.remember_trace("exec-remembered", "trace-remembered")
    try:
        logging.getLogger("core.test").info("done", extra={"execution_id": "exec-remembered"})
    finally:
        configure_logging("WARNING", "text")
    assert json.loads(stream.getvalue())["trace_id"] == "trace-remembered"
