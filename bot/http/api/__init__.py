"""StackStorm's REST API on ``squall serve``: ``/api/v1``, ``/auth/v1`` and ``/stream/v1``,
shaped so the real ``st2`` CLI (st2client 3.9.0) works against Squall."""
