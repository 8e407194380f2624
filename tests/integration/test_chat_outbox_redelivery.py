"""An outbox item whose deliverer died between posting and removing it is delivered again by
the next holder. Its posts carry keys derived from the item (bot.chat.outbound.dedupe_posts),
so on Discord, which dedupes a bot's posts by nonce (``enforce_nonce``), it shows once.

The death is simulated in one process: removing the item fails after the post went out (as a
kill -9 at that instant), its claim expires, and the deliverer claims it again — the same code
path and the same keys as a new holder in another process after a takeover.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.base import ChatPlace
from bot.chat.relay import KIND, channel_of
from core.models import Execution, ExecutionStatus
from core.models.chat import OutgoingMessage
from core.models.lease import OutboxItem
from tests.fakes.discord import ALERTS_ID, running_fake
from tests.integration.test_discord import embed_text, squall

pytestmark = pytest.mark.timeout(60)

CLUSTER = "cluster: {lease_seconds: 1, renew_seconds: 0.3, outbox_poll_seconds: 0.05}\n"


def finished_run(tag: str) -> Execution:
    """A run started from chat in #alerts whose card this process never posted (it finished
    elsewhere): its result goes out as a new message there."""
    context = {"user": "alice", "chat": {"adapter": "discord", "channel": ALERTS_ID}}
    made = Execution.request("core.echo", "local-shell-cmd", {"message": tag}, context, None)
    return made.with_changes(status=ExecutionStatus.SUCCEEDED, result={"stdout": tag})


async def test_a_result_redelivered_after_its_deliverer_died_posts_once_on_discord(
    tmp_path: Path,
) -> None:
    async with running_fake() as fake, squall(tmp_path, fake, extra=CLUSTER) as sq:
        store = sq.engine.store
        run = finished_run("redelivered-once")
        await store.executions.insert(run)
        done = store.outbox.done
        dying: list[str] = []

        async def died_before_removing(item_id: str) -> bool:
            if not dying:
                dying.append(item_id)
                raise ConnectionError("the deliverer died right after posting")
            return await done(item_id)

        store.outbox.done = died_before_removing  # type: ignore[method-assign]
        await store.outbox.put(OutboxItem.new(channel_of("discord"), KIND, run.id, key=run.id))
        posts = await fake.wait_for("POST", f"/channels/{ALERTS_ID}/messages", count=2)
        async with asyncio.timeout(10):
            while await store.outbox.count():
                await asyncio.sleep(0.05)
    first, second = posts
    assert first.body["nonce"] == second.body["nonce"] and first.body["enforce_nonce"] is True
    shown = [m for m in fake.messages.values() if "redelivered-once" in embed_text(m)]
    assert len(shown) == 1, "Discord kept one message for the two posts"
    assert dying == [f"{channel_of('discord')}|{KIND}|{run.id}"]


async def test_a_post_retried_after_its_answer_was_lost_shows_once_on_discord(
    tmp_path: Path,
) -> None:
    """Not only outbox items: every try of one post carries the same key, so a post Discord
    made although its answer never arrived is not made twice by the retry."""
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        fake.drop_after_post()
        delivery = sq.chat.delivery
        place = ChatPlace("discord", ALERTS_ID)
        await delivery.send(place, OutgoingMessage(text="posted-once despite a retry"))
    posts = fake.called("POST", f"/channels/{ALERTS_ID}/messages")
    assert len(posts) == 2 and posts[0].body["nonce"] == posts[1].body["nonce"]
    shown = [m for m in fake.messages.values() if m["content"] == "posted-once despite a retry"]
    assert len(shown) == 1
