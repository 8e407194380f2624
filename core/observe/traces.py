"""StackStorm traces, assembled from what the store already keeps (pure: no I/O).

st2 writes a Trace document beside every trigger instance, rule and execution. Squall writes
nothing extra: a trigger instance carries its trace id and tag, an execution carries st2's
``context.trace_context`` (``{"id_": …, "trace_tag": …}``), children inherit it, and the links
between them (enforcement → execution, parent → child, execution → the instance it injected or
notified) are already stored. ``assemble`` turns those records into st2's trace shape
(``trigger_instances``, ``rules``, ``action_executions``, each component with ``caused_by``),
and ``tree_lines`` into the chain an operator reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.models.execution import Execution, isoformat
from core.models.trace import TraceContext
from core.models.trigger_instance import RuleEnforcement, TriggerInstance

__all__ = ["Trace", "TraceComponent", "assemble", "tree_lines"]

INSTANCE, RULE, EXECUTION = "trigger_instance", "rule", "action_execution"


@dataclass(frozen=True)
class TraceComponent:
    kind: str
    object_id: str
    ref: str
    updated_at: datetime
    caused_by: tuple[str, str] | None = None  # (kind, id)
    status: str | None = None  # shown in the tree; st2's component has no status

    def to_st2(self) -> dict[str, Any]:
        cause = (
            {} if self.caused_by is None else {"type": self.caused_by[0], "id": self.caused_by[1]}
        )
        return {
            "object_id": self.object_id,
            "ref": self.ref,
            "updated_at": isoformat(self.updated_at),
            "caused_by": cause,
        }


@dataclass(frozen=True)
class Trace:
    id: str
    trace_tag: str | None
    start_timestamp: datetime
    trigger_instances: tuple[TraceComponent, ...]
    rules: tuple[TraceComponent, ...]
    action_executions: tuple[TraceComponent, ...]

    def to_st2(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uid": f"trace:{self.trace_tag or self.id}",
            "trace_tag": self.trace_tag or self.id,
            "start_timestamp": isoformat(self.start_timestamp),
            "trigger_instances": [c.to_st2() for c in self.trigger_instances],
            "rules": [c.to_st2() for c in self.rules],
            "action_executions": [c.to_st2() for c in self.action_executions],
        }


def assemble(
    trace: TraceContext,
    instances: Iterable[TriggerInstance],
    enforcements: Iterable[RuleEnforcement],
    executions: Iterable[Execution],
) -> Trace:
    """The trace ``trace`` from its records (any order; duplicates ignored)."""
    by_instance = {i.id: i for i in instances}
    by_execution = {e.id: e for e in executions}
    rules = {e.id: e for e in enforcements if e.trigger_instance_id in by_instance}
    fired = {e.execution_id: e for e in rules.values() if e.execution_id}
    instance_parts = sorted((_instance_component(i) for i in by_instance.values()), key=_when)
    rule_parts = sorted((_rule_component(e) for e in rules.values()), key=_when)
    execution_parts = sorted(
        (_execution_component(e, fired.get(e.id)) for e in by_execution.values()), key=_when
    )
    moments = [c.updated_at for c in (*instance_parts, *execution_parts)]
    return Trace(
        id=trace.id,
        trace_tag=trace.tag,
        start_timestamp=min(moments) if moments else datetime.fromtimestamp(0, UTC),
        trigger_instances=tuple(instance_parts),
        rules=tuple(rule_parts),
        action_executions=tuple(execution_parts),
    )


def _when(component: TraceComponent) -> tuple[datetime, str]:
    return component.updated_at, component.object_id


def _instance_component(instance: TriggerInstance) -> TraceComponent:
    return TraceComponent(
        INSTANCE,
        instance.id,
        instance.trigger,
        instance.occurrence_time,
        _instance_cause(instance),
        str(instance.status),
    )


def _instance_cause(instance: TriggerInstance) -> tuple[str, str] | None:
    # core.inject_trigger stores ``execution:<id>``; actiontrigger (``execution``) and
    # notifytrigger (``notify``) name their execution in the payload.
    kind, _, rest = instance.source.partition(":")
    if kind == "execution" and rest:
        return EXECUTION, rest
    execution_id = instance.payload.get("execution_id")
    if kind in ("execution", "notify") and isinstance(execution_id, str):
        return EXECUTION, execution_id
    return None


def _rule_component(enforcement: RuleEnforcement) -> TraceComponent:
    return TraceComponent(
        RULE,
        enforcement.id,
        enforcement.rule_ref,
        enforcement.enforced_at,
        (INSTANCE, enforcement.trigger_instance_id),
    )


def _execution_component(
    execution: Execution, enforcement: RuleEnforcement | None
) -> TraceComponent:
    cause: tuple[str, str] | None = None
    if execution.parent:
        cause = (EXECUTION, execution.parent)
    elif enforcement is not None:
        cause = (RULE, enforcement.id)
    elif isinstance(execution.context.get("chat"), Mapping):
        cause = ("chat", _chat_origin(execution.context))
    elif execution.context.get("api_request"):
        cause = ("api", str(execution.context["api_request"]))
    return TraceComponent(
        EXECUTION,
        execution.id,
        execution.action_ref,
        execution.start_timestamp,
        cause,
        str(execution.status),
    )


def _chat_origin(context: Mapping[str, Any]) -> str:
    """``adapter:channel:message`` of the chat message that asked for the run."""
    chat = context["chat"]
    parts = (chat.get("adapter"), chat.get("channel"), chat.get("message"))
    return ":".join(str(p) for p in parts if p)


def tree_lines(trace: Trace) -> list[str]:
    """The trace as an indented tree: each component under what caused it."""
    components = [*trace.trigger_instances, *trace.rules, *trace.action_executions]
    present = {(c.kind, c.object_id) for c in components}
    children: dict[tuple[str, str] | None, list[TraceComponent]] = defaultdict(list)
    for component in components:
        cause = component.caused_by if component.caused_by in present else None
        children[cause].append(component)
    for siblings in children.values():
        siblings.sort(key=_when)
    header = f"trace {trace.id}" + (f" (tag {trace.trace_tag})" if trace.trace_tag else "")
    lines = [header]
    for root in children[None]:
        lines.extend(_subtree(root, children, depth=1, origin=True))
    return lines


def _subtree(
    component: TraceComponent,
    children: Mapping[tuple[str, str] | None, list[TraceComponent]],
    *,
    depth: int,
    origin: bool = False,
) -> list[str]:
    label = f"{component.kind} {component.ref} {component.object_id}"
    if component.status is not None:
        label += f" [{component.status}]"
    if origin and component.caused_by is not None:
        label += f" (from {component.caused_by[0]} {component.caused_by[1]})"
    lines = ["  " * depth + label]
    for child in children.get((component.kind, component.object_id), []):
        lines.extend(_subtree(child, children, depth=depth + 1))
    return lines
