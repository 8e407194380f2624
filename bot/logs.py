"""Process logging: text or JSON lines on stderr, with known secret values masked.

``configure_logging`` installs one handler on the root logger (modules log through
``logging.getLogger(__name__)``, so ``bot.*``, ``core.*``, ``adapters.*`` and third-party
libraries all pass through it). Secrets become known at run time (pack configs, secret action
parameters, datastore values): ``register_secrets`` adds them to the mask of that handler.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from core.observe import logcontext
from core.observe.secrets import add_secret_sink

MASK = "********"
# Shorter values cannot be masked without mangling every log line (think "1" or "ok"), and
# they are not secrets worth the name anyway.
MIN_SECRET_LENGTH = 4

_HANDLER_NAME = "squall"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_PLAIN = logging.Formatter()


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record (e.g. ``execution_id``), in the order they were set."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}


class SecretMaskingFilter(logging.Filter):
    """Replaces every registered secret value in a record with ``********``.

    Attach it to a handler, not a logger: a logger's filters do not see records that propagate
    from child loggers. The message is formatted here, so a secret passed as an argument is
    masked too; exception text and string ``extra`` fields are masked as well.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None

    def register_secrets(self, values: Iterable[str]) -> None:
        """Add secret values; safe to call from any thread while logging goes on."""
        known = self._secrets
        new = {v for v in values if len(v) >= MIN_SECRET_LENGTH and v not in known}
        if not new:  # the common case (an execution read again): no lock, no copy
            return
        with self._lock:
            secrets = self._secrets | new
            if secrets == self._secrets:
                return
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(secrets, key=len, reverse=True)
            # One assignment each, so a concurrent filter() sees an old or a new pattern.
            self._pattern = re.compile("|".join(map(re.escape, ordered)))
            self._secrets = secrets

    def mask(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad format args: let the handler report it as logging does
            return True
        record.msg, record.args = self.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        for key, value in record_extras(record).items():
            if isinstance(value, str):
                setattr(record, key, self.mask(value))
        return True


class ContextFilter(logging.Filter):
    """Adds the ids bound for the current task (core.observe.logcontext) to each record: the
    trace, execution, rule, trigger, user and adapter a line is about. A record that names an
    execution gets that execution's trace id even when logged outside its task."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in logcontext.current().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        execution_id = getattr(record, "execution_id", None)
        if not hasattr(record, "trace_id") and isinstance(execution_id, str):
            trace_id = logcontext.trace_of(execution_id)
            if trace_id is not None:
                record.trace_id = trace_id
        return True


# Ids that text logs print shortened (8 characters are plenty to grep a day of logs): the last
# 8, the unpredictable part (an id's first digits are its creation time, shared by a second's ids).
_SHORT_IDS = frozenset({"trace_id", "execution_id"})
_SHORT = 8


class TextFormatter(logging.Formatter):
    """``2024-05-01 12:00:00,123 INFO     core.x: message key=value`` (extras at the end)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        extras = "".join(f" {k}={_short(k, v)}" for k, v in record_extras(record).items())
        return line + extras


def _short(key: str, value: Any) -> Any:
    if key in _SHORT_IDS and isinstance(value, str) and len(value) > _SHORT:
        return value[-_SHORT:]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, ``extra`` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_extras(record).items():
            payload.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that JSON cannot encode is still logged rather than lost.
        return json.dumps(payload, default=str, ensure_ascii=False)


def _utc_iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_FORMATTERS: dict[str, type[logging.Formatter]] = {"text": TextFormatter, "json": JsonFormatter}

# The process-wide mask used by ``configure_logging``; logging itself is process-wide.
SECRETS = SecretMaskingFilter()
CONTEXT = ContextFilter()


def register_secrets(values: Iterable[str]) -> None:
    """Mask these values in everything logged through the handler ``configure_logging`` set."""
    SECRETS.register_secrets(values)


def configure_logging(
    level: str, fmt: Literal["text", "json"], *, stream: TextIO | None = None
) -> None:
    """Send all logging to ``stream`` (default stderr) at ``level``, as text or JSON lines.

    Calling it again replaces the handler it installed before; other handlers are left alone.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in _FORMATTERS:
        raise ValueError(f"unknown log format {fmt!r} (expected text or json)")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(_FORMATTERS[fmt]())
    handler.addFilter(CONTEXT)
    handler.addFilter(SECRETS)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    add_secret_sink(SECRETS.register_secrets)  # what core learns is secret is masked here
