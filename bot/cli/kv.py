"""``squall key set|get|list|delete``: the datastore from the command line (st2-format §12)."""

from __future__ import annotations

import argparse
from typing import Any

from bot.app import open_engine
from bot.chat.render import table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import CLI_USER, SubParsers
from core.kv.model import KeyValuePair
from core.kv.names import SCOPES, SYSTEM
from core.kv.service import KeyValueService

LIST_COLUMNS = ("name", "value", "secret", "scope", "user", "expire_timestamp")


def add_key_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``key`` and its sub-commands on the top-level sub-parsers ``sub``."""
    key = sub.add_parser("key", parents=[common], help="set, get, list or delete datastore keys")
    key_sub = key.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    set_ = _with_scope(key_sub.add_parser("set", parents=[common], help="create or replace"))
    set_.add_argument("name")
    set_.add_argument("value")
    set_.add_argument("--encrypt", action="store_true", help="store as an encrypted secret")
    set_.add_argument("--ttl", type=int, metavar="SECONDS", help="expire after SECONDS")
    set_.add_argument("--description", default="")
    set_.set_defaults(handler=key_set)

    get = _with_scope(key_sub.add_parser("get", parents=[common], help="one key"))
    get.add_argument("name")
    get.add_argument("--decrypt", action="store_true", help="show a secret's plaintext")
    get.set_defaults(handler=key_get)

    list_ = _with_scope(key_sub.add_parser("list", parents=[common], help="keys of a scope"))
    list_.add_argument("--prefix", help="only names starting with PREFIX")
    list_.add_argument("--decrypt", action="store_true", help="show secrets' plaintext")
    list_.set_defaults(handler=key_list)

    delete = _with_scope(key_sub.add_parser("delete", parents=[common], help="remove a key"))
    delete.add_argument("name")
    delete.set_defaults(handler=key_delete)


def _with_scope(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--scope", choices=SCOPES, default=SYSTEM)
    parser.add_argument("--user", default=CLI_USER, help=f"user-scope owner (default {CLI_USER})")
    return parser


def _api(service: KeyValueService, pair: KeyValuePair, decrypt: bool) -> dict[str, Any]:
    return pair.to_api(decrypt, service.keys)


async def key_set(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        pair = await engine.kv.set(
            args.name,
            args.value,
            scope=args.scope,
            user=args.user,
            secret=args.encrypt,
            ttl=args.ttl,
            description=args.description,
        )
        api = _api(engine.kv, pair, decrypt=False)
    emit(args, api, f"{api['name']} set in {api['scope']}")
    return 0


async def key_get(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        pair = await engine.kv.get(args.name, scope=args.scope, user=args.user)
        if pair is None:
            raise LookupError(f"datastore key {args.name!r} not found in scope {args.scope}")
        api = _api(engine.kv, pair, decrypt=args.decrypt)
    emit(args, api, str(api["value"]))
    return 0


async def key_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        pairs = await engine.kv.list(args.prefix, scope=args.scope, user=args.user)
        apis = [_api(engine.kv, pair, decrypt=args.decrypt) for pair in pairs]
    emit(args, apis, table(apis, LIST_COLUMNS))
    return 0


async def key_delete(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        deleted = await engine.kv.delete(args.name, scope=args.scope, user=args.user)
    if not deleted:
        raise LookupError(f"datastore key {args.name!r} not found in scope {args.scope}")
    emit(args, {"name": args.name, "deleted": True}, f"{args.name} deleted")
    return 0
