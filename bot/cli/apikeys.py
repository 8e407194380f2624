"""``squall apikey create|list|revoke``: the keys webhook callers present (security.md §1.1).

The key itself is printed once, by ``create``; the store keeps only its hash, so a lost key
cannot be shown again, only revoked and replaced.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.chat.render import table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import CLI_USER, SubParsers
from core.models.apikey import ApiKey
from core.models.execution import utcnow
from core.store import Store, open_store
from core.webhooks.apikeys import generate_api_key, key_id_of_hash

LIST_COLUMNS = ("id", "name", "enabled", "created_at", "revoked_at", "created_by")


def add_apikey_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``apikey`` and its sub-commands on the top-level sub-parsers ``sub``."""
    apikey = sub.add_parser("apikey", parents=[common], help="create, list or revoke API keys")
    apikey_sub = apikey.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    create = apikey_sub.add_parser("create", parents=[common], help="a new key, shown once")
    create.add_argument("--name", default="", help="what the key is for (shown in listings)")
    create.add_argument(
        "--user",
        default="",
        help="the configured user the REST API acts as with this key (default: none, so the "
        "API allows it only what the default role allows)",
    )
    create.set_defaults(handler=apikey_create)

    list_ = apikey_sub.add_parser("list", parents=[common], help="keys (never the key itself)")
    list_.set_defaults(handler=apikey_list)

    revoke = apikey_sub.add_parser("revoke", parents=[common], help="refuse a key from now on")
    revoke.add_argument("id", help="the key's id, as `apikey list` shows it")
    revoke.set_defaults(handler=apikey_revoke)


@contextlib.asynccontextmanager
async def _opened_store(args: argparse.Namespace) -> AsyncIterator[Store]:
    # Keys need the store only: no packs to load, no runners to start.
    settings = settings_for(args)
    store = open_store(
        settings.store.url, base_dir=str(settings.base_dir), driver=settings.store.driver
    )
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def apikey_create(args: argparse.Namespace) -> int:
    if args.user and not any(user.name == args.user for user in settings_for(args).users):
        raise LookupError(f"user {args.user!r} is not configured (see `users:` in the config)")
    plaintext, stored_hash = generate_api_key()
    key = ApiKey(
        id=key_id_of_hash(stored_hash),
        key_hash=stored_hash,
        created_at=utcnow(),
        name=args.name,
        created_by=CLI_USER,
        user=args.user,
    )
    async with _opened_store(args) as store:
        await store.api_keys.insert(key)
    human = (
        f"API key {key.id} created. It is shown only this once; store it now:\n{plaintext}\n"
        "Send it as the St2-Api-Key (or X-Auth-Token) header."
    )
    emit(args, {"key": plaintext, **key.to_api()}, human)
    return 0


async def apikey_list(args: argparse.Namespace) -> int:
    async with _opened_store(args) as store:
        apis: list[dict[str, Any]] = [key.to_api() for key in await store.api_keys.list()]
    emit(args, apis, table(apis, LIST_COLUMNS))
    return 0


async def apikey_revoke(args: argparse.Namespace) -> int:
    async with _opened_store(args) as store:
        if not await store.api_keys.revoke(args.id, utcnow()):
            known = {key.id: key for key in await store.api_keys.list()}
            state = "is already revoked" if args.id in known else "not found"
            raise LookupError(f"API key {args.id!r} {state} (see `squall apikey list`)")
    emit(args, {"id": args.id, "revoked": True}, f"API key {args.id} revoked")
    return 0
