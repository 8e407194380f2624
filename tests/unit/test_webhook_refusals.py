"""Refused webhook deliveries are audited, at most ``per_minute`` a minute."""

from __future__ import annotations

from typing import Any

from bot.http.webhook_refusals import KIND, RefusalLog


class Recorder:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    async def record(self, kind: str, **fields: Any) -> None:
        self.entries.append({"kind": kind, **fields})


async def test_refusals_are_recorded_without_the_body_and_capped_per_minute() -> None:
    recorder, now = Recorder(), [1000.0]
    log = RefusalLog(recorder, per_minute=2, clock=lambda: now[0])  # type: ignore[arg-type]
    for _ in range(5):
        await log.refused("deploy", 401, "signature", "invalid signature", "127.0.0.1")
    assert len(recorder.entries) == 2
    first = recorder.entries[0]
    assert first["kind"] == KIND and first["allowed"] is False
    assert first["subject"] == {"hook": "deploy"}
    assert first["details"] == {"status": 401, "reason": "signature", "left_out_before": 0}
    now[0] += 60
    await log.refused("deploy", 413, "size", "body too large", None)
    assert recorder.entries[-1]["details"]["left_out_before"] == 3
    assert recorder.entries[-1]["place"] == {"remote": "unknown"}
