"""A real ``squall serve``: /metrics counts one webhook event once on each counter, refuses
callers without a key, and ``squall trace get --trace-tag`` shows the whole chain."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FIXTURES
from tests.functional.test_serve_webhook_keys import squall, wait_for
from tests.ports import free_port
from tests.serve_process import running_serve


def write_config(root: Path, port: int) -> Path:
    config = root / "squall.yaml"
    config.write_text(
        "store:\n  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{FIXTURES / 'observe'}']\n"
        f"http:\n  enabled: true\n  port: {port}\n"
        "webhooks:\n  hooks:\n    observe:\n      auth: none\n"
        "log:\n  format: json\n"
        "metrics:\n  sample_seconds: 1\n"
    )
    return config


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    config = write_config(tmp_path, port)
    squall(config, "rule", "list")  # creates the store before serve and the CLI race for it
    with running_serve(config, port):
        yield config, port


def fetch(
    port: int,
    path: str,
    *,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def counter(
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_and_trace_of_one_tagged_webhook(served: tuple[Path, int]) -> None:
    config, port = served
    assert fetch(port, "/metrics")[0] == 401
    created = squall(config, "apikey", "create", "--name", "prometheus")["key"]
    key = {"St2-Api-Key": created}
    # What Prometheus' scrape `authorization: {type: Bearer}` sends.
    assert fetch(port, "/metrics", headers={"Authorization": f"Bearer {created}"})[0] == 200
    assert fetch(port, "/metrics", headers={"Authorization": "Bearer nope"})[0] == 401
    status, text = fetch(port, "/metrics", headers=key)
    assert status == 200
    before = samples(text)
    assert "process_resident_memory_bytes" in text  # the client's default collectors

    sent = fetch(
        port, "/api/v1/webhooks/observe", body={"go": "yes"}, headers={"St2-Trace-Tag": "deploy-77"}
    )
    assert sent[0] == 202

    def counted() -> bool:
        after = samples(fetch(port, "/metrics", headers=key)[1])
        name = "squall_executions_completed_total"
        return counter(after, name, action="observe_demo.pair", status="succeeded") == 1

    wait_for(counted, "the workflow's completion on /metrics")
    trace = squall(config, "trace", "get", "--trace-tag", "deploy-77")
    assert [c["ref"] for c in trace["action_executions"]] == [
        "observe_demo.pair",
        "core.noop",
        "core.noop",
    ]
    assert trace["trace_tag"] == "deploy-77"
    assert [c["ref"] for c in trace["trigger_instances"]] == ["core.st2.webhook"]
    assert trace["rules"][0]["ref"] == "observe_demo.on_deploy"
    listed = squall(config, "trace", "list", "--trace-tag", "deploy-77")
    assert [t["id"] for t in listed] == [trace["id"]]

    after = samples(fetch(port, "/metrics", headers=key)[1])
    deltas = {
        name: counter(after, name, **labels) - counter(before, name, **labels)
        for name, labels in (
            (
                "squall_trigger_instances_received_total",
                {"trigger": "core.st2.webhook", "source": "webhook"},
            ),
            ("squall_rule_matches_total", {"rule": "observe_demo.on_deploy"}),
            (
                "squall_executions_completed_total",
                {"action": "observe_demo.pair", "status": "succeeded"},
            ),
        )
    }
    assert set(deltas.values()) == {1.0}, deltas

    # A refused signature-less call to a keyed hook counts with its reason.
    assert fetch(port, "/api/v1/webhooks/st2", body={"trigger": "x"})[0] == 401
    refused = samples(fetch(port, "/metrics", headers=key)[1])
    assert counter(refused, "squall_webhook_refused_total", reason="auth") >= 1
