"""In-memory services for pack unit tests, as st2's ``st2tests.mocks``."""
