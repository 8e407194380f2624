"""asyncssh, imported once without the DSA deprecation warnings its import triggers.

asyncssh still supports DSA keys, so importing it touches ``cryptography``'s deprecated DSA
classes; Squall never offers DSA, and the warning would only alarm users at every start.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh as asyncssh

__all__ = ["asyncssh"]
