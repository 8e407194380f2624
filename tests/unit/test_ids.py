"""Execution, instance and trace ids: 24 hex characters, unique, in creation order, and a forked
child does not repeat its parent's sequence (the id stream is keyed once per process)."""

from __future__ import annotations

import os
import re
import time

from core.models.execution import new_id
from core.models.trigger_instance import execution_id_for


def test_ids_look_like_object_ids_and_do_not_repeat() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_draws_ids_the_parent_never_draws() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids and leave without running pytest's teardown
        os.write(write, "".join(new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    child = {text[i : i + 24] for i in range(0, len(text), 24)}
    parent = {new_id() for _ in range(50)}
    assert len(child) == 50
    assert not child & parent


def test_ids_start_with_their_creation_time_so_they_sort_by_it() -> None:
    """Index B-trees keyed by ids append instead of touching a random page per insert."""
    before = time.time()
    first = new_id()
    time.sleep(0.01)  # more than one 1/256 s slot
    second = new_id()
    after = time.time()
    assert first < second
    # As in a MongoDB ObjectId, the first 8 hex digits are the Unix seconds.
    assert int(before) <= int(first[:8], 16) <= int(second[:8], 16) <= int(after)
    assert int(before * 256) <= int(first[:10], 16) <= int(after * 256)


def test_a_rules_execution_id_is_derived_and_starts_with_its_instances_time() -> None:
    instance_id = new_id()
    first = execution_id_for(instance_id, "pack.a")
    assert first == execution_id_for(instance_id, "pack.a")  # recovery names the same one
    assert first != execution_id_for(instance_id, "pack.b")
    assert re.fullmatch(r"[0-9a-f]{24}", first) and first[:10] == instance_id[:10]
    # An instance id new_id did not make still gives a 24-hex-digit id.
    assert re.fullmatch(r"[0-9a-f]{24}", execution_id_for("ti1", "pack.a"))
