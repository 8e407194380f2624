"""st2's ``st2common.util.isotime``: ISO 8601 strings the way st2 writes and reads them."""

import datetime
import re

from st2common.util import date as date_utils

__all__ = ["format", "parse", "validate"]

ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%S"
ISO8601_FORMAT_MICROSECOND = "%Y-%m-%dT%H:%M:%S.%f"
ISO8601_UTC_REGEX = (
    r"^\d{4}\-\d{2}\-\d{2}(\s|T)\d{2}:\d{2}:\d{2}(\.\d{3,6})?(Z|\+00|\+0000|\+00:00)$"
)


def format(dt, usec=True, offset=True):
    """``dt`` (a datetime, an ISO string or a unix time) as ISO 8601: ``+00:00`` or ``Z``."""
    if isinstance(dt, str):
        dt = parse(dt)
    elif isinstance(dt, int):
        dt = datetime.datetime.fromtimestamp(dt, datetime.UTC)
    fmt = ISO8601_FORMAT_MICROSECOND if usec else ISO8601_FORMAT
    if offset:
        ost = dt.strftime("%z")
        ost = (ost[:3] + ":" + ost[3:]) if ost else "+00:00"
    else:
        tz = dt.tzinfo.tzname(dt) if dt.tzinfo else "UTC"
        ost = "Z" if tz == "UTC" else tz
    return dt.strftime(fmt) + ost


def validate(value, raise_exception=True):
    if isinstance(value, datetime.datetime) or (
        isinstance(value, str) and re.match(ISO8601_UTC_REGEX, value)
    ):
        return True
    if raise_exception:
        raise ValueError("Datetime value does not match expected format.")
    return False


def parse(value, preserve_original_tz=False, validate_value=True):
    if validate_value:
        validate(value, raise_exception=True)
    if isinstance(value, datetime.datetime):
        return value if preserve_original_tz else date_utils.convert_to_utc(value)
    return date_utils.parse(value, preserve_original_tz=preserve_original_tz)
