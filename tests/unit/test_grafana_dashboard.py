"""The Grafana dashboard in contrib/ only queries metrics that Squall exports."""

from __future__ import annotations

import json
import re

from core.observe.metrics import REGISTRY
from tests.conftest import ROOT

DASHBOARD = ROOT / "contrib" / "grafana" / "squall-dashboard.json"
# Metric names inside PromQL: identifiers followed by a selector, a range or a closing paren.
NAME = re.compile(r"\b((?:squall|process)_[a-z_]+)\b")


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_names() -> set[str]:
    """Every series name Squall exports, whether or not a label set was seen yet."""
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def test_every_panel_queries_an_exported_metric() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    exported = exported_names()
    queried = {name for p in panels for t in p["targets"] for name in NAME.findall(t["expr"])}
    assert queried, "the dashboard queries nothing"
    missing = {name for name in queried if name not in exported}
    assert not missing, f"the dashboard queries metrics Squall does not export: {missing}"
