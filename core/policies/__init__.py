"""Action policies (st2-format §9): concurrency limits and retries.

``compiled`` turns loaded policies into typed rules per action, ``concurrency`` and ``retry``
hold the pure decisions, ``gate`` applies them to executions in the store.
"""

from core.policies.compiled import ConcurrencyPolicy, PolicySet, RetryPolicy, compile_policies
from core.policies.gate import PolicyGate

__all__ = ["ConcurrencyPolicy", "PolicyGate", "PolicySet", "RetryPolicy", "compile_policies"]
