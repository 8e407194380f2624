"""Running action-chains: st2's ``action-chain`` runner, each task a child execution.

A chain is sequential, so its whole state follows from its children: the child of step ``n``
has an id derived from (chain, n). Every time something happens (the runner starts it, a
child changes status, someone cancels, pauses or resumes it, a restart) the engine replays
the chain from the start: a step whose child exists takes that child's status and result
(publishing its variables, choosing ``on-success``/``on-failure``); the first step without a
child requests it — under its derived id, so a replay racing another never runs it twice.
Nothing but the executions themselves is stored, and a kill -9 anywhere is harmless.

Statuses as st2: the chain ends with its last task's status (a failure handled by an
``on-failure`` task that succeeds is a success); a canceled task cancels the chain; a paused or
pending task pauses it. A cancel or pause of the chain waits for the running task (a running
workflow or chain task is told too), then stops before the next one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Unpack

from core.chains.definitions import ChainDefinitions
from core.chains.render import ChainRenderError, base_context, describe, render_values
from core.chains.render import task_context as render_context
from core.executions.drivers import INHERITED_CONTEXT, ChildDriver, DriverOptions
from core.executions.notify import NOTIFY_OVERRIDE
from core.executions.recovery import owner_is_gone
from core.executions.run import split_parameters
from core.executions.service import ExecutionError, ExecutionService
from core.kv.lookup import kv_context
from core.models import COMPLETED, Action, Execution, ExecutionStatus, utcnow
from core.models.execution import isoformat
from core.models.status import transition_path
from core.packs import UnknownActionError
from core.packs.chains import ChainSpec, Node
from core.params import ParameterError
from core.params.render import SHELL_COMMAND, SHELL_RUNNERS
from core.runners.base import RunnerResult
from core.store import ExecutionQuery
from core.store.base import DuplicateExecution

logger = logging.getLogger(__name__)

S = ExecutionStatus
RUNNER_TYPE: Final = "action-chain"
POLL_SECONDS: Final = 2.0
LEASE: Final = timedelta(seconds=30)
# Runner types whose executions are told about a cancel or pause of the chain, as st2 does.
CONTROLLED: Final = frozenset({"orquesta", RUNNER_TYPE})
_WAITING: Final = frozenset({S.PAUSED, S.PENDING})
_FAILED: Final = frozenset({S.FAILED, S.ABANDONED, S.TIMEOUT})


def chain_child_id(chain_id: str, step: int) -> str:
    """The id of step ``step``'s execution: the same however often the chain is replayed."""
    seed = f"{chain_id}:chain:{step}"
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:24]


@dataclass
class _Replay:
    """Where the chain stands, rebuilt from its children."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    published: dict[str, Any] = field(default_factory=dict)
    chain_vars: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    status: ExecutionStatus = S.SUCCEEDED
    error: str | None = None
    # The next node to run and its step, or the step waiting on a running/paused child.
    node: Node | None = None
    step: int = 0
    running: Execution | None = None


class ChainEngine(ChildDriver):
    """Runs ``action-chain`` executions; their runner's controller."""

    log = logger
    step_failed = "action-chain step failed"

    def __init__(self, service: ExecutionService, **options: Unpack[DriverOptions]) -> None:
        super().__init__(service, **options)
        self.definitions = ChainDefinitions()
        self._mine: set[str] = set()  # chains this process drives (their leases renewed)
        service.controllers[RUNNER_TYPE] = self
        service.add_change_listener(self.on_child_change, wants=_is_chain_task)

    # -- entry points ---------------------------------------------------------------------
    async def start(self, execution_id: str) -> RunnerResult:
        """The runner's ``run``: check the chain, then drive it (it stays ``running``)."""
        execution = await self.store.executions.get(execution_id)
        action = self._action(execution)
        if execution is None or action is None:
            return RunnerResult(S.FAILED, {"error": f"execution {execution_id} is gone"})
        spec, problems = self.definitions.get(action)
        if spec is None:
            return RunnerResult(S.FAILED, {"tasks": [], "error": "; ".join(problems)})
        self._mine.add(execution.id)
        self._spawn(self.advance(execution.id))
        return RunnerResult(S.RUNNING, {})

    async def on_child_change(self, child: Execution) -> None:
        """Service listener: a task of some chain changed status."""
        if child.parent is not None and isinstance(child.context.get("chain"), Mapping):
            await self.advance(child.parent)

    async def cancel(self, execution: Execution) -> None:
        await self._tell_running_child(execution, "cancel")
        await self.advance(execution.id)

    async def pause(self, execution: Execution) -> None:
        await self._tell_running_child(execution, "pause")
        await self.advance(execution.id)

    async def resume(self, execution: Execution) -> None:
        await self.advance(execution.id)

    # -- the replay -----------------------------------------------------------------------
    async def advance(self, chain_id: str) -> None:
        """Replay the chain and take its next step, if it has one (under the chain's lock)."""
        async with self._lock(chain_id):
            execution = await self.store.executions.get(chain_id)
            if execution is None or execution.is_completed:
                self._mine.discard(chain_id)
                return
            if execution.runner_type != RUNNER_TYPE or execution.status is S.REQUESTED:
                return
            action = self._action(execution)
            spec = self.definitions.get(action)[0] if action is not None else None
            if action is None or spec is None:
                await self._finish(execution, S.FAILED, {"tasks": [], "error": "the chain is gone"})
                return
            await self._advance(execution, action, spec)

    async def _advance(self, execution: Execution, action: Action, spec: ChainSpec) -> None:
        runner_params, params = split_parameters(action, execution.parameters)
        base = await self._base_context(execution, action, params)
        replay = await self._replay(execution, spec, base)
        result = self._result(replay, runner_params)
        if replay.running is not None:
            if replay.running.status in _WAITING and execution.status is not S.RESUMING:
                await self._move(execution, S.PAUSED, result)  # a paused task pauses the chain
            elif execution.status is S.RESUMING:
                await self._resume_child(execution, replay.running)
            return
        if replay.node is None:
            await self._finish(execution, replay.status, result)
            return
        if execution.status in (S.CANCELING, S.CANCELED):
            await self._finish(execution, S.CANCELED, result)
            return
        if execution.status in (S.PAUSING, S.PAUSED):
            await self._move(execution, S.PAUSED, result)
            return
        if execution.status is S.RESUMING:
            execution = await self.service.set_status(execution, S.RUNNING) or execution
        await self._request_step(execution, action, spec, replay, base, runner_params)

    async def _replay(self, execution: Execution, spec: ChainSpec, base: dict[str, Any]) -> _Replay:
        replay = _Replay()
        try:
            replay.chain_vars = render_values(spec.vars, base)
        except ChainRenderError as exc:
            replay.status, replay.error = S.FAILED, f"Failed initializing ``vars`` in chain. {exc}"
            return replay
        node = spec.nodes.get(spec.default or "")
        step = 0
        while node is not None:
            child = await self.store.executions.get(chain_child_id(execution.id, step))
            if child is None:
                refused = _refusal(execution, step)
                if refused is None:
                    replay.node, replay.step = node, step
                    return replay
                replay.tasks.append(_task_entry(node, None, refused))
                replay.results[node.name] = {"error": refused}
                replay.status = S.FAILED
                node, step = spec.next(node, succeeded=False), step + 1
                continue
            if not child.is_completed:
                if child.status in _WAITING:  # st2 lists a paused task; a running one not yet
                    replay.tasks.append(_task_entry(node, child))
                replay.running, replay.step = child, step
                return replay
            replay.tasks.append(_task_entry(node, child))
            replay.results[node.name] = child.result
            if child.status is S.SUCCEEDED:
                try:
                    self._publish(node, child, replay, base)
                except ChainRenderError as exc:
                    replay.status, replay.error = (
                        S.FAILED,
                        describe(exc, "publish parameter", node.name),
                    )
                    return replay
                replay.status, node = S.SUCCEEDED, spec.next(node, succeeded=True)
            elif child.status is S.CANCELED:
                replay.status, node = S.CANCELED, None
            else:
                replay.status = S.TIMEOUT if child.status is S.TIMEOUT else S.FAILED
                node = spec.next(node, succeeded=False)
            step += 1
        return replay

    @staticmethod
    def _publish(node: Node, child: Execution, replay: _Replay, base: dict[str, Any]) -> None:
        if not node.publish:
            return
        context = {**base, node.name: child.result}
        context.update(render_context({}, replay.results, replay.chain_vars))
        values = render_values(node.publish, context)
        replay.chain_vars.update(values)
        replay.published.update(values)

    async def _request_step(
        self,
        execution: Execution,
        action: Action,
        spec: ChainSpec,
        replay: _Replay,
        base: dict[str, Any],
        runner_params: Mapping[str, Any],
    ) -> None:
        node = replay.node
        assert node is not None
        child_id = chain_child_id(execution.id, replay.step)
        context: dict[str, Any] = {
            k: execution.context[k] for k in INHERITED_CONTEXT if k in execution.context
        }
        context["parent"] = {
            "execution_id": execution.id,
            "user": execution.context.get("user"),
            "root": execution.context.get("parent", {}).get("root", execution.id),
        }
        context["chain"] = {"name": node.name, "ref": node.ref, "step": replay.step}
        notify = _task_notify(node, action, runner_params)
        if notify is not None:
            context[NOTIFY_OVERRIDE] = notify
        try:
            parameters = render_values(
                node.parameters,
                render_context(base, replay.results, replay.chain_vars),
                shell_key=self._shell_key(node.ref),
            )
        except ChainRenderError as exc:
            error = f'Failed to run task "{node.name}". Parameter rendering failed. '
            await self._refuse(
                execution, replay, error + describe(exc, "action parameter", node.name)
            )
            return
        try:
            await self.service.request(
                node.ref, parameters, context=context, render_live=False,
                parent=execution.id, execution_id=child_id,
            )  # fmt: skip
        except DuplicateExecution:
            return  # another replay requested it first: its events drive the chain
        except UnknownActionError:
            error = (
                f'Failed to run task "{node.name}". Action with reference "{node.ref}" '
                "doesn't exist."
            )
            await self._refuse(execution, replay, error)
        except (ParameterError, ExecutionError, ValueError) as exc:
            # As st2: the task fails with the reason and the chain goes on with on-failure.
            refusals = dict(execution.context.get("chain_refusals") or {})
            refusals[str(replay.step)] = f'Failed running task "{node.name}". {exc}'
            changed = execution.with_changes(
                context={**execution.context, "chain_refusals": refusals}
            )
            if await self.service.replace(execution, changed):
                self._spawn(self.advance(execution.id))

    async def _refuse(self, execution: Execution, replay: _Replay, error: str) -> None:
        """A task that cannot even be rendered or found fails the chain (as st2)."""
        replay.status, replay.error = S.FAILED, error
        runner_params = split_parameters(
            self._action(execution) or _NO_ACTION, execution.parameters
        )[0]
        await self._finish(execution, S.FAILED, self._result(replay, runner_params))

    # -- status ---------------------------------------------------------------------------
    @staticmethod
    def _result(replay: _Replay, runner_params: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"tasks": replay.tasks}
        if runner_params.get("display_published", True):
            result["published"] = replay.published
        if replay.error is not None:
            result["error"] = replay.error
        return result

    async def _finish(
        self, execution: Execution, status: ExecutionStatus, result: dict[str, Any]
    ) -> None:
        await self._move(execution, status, result)
        self._mine.discard(execution.id)

    async def _move(
        self, execution: Execution, status: ExecutionStatus, result: dict[str, Any]
    ) -> None:
        current: Execution | None = execution
        if current is None or current.status is status:
            return
        try:
            path = transition_path(current.status, status)
        except ValueError:
            logger.error("chain %s: cannot go %s -> %s", current.id, current.status, status)
            return
        for step in path:
            changes = {"result": result} if step in COMPLETED or step is S.PAUSED else {}
            current = await self.service.set_status(current, step, **changes)
            if current is None:
                self._spawn(self.advance(execution.id))  # moved under us: look again
                return

    async def _tell_running_child(self, execution: Execution, verb: str) -> None:
        for child in await self._children(execution.id):
            if child.runner_type not in CONTROLLED or child.is_completed:
                continue
            try:
                if verb == "cancel":
                    await self.service.cancel(
                        child.id, user=execution.context.get("user") or "stanley"
                    )
                elif child.status is S.RUNNING:
                    await self.service.pause(child.id)
            except ExecutionError as exc:
                logger.info("chain %s: %s of task %s: %s", execution.id, verb, child.id, exc)

    async def _resume_child(self, execution: Execution, child: Execution) -> None:
        if child.status in (S.PAUSED, S.PAUSING) and child.runner_type in CONTROLLED:
            try:
                await self.service.resume(child.id)
            except ExecutionError as exc:
                logger.info("chain %s: resume of task %s: %s", execution.id, child.id, exc)
        await self.service.set_status(execution, S.RUNNING)

    # -- helpers --------------------------------------------------------------------------
    def _shell_key(self, ref: str) -> str | None:
        target = self.service.index.actions.get(ref)
        shell = target is not None and target.runner_type in SHELL_RUNNERS
        return SHELL_COMMAND if shell else None

    def _action(self, execution: Execution | None) -> Action | None:
        return None if execution is None else self.service.index.actions.get(execution.action_ref)

    async def _base_context(
        self, execution: Execution, action: Action, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        kv = None
        if self.kv is not None and self.definitions.mentions_kv(action):
            user = execution.context.get("api_user") or execution.context.get("user")
            kv = await kv_context(self.kv, user)
        pack = self.service.index.packs.get(action.pack)
        parent = {"execution_id": execution.id, **execution.context}
        return base_context(
            params, kv, action_context={"parent": parent}, config=pack.config if pack else {}
        )

    async def _children(self, chain_id: str) -> list[Execution]:
        return await self.store.executions.list(ExecutionQuery(parent=chain_id, limit=1000))

    # -- recovery and leases --------------------------------------------------------------
    async def recover(self) -> int:
        """Carry on every unfinished chain whose process is gone; how many were taken up."""
        now, taken, offset = utcnow(), 0, 0
        statuses = (S.RUNNING, S.PAUSING, S.PAUSED, S.RESUMING, S.CANCELING, S.SCHEDULED)
        while True:
            page = await self.store.executions.list(
                ExecutionQuery(statuses=statuses, limit=200, offset=offset)
            )
            offset += len(page)
            for execution in page:
                if execution.runner_type != RUNNER_TYPE:
                    continue
                foreign = bool(execution.owner) and execution.owner != str(self.owner)
                if foreign and not owner_is_gone(execution, now):
                    continue
                owned = execution.with_changes(owner=str(self.owner), lease_expires=now + LEASE)
                if not await self.service.replace(execution, owned):
                    continue
                if owned.status is S.SCHEDULED:
                    await self.service.set_status(owned, S.RUNNING)
                self._mine.add(execution.id)
                await self.advance(execution.id)
                taken += 1
            if len(page) < 200:
                return taken

    async def poll_forever(self) -> None:
        """Renew the leases of the chains driven here and apply cancel/pause/resume requests
        other processes recorded in their status."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            for chain_id in list(self._mine):
                try:
                    await self.store.executions.renew_lease(
                        chain_id, str(self.owner), utcnow() + LEASE
                    )
                    await self.advance(chain_id)
                except Exception:
                    logger.exception("action-chain poll failed for %s", chain_id)


_NO_ACTION = Action(pack="", name="", runner_type=RUNNER_TYPE, pack_path=Path("."))


def _refusal(execution: Execution, step: int) -> str | None:
    """Why step ``step`` could not even be requested (recorded on the chain), if so."""
    refusals = execution.context.get("chain_refusals") or {}
    found = refusals.get(str(step))
    return str(found) if found is not None else None


def _task_notify(
    node: Node, action: Action, runner_params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The task's own ``notify``, else the chain's (as st2), nothing for ``skip_notify`` tasks;
    None: the task's action's own ``notify`` applies."""
    if node.name in (runner_params.get("skip_notify") or ()):
        return {}
    chosen = node.notify or action.notify
    return dict(chosen) if chosen else None


def _task_entry(node: Node, child: Execution | None, error: str | None = None) -> dict[str, Any]:
    """One entry of the chain's ``tasks`` result, shaped as st2's."""
    created = child.start_timestamp if child is not None else utcnow()
    updated = (child.end_timestamp if child is not None else None) or created
    return {
        "id": node.name,
        "name": node.name,
        "execution_id": child.id if child is not None else None,
        "liveaction_id": child.id if child is not None else None,
        "workflow": None,
        "created_at": isoformat(created),
        "updated_at": isoformat(updated),
        "state": str(child.status) if child is not None else str(S.FAILED),
        "result": child.result if child is not None else {"error": error},
    }


def _is_chain_task(child: Execution) -> bool:
    return child.parent is not None and isinstance(child.context.get("chain"), Mapping)
