"""Trigger types: the built-in ones of pack ``core`` (pack-declared ones load in core.packs)."""

from core.triggers.builtin import (
    ACTION_TRIGGER,
    BUILTIN_TRIGGER_TYPES,
    CRON_TIMER,
    DATE_TIMER,
    INQUIRY_TRIGGER,
    INTERVAL_TIMER,
    NOTIFY_TRIGGER,
    TIMER_TYPES,
    WEBHOOK,
)

__all__ = [
    "ACTION_TRIGGER",
    "BUILTIN_TRIGGER_TYPES",
    "CRON_TIMER",
    "DATE_TIMER",
    "INQUIRY_TRIGGER",
    "INTERVAL_TIMER",
    "NOTIFY_TRIGGER",
    "TIMER_TYPES",
    "WEBHOOK",
]
