"""``squall execution pause|resume|rerun`` and ``squall inquiry list|get|respond``.

Pause, resume and cancel are recorded in the workflow execution's status; the ``squall serve``
conducting it applies them (within its poll interval), so these work from another shell. A
rerun and an inquiry answer are applied here and the serving process carries on from them.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.app import Engine, open_engine
from bot.chat.render import execution_summary, table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import CLI_USER, SubParsers
from core.approvals.inquiries import INQUIRY_KIND
from core.approvals.service import yes_no_response
from core.authz.authorizer import SquallUser
from core.models.approval import Approval


def add_workflow_execution_parsers(
    ex_sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    for name, handler in (("pause", execution_pause), ("resume", execution_resume)):
        cmd = ex_sub.add_parser(name, parents=[common], help=f"{name} a workflow execution")
        cmd.add_argument("id")
        cmd.set_defaults(handler=handler)
    rerun = ex_sub.add_parser("rerun", parents=[common], help="rerun a completed workflow")
    rerun.add_argument("id")
    rerun.add_argument("--tasks", nargs="+", default=[], metavar="TASK",
                       help="tasks to run again (default: the failed ones)")  # fmt: skip
    rerun.add_argument("--no-reset", nargs="+", default=[], metavar="TASK",
                       help="with-items tasks that keep their succeeded items")  # fmt: skip
    rerun.set_defaults(handler=execution_rerun)


def add_inquiry_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    inquiry = sub.add_parser("inquiry", parents=[common], help="workflow questions waiting")
    inquiry_sub = inquiry.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    inquiry_sub.add_parser("list", parents=[common], help="pending inquiries").set_defaults(
        handler=inquiry_list
    )
    get = inquiry_sub.add_parser("get", parents=[common], help="one inquiry")
    get.add_argument("id")
    get.set_defaults(handler=inquiry_get)
    respond = inquiry_sub.add_parser("respond", parents=[common], help="answer an inquiry")
    respond.add_argument("id")
    respond.add_argument("-r", "--response", help="the answer as JSON, e.g. '{\"approved\": true}'")
    respond.add_argument("--approve", action="store_true", help="answer yes")
    respond.add_argument("--deny", action="store_true", help="answer no")
    respond.add_argument("--as", dest="user", default=CLI_USER,
                         help="the Squall user answering (checked like a chat user)")  # fmt: skip
    respond.set_defaults(handler=inquiry_respond)


async def _control(args: argparse.Namespace, verb: str) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        service = engine.executions
        execution = await (service.pause(args.id) if verb == "pause" else service.resume(args.id))
        api = service.to_api(execution)
    emit(args, api, execution_summary(api))
    return 0


async def execution_pause(args: argparse.Namespace) -> int:
    return await _control(args, "pause")


async def execution_resume(args: argparse.Namespace) -> int:
    return await _control(args, "resume")


async def execution_rerun(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        await engine.executions.start()  # the rerun's tasks may run here if nothing serves
        execution = await engine.workflows.rerun(args.id, tasks=args.tasks, no_reset=args.no_reset)
        done = await engine.executions.wait(execution.id)
        api = engine.executions.to_api(done)
    emit(args, api, execution_summary(api))
    return 0 if done.status == "succeeded" else 1


def _inquiry(approval: Approval) -> dict[str, Any]:
    subject = approval.subject
    return {
        "id": approval.id, "status": str(approval.status), "workflow": subject.get("workflow"),
        "task": subject.get("task"), "route": subject.get("route"), "users": list(
            approval.approvers), "roles": list(approval.approver_roles),
        "schema": approval.schema, "expires_at": approval.to_doc()["expires_at"],
        "response": approval.response, "decided_by": approval.decided_by,
    }  # fmt: skip


async def inquiry_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        found = [_inquiry(a) for a in await engine.inquiries.list_pending()]
    emit(args, found, table(found, ("id", "workflow", "task", "users", "roles", "expires_at")))
    return 0


async def _inquiry_approval(engine: Engine, inquiry_id: str) -> Approval:
    approval = await engine.approvals.get(inquiry_id)
    if approval is None or approval.subject.get("kind") != INQUIRY_KIND:
        raise LookupError(f"inquiry {inquiry_id} not found")
    return approval


async def inquiry_get(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        approval = await _inquiry_approval(engine, args.id)
    shown = _inquiry(approval)
    emit(args, shown, "\n".join(f"{k}: {json.dumps(v)}" for k, v in shown.items()))
    return 0


async def inquiry_respond(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        approval = await _inquiry_approval(engine, args.id)
        response = _response(args, approval)
        user = engine.authz.user_named(args.user) or SquallUser(args.user, ())
        decided = await engine.approvals.respond(args.id, user, response, {"adapter": "cli"})
        shown = _inquiry(decided)
    emit(args, shown, f"inquiry {args.id} {decided.status} by {decided.decided_by}")
    return 0


def _response(args: argparse.Namespace, approval: Approval) -> dict[str, Any]:
    if sum(bool(x) for x in (args.response, args.approve, args.deny)) != 1:
        raise ValueError("give exactly one of --response JSON, --approve, --deny")
    if args.approve or args.deny:
        return yes_no_response(approval.schema, bool(args.approve))
    response = json.loads(args.response)
    if not isinstance(response, dict):
        raise ValueError('--response must be a JSON object, e.g. {"approved": true}')
    return response
