"""Squall's Prometheus metrics: one registry, every metric defined here, nowhere else.

Code that observes something imports the metric it needs and calls ``inc``/``observe``/``set``;
``bot/http/metrics.py`` serves ``REGISTRY`` in Prometheus' text format. Labels are bounded on
purpose: trigger types, rules, actions and runners come from loaded content, the rest are fixed
vocabularies (``SOURCE_KINDS``, ``REFUSAL_REASONS``…). No execution id, user or chat text is
ever a label value: one series per such value would grow without end.
"""

from __future__ import annotations

import functools
from typing import Final, TypeVar

from prometheus_client import (
    GC_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from core.models.execution import Execution

__all__ = ["REGISTRY", "source_kind"]

# Our own registry (not prometheus_client's global one), so a library that registers metrics
# of its own on import does not leak into ``/metrics``; the default collectors are added here.
REGISTRY: Final = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
REGISTRY.register(GC_COLLECTOR)


# Every metric is registered on REGISTRY; ``labels`` are the label names.
def _counter(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
    return Counter(name, documentation, labels, registry=REGISTRY)


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, documentation, labels, registry=REGISTRY)


def _histogram(
    name: str, documentation: str, labels: tuple[str, ...], buckets: tuple[float, ...]
) -> Histogram:
    return Histogram(name, documentation, labels, buckets=buckets, registry=REGISTRY)


# Instance ``source`` prefix → label: what produced the trigger instance.
SOURCE_KINDS: Final = {
    "webhook": "webhook",
    "timer": "timer",
    "sensor": "sensor",
    "execution": "action",
    "notify": "action",
    "re-emit": "re-emit",
}
REFUSAL_REASONS: Final = ("auth", "signature", "replay", "size", "bad_body", "not_found", "store")
DELIVERY_OUTCOMES: Final = ("delivered", "retried", "failed")

TRIGGER_INSTANCES_RECEIVED: Final = _counter(
    "squall_trigger_instances_received",
    "Trigger instances stored, by trigger type and source kind.",
    ("trigger", "source"),
)
TRIGGER_INSTANCES_PROCESSED: Final = _counter(
    "squall_trigger_instances_processed",
    "Trigger instances the rules engine finished, by trigger type, source and outcome.",
    ("trigger", "source", "outcome"),
)
WEBHOOK_REFUSED: Final = _counter(
    "squall_webhook_refused", "Webhook deliveries refused, by reason.", ("reason",)
)
RULE_EVALUATIONS: Final = _counter(
    "squall_rule_evaluations",
    "Rules whose criteria were evaluated against a trigger instance.",
    ("rule",),
)
RULE_MATCHES: Final = _counter(
    "squall_rule_matches", "Rules whose criteria matched a trigger instance.", ("rule",)
)
EXECUTIONS_COMPLETED: Final = _counter(
    "squall_executions_completed",
    "Executions that reached a final status in this process, by action and status.",
    ("action", "status"),
)
EXECUTION_DURATION: Final = _histogram(
    "squall_execution_duration_seconds",
    "Time from start to final status, by runner type.",
    ("runner",),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
EXECUTIONS_QUEUED: Final = _gauge(
    "squall_executions_queued",
    "Executions waiting in the store, by status (requested, scheduled, delayed).",
    ("status",),
)
EXECUTIONS_RUNNING: Final = _gauge(
    "squall_executions_running", "Executions running in this process."
)
WORKFLOW_TASKS: Final = _counter(
    "squall_workflow_tasks_completed",
    "Workflow task executions that reached a final status, by status.",
    ("status",),
)
APPROVALS_PENDING: Final = _gauge(
    "squall_approvals_pending", "Approvals and inquiries waiting for an answer."
)
APPROVALS_DECIDED: Final = _counter(
    "squall_approvals_decided",
    "Approvals and inquiries decided, by outcome (approved, denied, expired, canceled).",
    ("outcome",),
)
CHAT_MESSAGES_RECEIVED: Final = _counter(
    "squall_chat_messages_received",
    "Chat messages that reached the inbound pipeline, by adapter.",
    ("adapter",),
)
CHAT_DELIVERIES: Final = _counter(
    "squall_chat_deliveries",
    "Outbound chat messages and edits, by adapter and outcome (delivered, retried, failed).",
    ("adapter", "outcome"),
)
STORE_OPERATION: Final = _histogram(
    "squall_store_operation_seconds",
    "Store calls, by backend and operation (repository.method).",
    ("backend", "operation"),
    (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2),
)
STORE_ERRORS: Final = _counter(
    "squall_store_errors",
    "Store calls that raised, by backend and operation.",
    ("backend", "operation"),
)
SENSOR_RESTARTS: Final = _counter(
    "squall_sensor_restarts",
    "Sensor processes restarted by the supervisor, by sensor.",
    ("sensor",),
)
LEASE_OWNED: Final = _gauge(
    "squall_lease_owned",
    "1 while this process holds the named lease (timers, chat platforms, sensors).",
    ("lease",),
)


M = TypeVar("M", Counter, Gauge, Histogram)


@functools.lru_cache(maxsize=4096)
def labelled(metric: M, *values: str) -> M:
    """``metric.labels(*values)``, cached: the hot paths count several labelled metrics per
    event, and prometheus_client's ``labels`` (validation, a lock, a dict) cost ~2 µs a call.
    Children are never removed here, so a cached one stays the one that is exported."""
    return metric.labels(*values)


def source_kind(source: str) -> str:
    """The bounded label for an instance ``source`` such as ``webhook:github`` or ``timer:x``."""
    prefix, _, rest = source.partition(":")
    if prefix == "execution" and rest:  # core.inject_trigger names the injecting execution
        return "inject"
    return SOURCE_KINDS.get(prefix, "other")


def execution_completed(execution: Execution) -> None:
    """Count one execution that reached its final status (called once, by the CAS winner)."""
    status = str(execution.status)
    labelled(EXECUTIONS_COMPLETED, execution.action_ref, status).inc()
    if execution.elapsed_seconds is not None:
        labelled(EXECUTION_DURATION, execution.runner_type).observe(execution.elapsed_seconds)
    if "orquesta" in execution.context:
        WORKFLOW_TASKS.labels(status).inc()
