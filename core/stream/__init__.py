"""The event stream: what happened, in order, for ``/stream/v1/stream`` and its listeners."""
