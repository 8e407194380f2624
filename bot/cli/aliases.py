"""``squall alias list|match|test``: loaded aliases, which one a chat text would run, and what
running it posts (ack and result) without any chat."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.app import Engine, load_content, open_engine
from bot.chat.render import table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import CLI_USER, SubParsers
from core.aliases import AliasIndex, AliasMatch, AmbiguousAliasMatch, NoAliasMatch
from core.aliases.api import alias_to_api
from core.aliases.params import alias_parameters, check_control_characters
from core.aliases.render import render_ack, render_result
from core.models import ExecutionStatus
from core.params import ParameterError, merge_parameter_schemas
from core.runners.types import RUNNER_TYPES

LIST_COLUMNS = ("ref", "source", "enabled", "action_ref", "formats", "description")


def add_alias_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``alias`` and its sub-commands on the top-level sub-parsers ``sub``."""
    alias = sub.add_parser("alias", parents=[common], help="list action aliases or match text")
    alias_sub = alias.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    list_ = alias_sub.add_parser("list", parents=[common], help="loaded aliases")
    list_.add_argument("--pack", help="only this pack's aliases")
    list_.set_defaults(handler=alias_list)
    match = alias_sub.add_parser("match", parents=[common], help="which alias TEXT runs")
    match.add_argument("text", metavar="TEXT", help='a chat command, e.g. "echo hi"')
    match.set_defaults(handler=alias_match)
    test = alias_sub.add_parser(
        "test", parents=[common], help="match TEXT, run it here, print the ack and the result"
    )
    test.add_argument("text", metavar="TEXT", help='a chat command, e.g. "echo hi"')
    test.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (300)")
    test.set_defaults(handler=alias_test)


async def alias_list(args: argparse.Namespace) -> int:
    index = load_content(settings_for(args)).index
    aliases = sorted(index.aliases.values(), key=lambda a: a.ref)
    apis = [alias_to_api(a) for a in aliases if not args.pack or a.pack == args.pack]
    rows = [{**api, "formats": " | ".join(_displays(api))} for api in apis]
    emit(args, apis, table(rows, LIST_COLUMNS))
    return 0


def _displays(api: dict[str, Any]) -> list[str]:
    return [f if isinstance(f, str) else f["display"] for f in api["formats"]]


async def alias_match(args: argparse.Namespace) -> int:
    index = load_content(settings_for(args)).index
    try:
        matches = AliasIndex(index.aliases.values()).match(args.text)
        typed = [_typed(m, index.get_action(m.alias.action_ref)) for m in matches]
    except AmbiguousAliasMatch as exc:
        candidates = [_match_api(c, c.parameters) for c in exc.candidates]
        return _fail(args, str(exc), candidates)
    except (NoAliasMatch, ParameterError) as exc:
        return _fail(args, str(exc), [])
    data = _match_api(matches[0], typed[0])
    if len(typed) > 1:
        data["all_parameters"] = typed
    lines = [f"{data['alias']}  ({data['format']})"]
    lines += [f"  {name}: {value!r}" for params in typed for name, value in params.items()]
    emit(args, data, "\n".join(lines))
    return 0


def _typed(match: AliasMatch, action: Any) -> dict[str, Any]:
    context = {
        "action_alias_ref": match.alias.ref,
        "api_user": CLI_USER,
        "user": CLI_USER,
        "source_channel": CLI_USER,
    }
    runner = RUNNER_TYPES.get(action.runner_type)
    return alias_parameters(match, action, kv=None, context=context, runner=runner)


def _match_api(match: AliasMatch, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"alias": match.alias.ref, "format": match.representation, "parameters": parameters}


def _fail(args: argparse.Namespace, reason: str, candidates: list[dict[str, Any]]) -> int:
    if args.json:
        emit(args, {"error": reason, "candidates": candidates}, "")
    print(f"error: {reason}", file=sys.stderr)
    return 1


async def alias_test(args: argparse.Namespace) -> int:
    """Like chat would: match, run (as the local operator, approval skipped), render."""
    async with open_engine(settings_for(args), start=False) as engine:
        try:
            matches = engine.aliases.match(args.text)
        except (AmbiguousAliasMatch, NoAliasMatch) as exc:
            return _fail(args, str(exc), [])
        reports = []
        for match in matches:
            try:
                reports.append(await _run_match(engine, match, args.timeout))
            except (ParameterError, ValueError, LookupError) as exc:
                return _fail(args, str(exc), [])
    data: Any = reports[0] if len(reports) == 1 else reports
    emit(args, data, "\n\n".join(_human_test(report) for report in reports))
    succeeded = all(r["execution"]["status"] == ExecutionStatus.SUCCEEDED for r in reports)
    return 0 if succeeded else 1


async def _run_match(engine: Engine, match: AliasMatch, timeout: float) -> dict[str, Any]:
    action = engine.executions.action(match.alias.action_ref)
    params = _typed(match, action)
    # What chat refuses, the CLI refuses too: typed values are data, one line, no bidi.
    check_control_characters(
        merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action), params
    )
    context = {"user": CLI_USER, "api_user": CLI_USER, "action_alias_ref": match.alias.ref}
    service = engine.executions
    execution = await service.request(action.ref, params, context=context, render_live=False)
    ack = render_ack(match.alias, service.to_api(execution))
    done = await asyncio.wait_for(service.run_here(execution), timeout)
    result = render_result(match.alias, service.to_api(done))
    return {
        "alias": match.alias.ref,
        "format": match.representation,
        "parameters": params,
        "approval_skipped": match.alias.approval is not None,
        "ack": ack,
        "result": None if result is None else {"pretext": result.pretext, "text": result.text},
        "execution": service.to_api(done),
    }


def _human_test(report: dict[str, Any]) -> str:
    lines = [f"{report['alias']}  ({report['format']})"]
    if report["approval_skipped"]:
        lines.append("  (its approval was skipped: the CLI runs as the local operator)")
    lines.append(f"ack: {report['ack'] if report['ack'] is not None else '(disabled)'}")
    result = report["result"]
    if result is None:
        lines.append("result: (disabled)")
    else:
        body = result["text"] if not result["pretext"] else f"{result['pretext']}\n{result['text']}"
        lines.append(f"result:\n{body}")
    execution = report["execution"]
    lines.append(f"execution {execution['id']}: {execution['status']}")
    return "\n".join(lines)
