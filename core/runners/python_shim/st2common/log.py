"""st2's ``st2common.log``: pack code calls ``getLogger`` from here."""

import logging

__all__ = ["AUDIT", "getLogger"]

AUDIT = logging.CRITICAL + 10


def getLogger(name):
    return logging.getLogger(name)


# What `from st2common import log as logging` callers also reach for.
DEBUG, INFO, WARNING, ERROR, CRITICAL = (
    logging.DEBUG,
    logging.INFO,
    logging.WARNING,
    logging.ERROR,
    logging.CRITICAL,
)
