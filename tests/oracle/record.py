"""Record Orquesta's results for the conformance cases, so the suite compares against them even
where no Python 3.8 oracle can be built: ``.venv/bin/python -m tests.oracle.record``.
``tests/workflows/test_conformance.py`` checks, whenever the oracle exists, that the recording
is still what Orquesta says."""

from __future__ import annotations

import json

from tests.oracle.oracle import run_oracle
from tests.workflows.cases import RECORDED, orquesta_cases, own_cases


def main() -> None:
    cases = [*orquesta_cases(), *own_cases()]
    results = run_oracle(cases)
    recorded = {case["id"]: result for case, result in zip(cases, results, strict=True)}
    lines = [
        f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(recorded.items())
    ]
    RECORDED.write_text("{\n" + ",\n".join(lines) + "\n}\n")  # one case per line: short diffs
    print(f"recorded {len(recorded)} results in {RECORDED}")


if __name__ == "__main__":
    main()
