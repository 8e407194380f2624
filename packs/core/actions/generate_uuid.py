"""core.uuid: a new UUID (``uuid1`` or ``uuid4``) as a string."""

import uuid

from st2common.runners.base_action import Action

__all__ = ["GenerateUUID"]

GENERATORS = {"uuid1": uuid.uuid1, "uuid4": uuid.uuid4}


class GenerateUUID(Action):
    def run(self, uuid_type="uuid4"):
        try:
            generate = GENERATORS[uuid_type]
        except KeyError:
            raise ValueError(f"Invalid UUID type specified: {uuid_type}") from None
        return str(generate())
