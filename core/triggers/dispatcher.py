"""The in-process rules engine: trigger instance → rule enforcements → executions.

Durability (security §2.6): ``dispatch`` persists the instance ``pending`` before it returns, so
a caller may acknowledge its source (webhook 202) once it has the instance; processing then
runs in a tracked background task. A process that dies before finishing leaves the instance
``pending`` or ``processing`` and ``recover`` evaluates it again at the next start.

Never twice: each matched rule first inserts its RuleEnforcement, which the store keeps unique
per (rule, instance); only the winner of that insert requests the execution. A ``processing``
instance left by a dead process is therefore resumed as it is (the status table has no
processing → processing edge): rules already enforced are skipped, the rest fire. The cost is
at-most-once for a rule whose enforcement was stored just before a crash: its execution is not
requested on recovery rather than risking a double run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.executions.service import ExecutionService, mentions_kv
from core.kv.lookup import kv_context
from core.models import Action, Rule
from core.models.trigger_instance import RuleEnforcement, TriggerInstance, TriggerInstanceStatus
from core.packs import ContentIndex
from core.rules.criteria import kv_criteria_context
from core.rules.index import WEBHOOK_TRIGGER, normalize_parameters
from core.rules.matcher import RULE_USER, RenderedAction, match_rules, render_action
from core.rules.ruleset import RuleSet
from core.store import Store

__all__ = ["TriggerDispatcher", "webhook_source"]

logger = logging.getLogger(__name__)

T = TriggerInstanceStatus
WEBHOOK_SOURCE = "webhook:"
RECOVER_PAGE = 100
# The sweep picks up ``pending`` instances other processes stored (a CLI run's actiontrigger);
# the age keeps it off instances their own process is about to claim.
SWEEP_PAGE = 200
SWEEP_MIN_AGE = timedelta(seconds=2)


def webhook_source(url: str) -> str:
    """The ``source`` of a webhook instance (shown in listings and logs)."""
    return WEBHOOK_SOURCE + url.strip("/")


@dataclass(frozen=True)
class _Prepared:
    """A rule's rendered action, or why it could not even be rendered."""

    rendered: RenderedAction | None
    failure: str | None


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
        self._active: set[str] = set()  # instance ids with a processing task here

    # -- intake ---------------------------------------------------------------------------
    async def dispatch(
        self,
        trigger_ref: str,
        payload: dict[str, Any],
        *,
        trigger_parameters: dict[str, Any] | None = None,
        source: str = "",
        dedupe_key: str | None = None,
    ) -> TriggerInstance | None:
        """Persist a ``pending`` instance, then process it in the background.

        Raises UnknownTriggerTypeError for an unknown trigger type; returns None when the
        dedupe key was already seen (the earlier delivery is the one that gets processed).
        """
        self.index.get_trigger_type(trigger_ref)
        parameters = normalize_parameters(trigger_ref, trigger_parameters or {})
        if not source and trigger_ref == WEBHOOK_TRIGGER and "url" in parameters:
            source = webhook_source(str(parameters["url"]))
        instance = TriggerInstance.new(trigger_ref, payload, source, dedupe_key, parameters)
        if not await self.store.trigger_instances.insert(instance):
            logger.info("trigger instance %s/%s is a duplicate", trigger_ref, dedupe_key)
            return None
        if self.process_here:
            self._spawn(instance)
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
        """Evaluate one instance; a lost CAS means another worker owns it."""
        parameters = instance.trigger_parameters
        current = await self._claim(instance)
        if current is None:
            return
        try:
            await self._enforce_all(current, parameters)
        except Exception:
            logger.exception("trigger instance %s could not be processed", instance.id)
            await self._finish(current, T.PROCESSING_FAILED)
            return
        await self._finish(current, T.PROCESSED)

    async def _claim(self, instance: TriggerInstance) -> TriggerInstance | None:
        if instance.status is T.PROCESSING:
            return instance  # left by a dead process: resumable, see the module docstring
        if instance.status is not T.PENDING:
            return None
        claimed = instance.transition(T.PROCESSING)
        ok = await self.store.trigger_instances.replace(claimed, expected_status=T.PENDING)
        return claimed if ok else None

    async def _finish(self, instance: TriggerInstance, status: TriggerInstanceStatus) -> None:
        done = instance.transition(status)
        if not await self.store.trigger_instances.replace(done, expected_status=T.PROCESSING):
            logger.warning("trigger instance %s was finished by someone else", instance.id)

    async def _enforce_all(self, instance: TriggerInstance, parameters: dict[str, Any]) -> None:
        index = self.rules.index
        context = None
        kv = self.executions.kv
        if kv is not None and index.candidates(instance.trigger, parameters).reads_kv:
            context = kv_criteria_context(await kv_context(kv, RULE_USER))
        matches = match_rules(
            index, instance.trigger, parameters, instance.payload, now=self.now(), context=context
        )
        for match in matches:
            if not match.matched:
                continue
            try:
                await self._enforce(match.rule, instance)
            except Exception:  # one broken rule must not keep the others from firing
                logger.exception("rule %s failed for instance %s", match.rule.ref, instance.id)

    async def _enforce(self, rule: Rule, instance: TriggerInstance) -> None:
        prepared = await self._prepare(rule, instance)
        failure = prepared.failure or (prepared.rendered.error if prepared.rendered else None)
        enforcement = RuleEnforcement.new(rule.ref, instance.id, failure_reason=failure)
        if not await self.store.rule_enforcements.insert(enforcement):
            logger.info("rule %s already enforced for %s", rule.ref, instance.id)
            return
        if prepared.rendered is None:
            return
        execution_id = await self._request(rule, instance, prepared.rendered)
        await self.store.rule_enforcements.set_execution(enforcement.id, execution_id)

    async def _prepare(self, rule: Rule, instance: TriggerInstance) -> _Prepared:
        """Render before the enforcement is stored, so its failure_reason is recorded with it
        (the store has no way to add one later)."""
        try:
            action = self.index.get_action(rule.action.ref)
            pack = self.index.packs.get(action.pack)
            rendered = render_action(
                rule,
                action,
                instance.payload,
                pack_config=pack.config if pack else {},
                kv=await self._kv_for(action, rule),
                trigger_instance_id=instance.id,
            )
        except Exception as exc:
            return _Prepared(None, f"{type(exc).__name__}: {exc}")
        return _Prepared(rendered, None)

    async def _kv_for(self, action: Action, rule: Rule) -> Mapping[str, Any] | None:
        """The ``st2kv`` context, loaded only when a template could read it (a hot path)."""
        kv = self.executions.kv
        if kv is None or not mentions_kv(action, rule.action.parameters):
            return None
        return await kv_context(kv, RULE_USER)

    async def _request(
        self, rule: Rule, instance: TriggerInstance, rendered: RenderedAction
    ) -> str:
        context = {
            "user": RULE_USER,
            "rule": {"id": None, "name": rule.name, "ref": rule.ref},
            "trigger_instance": {"id": instance.id, "name": None},
        }
        # Only the rule's own (now rendered) values: the rest are defaults and immutables the
        # service resolves again, and it refuses overrides of immutable ones.
        params = {k: v for k, v in rendered.parameters.items() if k in rule.action.parameters}
        ref = rendered.action_ref
        if rendered.error is None:
            try:
                # Already rendered: the payload inside must never be rendered again.
                done = await self.executions.request(
                    ref, params, context=context, render_live=False
                )
                return done.id
            except Exception as exc:  # still leave a failed execution behind, like st2
                error = f"{type(exc).__name__}: {exc}"
        else:
            error = rendered.error
        failed = await self.executions.request_failed(ref, params, context=context, error=error)
        return failed.id

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

        Only ``pending``: a ``processing`` one may belong to a live process (CAS protects
        only the pending → processing claim), so those wait for ``recover`` at a start.
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
