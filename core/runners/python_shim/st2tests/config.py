"""``st2tests.config``: pack tests call ``parse_args()`` first; Squall needs no st2 config."""

__all__ = ["parse_args"]


def parse_args(args=None, coordinator_noop=True):
    """Accepted and ignored: nothing here reads st2's oslo.config settings."""
    return None
