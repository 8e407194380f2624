"""What each ``squall`` sub-command does; the parser lives in bot/cli/main.py."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from bot.app import content_paths, open_engine
from bot.chat.render import EXECUTION_COLUMNS, execution_summary, table, to_json
from bot.cli.subcommands import CLI_USER
from bot.serve import serve_forever
from bot.settings import Settings, SettingsError, find_config, load_settings
from bot.settings.schema import SERVE_ROLES
from core.executions.api import parameter_schema
from core.models import ExecutionStatus
from core.packs.errors import PackError, only_errors
from core.packs.loader import load_packs
from core.packs.validate import validate_pack
from core.params.casts import parse_params
from core.store import ExecutionQuery


def settings_for(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    store = settings.store.sqlite_path
    if args.config is None and store is not None and not store.exists():
        # Found by discovery or built-in defaults: an empty new store where the user expected
        # theirs is the surprise to name (with --config the user chose it).
        origin = find_config(None).how if settings.source is None else f"config {settings.source}"
        print(f"squall: creating a new store {store} ({origin})", file=sys.stderr)
    return settings


def emit(args: argparse.Namespace, data: Any, human: str) -> None:
    print(to_json(data) if args.json else human)


async def run(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        service = engine.executions
        action = service.action(args.ref)
        params = parse_params(parameter_schema(action), args.params)
        execution = await service.request(action.ref, params, context={"user": CLI_USER})
        if args.run_async:
            emit(args, {"id": execution.id, "status": str(execution.status)}, execution.id)
            return 0
        if action.runner_type in ("orquesta", "action-chain"):
            await service.start()  # its tasks are executions too: run them in this process
        done = await service.run_here(execution)
        api = service.to_api(done)
        emit(args, api, execution_summary(api))
        return 0 if done.status is ExecutionStatus.SUCCEEDED else 1


def _row(api: dict[str, Any]) -> dict[str, Any]:
    return {**api, "action": api["action"]["ref"], "user": api["context"].get("user")}


async def execution_list(args: argparse.Namespace) -> int:
    statuses = tuple(ExecutionStatus(s) for s in args.status or ())
    query = ExecutionQuery(
        statuses=statuses, action_ref=args.action, user=args.user, limit=args.limit
    )
    async with open_engine(settings_for(args), start=False) as engine:
        found = await engine.store.executions.list(query)
        apis = [engine.executions.to_api(e) for e in found]
    emit(args, apis, table([_row(a) for a in apis], EXECUTION_COLUMNS))
    return 0


async def execution_get(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        execution = await engine.store.executions.get(args.id)
        if execution is None:
            raise LookupError(f"execution {args.id} not found")
        api = engine.executions.to_api(execution)
        tasks = await engine.store.executions.list(ExecutionQuery(parent=execution.id, limit=1000))
    human = execution_summary(api)
    if tasks:
        tasks.sort(key=lambda t: t.start_timestamp)
        api["children"] = [t.id for t in tasks]
        rows = [{"id": t.id, "task": (t.context.get("orquesta") or {}).get("task_name"),
                 "status": str(t.status), "action": t.action_ref} for t in tasks]  # fmt: skip
        human += "\ntasks:\n" + table(rows, ("id", "task", "status", "action"))
    emit(args, api, human)
    return 0 if execution.status is ExecutionStatus.SUCCEEDED else 1


async def execution_cancel(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        execution = await engine.executions.cancel(args.id, user=CLI_USER)
        api = engine.executions.to_api(execution)
    emit(args, api, execution_summary(api))
    return 0


async def action_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        actions = sorted(engine.content.index.actions.values(), key=lambda a: a.ref)
    apis = [a.to_api() for a in actions if not args.pack or a.pack == args.pack]
    emit(args, apis, table(apis, ("ref", "runner_type", "description")))
    return 0


async def action_get(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        action = engine.content.index.get_action(args.ref)
    api = action.to_api()
    params = [{"name": k, **v} for k, v in parameter_schema(action).items()]
    human = f"{action.ref} ({action.runner_type}): {action.description}\n" + table(
        params, ("name", "type", "required", "default", "description")
    )
    emit(args, {**api, "parameters": parameter_schema(action)}, human)
    return 0


async def pack_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        packs = sorted(engine.content.index.packs.values(), key=lambda p: p.ref)
    rows = [
        {"ref": p.ref, "name": p.name, "version": p.version, "path": str(p.path)} for p in packs
    ]
    emit(args, rows, table(rows, ("ref", "name", "version", "path")))
    return 0


def notify_route_errors(path: Path, settings: Settings) -> list[PackError]:
    """``notify.*.routes`` of the pack's actions that name no configured route."""
    from bot.chat.routes import route_errors  # chat wiring is not needed by other commands

    return route_errors(load_packs([path], config_dir=None).index, settings.routes)


async def pack_validate(args: argparse.Namespace) -> int:
    path = Path(args.path)
    settings = load_settings(args.config)  # no store: not settings_for's notice
    # Pack configs are checked only against a real settings file's config_dir.
    config_dir = settings.packs.config_dir if settings.source is not None else None
    errors = validate_pack(
        path,
        config_dir=config_dir,
        context_paths=content_paths(settings),
        alias_paths=settings.aliases.paths,
    )
    if settings.source is not None:  # only a real settings file says which routes exist
        errors += notify_route_errors(path, settings)
    problems, warnings = only_errors(errors), [e for e in errors if e.warning]
    data = {
        "path": str(path),
        "valid": not problems,
        "errors": [str(e) for e in problems],
        "warnings": [str(e) for e in warnings],
    }
    lines = [str(e) for e in problems] + [f"warning: {e}" for e in warnings]
    human = "\n".join(lines) if lines else f"{path}: OK"
    if not problems and warnings:
        human += f"\n{path}: OK (with warnings)"
    emit(args, data, human)
    return 1 if problems else 0


async def serve(args: argparse.Namespace) -> int:

    settings = settings_for(args)
    if args.roles is not None:
        settings = with_roles(settings, args.roles)
    return await serve_forever(settings, console=not args.no_console)


def with_roles(settings: Settings, text: str) -> Settings:
    """``serve --roles engine,http``: the settings with those roles (SettingsError if not)."""
    roles = tuple(role.strip() for role in text.split(",") if role.strip())
    unknown = [role for role in roles if role not in SERVE_ROLES]
    if unknown or not roles:
        raise SettingsError(
            [f"--roles: expected a comma-separated list of {', '.join(SERVE_ROLES)},"
             f" got {text!r}"]
        )  # fmt: skip
    cluster = dataclasses.replace(settings.cluster, roles=roles)  # type: ignore[arg-type]
    return dataclasses.replace(settings, cluster=cluster)
