"""The in-process rules engine: trigger instance → rule enforcements → executions.

Durability and exactly once (security §2.6): a serving process evaluates an arriving instance
first and then stores it, finished, with every matched rule's enforcement and the execution it
requests, in one write (``insert_settled``: one SQLite transaction; on MongoDB the instance as
it arrived, then the settle's ordered idempotent steps). ``dispatch`` returns only after that
write, so a caller that acknowledges its source then (webhook 202) has acknowledged something
durable; a crash before it leaves nothing stored and nothing acknowledged (nothing ran but
``runs_in_memory`` actions, which touch nothing). After it, every execution is stored
``requested`` (or already completed, for those) and runs once: ``start_soon`` here, or the
claim loop after a restart.

An instance stored ``pending`` — by a process that does not serve (``store_only``: the CLI's
actiontrigger) or, on MongoDB, by a crash or a failed write between the two steps — is evaluated
later by a serving process's sweep or by ``recover`` at its start, and settled with one CAS
(``settle``).
The store keeps one enforcement per (rule, instance) and execution ids derive from (instance,
rule), so a second evaluation never fires a rule twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.executions.faults import fault_point
from core.executions.service import ExecutionService, mentions_kv
from core.kv.decrypted import recording_decryptions
from core.kv.lookup import kv_context
from core.models import Action, Execution, Rule
from core.models.trace import TraceContext
from core.models.trigger_instance import (
    RuleEnforcement,
    TriggerInstance,
    TriggerInstanceStatus,
    execution_id_for,
)
from core.observe import logcontext, metrics
from core.packs import ContentIndex
from core.rules.criteria import kv_criteria_context
from core.rules.index import WEBHOOK_TRIGGER, normalize_parameters
from core.rules.matcher import (
    RULE_USER,
    RenderedAction,
    candidate_rules,
    render_action,
    rule_matches,
)
from core.rules.ruleset import RuleSet
from core.rules.selective import CriteriaIndex
from core.store import Store
from core.store.base import Fired

__all__ = ["TriggerDispatcher", "webhook_source"]

logger = logging.getLogger(__name__)

T = TriggerInstanceStatus
WEBHOOK_SOURCE = "webhook:"
RECOVER_PAGE = 100
# The sweep picks up ``pending`` instances other processes stored (a CLI run's actiontrigger);
# the age keeps it off instances their own process is about to claim.
SWEEP_PAGE = 200
SWEEP_MIN_AGE = timedelta(seconds=2)
# Longest stretch of rule evaluation between two yields to the event loop (seconds).
EVALUATION_SLICE = 0.002


async def evaluate_in_slices(
    rules: Sequence[Rule],
    index: CriteriaIndex,
    payload: Mapping[str, Any],
    context: Mapping[str, Any] | None,
    now: datetime,
) -> list[Rule]:
    """The candidates (core.rules.selective) that match, evaluated in slices of at most
    ``EVALUATION_SLICE`` seconds so many costly rules never hold the event loop for long."""
    found: list[Rule] = []
    started = time.perf_counter()
    for rule in candidate_rules(rules, index, payload):
        metrics.labelled(metrics.RULE_EVALUATIONS, rule.ref).inc()
        if rule_matches(rule, payload, context, now):
            metrics.labelled(metrics.RULE_MATCHES, rule.ref).inc()
            found.append(rule)
        if time.perf_counter() - started > EVALUATION_SLICE:
            await asyncio.sleep(0)
            started = time.perf_counter()
    return found


def webhook_source(url: str) -> str:
    """The ``source`` of a webhook instance (shown in listings and logs)."""
    return WEBHOOK_SOURCE + url.strip("/")


@dataclass(frozen=True)
class _Prepared:
    """A rule's rendered action, or why it could not even be rendered."""

    rendered: RenderedAction | None
    failure: str | None
    # ``decrypt_kv`` plaintexts the rendering produced: the execution masks and seals them.
    secrets: tuple[str, ...] = ()


class TriggerDispatcher:
    def __init__(
        self,
        store: Store,
        index: ContentIndex,
        executions: ExecutionService,
        *,
        now: Callable[[], datetime],
        rules: RuleSet | None = None,
        process: bool = True,
    ) -> None:
        self.store = store
        self.index = index
        self.executions = executions
        self.now = now
        self.rules = rules if rules is not None else RuleSet(index.rules.values())
        self._tasks: set[asyncio.Task[None]] = set()
        # False in short-lived processes: ``dispatch`` only stores the instance ``pending``
        # and a ``squall serve`` sweep processes it.
        self.process_here = process
        # Instance ids being processed here (a sweep's task, or an arrival being stored).
        self._active: set[str] = set()

    # -- intake ---------------------------------------------------------------------------
    async def dispatch(
        self,
        trigger_ref: str,
        payload: dict[str, Any],
        *,
        trigger_parameters: dict[str, Any] | None = None,
        source: str = "",
        dedupe_key: str | None = None,
        trace_tag: str | None = None,
        trace: TraceContext | None = None,
    ) -> TriggerInstance | None:
        """Evaluate the instance and store it settled with what its rules did (a serving
        process; see the module docstring), or store it ``pending`` for a serving process's
        sweep (``store_only``); returns once it is stored.

        The instance joins ``trace`` (an injecting execution's), else the newest trace tagged
        ``trace_tag`` (st2: one tag, one trace), else starts a trace of its own.
        Raises UnknownTriggerTypeError for an unknown trigger type; returns None when the
        dedupe key was already seen (the earlier delivery is the one that gets processed).
        """
        self.index.get_trigger_type(trigger_ref)
        parameters = normalize_parameters(trigger_ref, trigger_parameters or {})
        if not source and trigger_ref == WEBHOOK_TRIGGER and "url" in parameters:
            source = webhook_source(str(parameters["url"]))
        if trace is None and trace_tag:
            joined = await self.store.traces.find_by_tag(trace_tag)
            trace = TraceContext(joined, trace_tag) if joined else TraceContext.new(trace_tag)
        instance = TriggerInstance.new(
            trigger_ref, payload, source, dedupe_key, parameters, trace=trace
        )
        if self.process_here:
            trace_id = instance.trace.id if instance.trace else None
            with logcontext.bound(trace_id=trace_id, trigger=instance.trigger):
                return await self._receive_here(instance)
        if not await self.store.trigger_instances.insert(instance):
            _log_duplicate(instance)
            return None
        fault_point(f"trigger instance stored {instance.id}")
        _count_received(instance)
        return instance

    async def _receive_here(self, instance: TriggerInstance) -> TriggerInstance | None:
        """Evaluate a new instance, then store it settled with what its rules did (one write,
        see the module docstring) and start the executions stored."""
        fired: list[Fired] = []
        try:
            fired = await self._evaluate(instance)
            settled, outcome = instance.transition(T.PROCESSED), "processed"
        except Exception:
            logger.exception("trigger instance %s could not be processed", instance.id)
            settled, outcome = instance.transition(T.PROCESSING_FAILED), "failed"
        fault_point(f"trigger instance evaluated {instance.id}")
        # MongoDB stores it ``pending`` before settling it: not this process's sweep's then.
        self._active.add(instance.id)
        try:
            stored = await self.store.trigger_instances.insert_settled(settled, fired)
        finally:
            self._active.discard(instance.id)
        if stored is None:
            _log_duplicate(instance)
            return None
        fault_point(f"trigger instance settled {instance.id}")
        _count_received(instance)
        _count_processed(instance, outcome)
        for execution in stored:
            self.executions.start_soon(execution)
        return instance

    def store_only(self) -> TriggerDispatcher:
        """A dispatcher over the same store and rules that never processes here."""
        return TriggerDispatcher(
            self.store, self.index, self.executions, now=self.now, rules=self.rules, process=False
        )

    def _spawn(self, instance: TriggerInstance) -> None:
        task = asyncio.create_task(self.process(instance), name=f"trigger-{instance.id}")
        self._tasks.add(task)
        self._active.add(instance.id)
        task.add_done_callback(lambda done: self._task_done(done, instance.id))

    def _task_done(self, task: asyncio.Task[None], instance_id: str) -> None:
        self._tasks.discard(task)
        self._active.discard(instance_id)
        if not task.cancelled() and (error := task.exception()):
            logger.error("trigger instance task crashed", exc_info=error)

    # -- processing -----------------------------------------------------------------------
    async def process(self, instance: TriggerInstance) -> None:
        """Evaluate one instance and settle it (see ``_process``); lines logged meanwhile name
        its trace and trigger. Bound for this call only: recovery and the takeover sweep call
        it inline, and their own later lines must not inherit the ids."""
        trace_id = instance.trace.id if instance.trace else None
        with logcontext.bound(trace_id=trace_id, trigger=instance.trigger):
            await self._process(instance)

    async def _process(self, instance: TriggerInstance) -> None:
        """Evaluate one instance and settle it in one write; a lost CAS means another worker
        settled it first (and nothing of ours was stored)."""
        if instance.status not in (T.PENDING, T.PROCESSING):  # processing: an older version
            return
        try:
            fired = await self._evaluate(instance)
        except Exception:
            logger.exception("trigger instance %s could not be processed", instance.id)
            await self._fail(instance)
            return
        fault_point(f"trigger instance evaluated {instance.id}")
        done = instance.transition(T.PROCESSED)
        settle = self.store.trigger_instances.settle
        stored = await settle(done, expected_status=instance.status, fired=fired)
        if stored is None:
            logger.info("trigger instance %s was settled by someone else", instance.id)
            return
        fault_point(f"trigger instance settled {instance.id}")
        _count_processed(instance, "processed")
        for execution in stored:
            self.executions.start_soon(execution)

    async def _fail(self, instance: TriggerInstance) -> None:
        failed = instance.transition(T.PROCESSING_FAILED)
        if not await self.store.trigger_instances.replace(failed, expected_status=instance.status):
            logger.warning("trigger instance %s was finished by someone else", instance.id)
        else:
            _count_processed(instance, "failed")

    async def _evaluate(self, instance: TriggerInstance) -> list[Fired]:
        group = self.rules.index.candidates(instance.trigger, instance.trigger_parameters)
        context = None
        kv = self.executions.kv
        if kv is not None and group.reads_kv:
            context = kv_criteria_context(await kv_context(kv, RULE_USER))
        now, payload = self.now(), instance.payload
        matched = await evaluate_in_slices(
            group.standard, group.standard_index, payload, context, now
        )
        if not matched:  # backstop rules apply only when no standard rule matched
            matched = await evaluate_in_slices(
                group.backstop, group.backstop_index, payload, context, now
            )
        fired: list[Fired] = []
        for rule in matched:
            with logcontext.bound(rule=rule.ref):
                try:
                    fired.append(await self._fire(rule, instance))
                except Exception:  # one broken rule must not keep the others from firing
                    logger.exception("rule %s failed for instance %s", rule.ref, instance.id)
        return fired

    async def _fire(self, rule: Rule, instance: TriggerInstance) -> Fired:
        """The rule's enforcement and the execution it requests, built but not stored."""
        prepared = await self._prepare(rule, instance)
        failure = prepared.failure or (prepared.rendered.error if prepared.rendered else None)
        execution = None
        if prepared.rendered is not None:
            execution = await self._execution(rule, instance, prepared.rendered, prepared.secrets)
        enforcement = RuleEnforcement.new(
            rule.ref,
            instance.id,
            failure_reason=failure,
            execution_id=None if execution is None else execution.id,
        )
        return Fired(enforcement, execution)

    async def _prepare(self, rule: Rule, instance: TriggerInstance) -> _Prepared:
        """Render the rule's action parameters (a failure is recorded on the enforcement)."""
        try:
            action = self.index.get_action(rule.action.ref)
            pack = self.index.packs.get(action.pack)
            kv = await self._kv_for(action, rule)
            with recording_decryptions() as decrypted:
                rendered = render_action(
                    rule,
                    action,
                    instance.payload,
                    pack_config=pack.config if pack else {},
                    kv=kv,
                    trigger_instance_id=instance.id,
                )
        except Exception as exc:
            return _Prepared(None, f"{type(exc).__name__}: {exc}")
        return _Prepared(rendered, None, tuple(decrypted))

    async def _kv_for(self, action: Action, rule: Rule) -> Mapping[str, Any] | None:
        """The ``st2kv`` context, loaded only when a template could read it (a hot path)."""
        kv = self.executions.kv
        if kv is None or not mentions_kv(action, rule.action.parameters):
            return None
        return await kv_context(kv, RULE_USER)

    async def _execution(
        self, rule: Rule, instance: TriggerInstance, rendered: RenderedAction,
        secrets: tuple[str, ...],
    ) -> Execution:  # fmt: skip
        context = {
            "user": RULE_USER,
            "rule": {"id": None, "name": rule.name, "ref": rule.ref},
            "trigger_instance": {"id": instance.id, "name": None},
        }
        if instance.trace is not None:
            context["trace_context"] = instance.trace.to_doc()
        # Only the rule's own (now rendered) values: the rest are defaults and immutables the
        # service resolves again, and it refuses overrides of immutable ones.
        params = {k: v for k, v in rendered.parameters.items() if k in rule.action.parameters}
        ref = rendered.action_ref
        execution_id = execution_id_for(instance.id, rule.ref)
        if rendered.error is None:
            try:
                # Already rendered: the payload inside must never be rendered again.
                requested = await self.executions.prepare(
                    ref, params, context=context, render_live=False, execution_id=execution_id,
                    known_secrets=secrets,
                )  # fmt: skip
                # core.noop: run now, stored completed by the settle (one commit for it all).
                return await self.executions.run_before_storing(requested)
            except Exception as exc:  # still leave a failed execution behind, like st2
                error = f"{type(exc).__name__}: {exc}"
        else:
            error = rendered.error
        return self.executions.prepare_failed(
            ref, params, context=context, error=error, execution_id=execution_id,
            known_secrets=secrets,
        )  # fmt: skip

    # -- lifecycle ------------------------------------------------------------------------
    async def recover(self) -> int:
        """Re-process every unfinished instance (oldest first); returns how many were seen."""
        seen: set[str] = set()
        while True:
            page = await self.store.trigger_instances.list_unfinished(RECOVER_PAGE)
            fresh = [i for i in page if i.id not in seen]
            if not fresh:
                return len(seen)
            for instance in fresh:
                seen.add(instance.id)
                try:
                    await self.process(instance)
                except Exception:  # one bad row must not block startup or the others
                    logger.exception("recovering trigger instance %s failed", instance.id)

    async def sweep(self, min_age: timedelta = SWEEP_MIN_AGE) -> int:
        """Process ``pending`` instances stored by other processes; returns how many started.

        Only ``pending``: a ``processing`` one (left by an older version) waits for
        ``recover`` at a start.
        """
        cutoff = self.now() - min_age
        page = await self.store.trigger_instances.list_unfinished(SWEEP_PAGE)
        found = [
            i
            for i in page
            if i.status is T.PENDING and i.id not in self._active and i.occurrence_time <= cutoff
        ]
        for instance in found:
            self._spawn(instance)
        return len(found)

    async def sweep_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:  # a store hiccup must not end the sweeping for good
                logger.exception("sweeping pending trigger instances failed")

    async def stop(self, grace: float = 5.0) -> None:
        """Let in-flight instances finish up to ``grace``; cancelled ones are recovered later."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _log_duplicate(instance: TriggerInstance) -> None:
    logger.info("trigger instance %s/%s is a duplicate", instance.trigger, instance.dedupe_key)


def _count_received(instance: TriggerInstance) -> None:
    kind = metrics.source_kind(instance.source)
    metrics.labelled(metrics.TRIGGER_INSTANCES_RECEIVED, instance.trigger, kind).inc()


def _count_processed(instance: TriggerInstance, outcome: str) -> None:
    kind = metrics.source_kind(instance.source)
    metrics.labelled(metrics.TRIGGER_INSTANCES_PROCESSED, instance.trigger, kind, outcome).inc()
