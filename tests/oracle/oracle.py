"""Run cases through Orquesta (PyPI 1.2.0 under Python 3.8) as a subprocess oracle.

The oracle's interpreter is ``$SQUALL_ORQUESTA_PYTHON``, else ``.venv-oracle/bin/python``
(``make oracle`` builds it with a Python 3.8 from pyenv). ``oracle_python()`` returns None when
neither exists, and tests skip with that reason; Orquesta's code is never imported by Squall.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).resolve().parent / "orquesta_rehearse.py"
SKIP_REASON = (
    "no Orquesta oracle: run `make oracle` (needs a Python 3.8, e.g. from pyenv) or set "
    "SQUALL_ORQUESTA_PYTHON to a Python with orquesta==1.2.0"
)


def oracle_python() -> Path | None:
    configured = os.environ.get("SQUALL_ORQUESTA_PYTHON")
    for candidate in (configured, ROOT / ".venv-oracle" / "bin" / "python"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def run_oracle(cases: list[dict[str, Any]], *, timeout: float = 300) -> list[dict[str, Any]]:
    python = oracle_python()
    if python is None:
        raise RuntimeError(SKIP_REASON)
    done = subprocess.run(
        [str(python), str(HARNESS)],
        input=json.dumps({"cases": cases}),
        capture_output=True, text=True, timeout=timeout, check=True,
    )  # fmt: skip
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def run_oracle_script(script: str, *, timeout: float = 60) -> Any:
    """Run a short Python 3.8 script next to orquesta; its stdout is JSON."""
    python = oracle_python()
    if python is None:
        raise RuntimeError(SKIP_REASON)
    done = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, timeout=timeout, check=True
    )
    return json.loads(done.stdout)
