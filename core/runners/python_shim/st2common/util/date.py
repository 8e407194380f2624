"""st2's ``st2common.util.date``: timezone-aware datetimes, UTC unless told otherwise."""

import datetime

__all__ = ["add_utc_tz", "convert_to_utc", "get_datetime_utc_now", "parse"]


def get_datetime_utc_now():
    return datetime.datetime.now(datetime.UTC)


def append_milliseconds_to_time(date, millis):
    return convert_to_utc(date + datetime.timedelta(milliseconds=millis))


def add_utc_tz(dt):
    if dt.tzinfo and dt.tzinfo.utcoffset(dt) != datetime.timedelta(0):
        raise ValueError("datetime already contains a non UTC timezone")
    return dt.replace(tzinfo=datetime.UTC)


def convert_to_utc(dt):
    """A naive datetime is taken to be UTC already."""
    if not dt.tzinfo:
        return add_utc_tz(dt)
    return dt.astimezone(datetime.UTC)


def parse(value, preserve_original_tz=False):
    """An ISO 8601 string (``Z``, ``+00``, space or ``T`` separated) as an aware datetime."""
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 3 and text[-3] in "+-" and text[-2:].isdigit() and ":" not in text[-6:]:
        text += ":00"  # "+00" → "+00:00"
    dt = datetime.datetime.fromisoformat(text)
    if not dt.tzinfo:
        dt = add_utc_tz(dt)
    return dt if preserve_original_tz else convert_to_utc(dt)
