"""Policy metadata (``policies/*.yaml``): st2-format §9.

Like rules, a policy is checked in two steps: ``load`` checks its shape and parameters for its
``policy_type``; ``resolve`` runs once every pack is registered, because the action it governs
(``resource_ref``) may come from a later pack.
"""

from __future__ import annotations

from typing import Any

from core.models import Pack
from core.models.policy import CONCURRENCY, CONCURRENCY_ATTR, POLICY_TYPES, RETRY, Policy
from core.packs import schemacheck
from core.packs.content import PackContent
from core.packs.errors import FileProblems, PackError
from core.packs.index import ContentIndex, UnknownActionError
from core.packs.metadata import check_pack_field, drop_unresolved, load_all, read_metadata
from core.packs.paths import PackDir
from core.runners.types import RUNNER_TYPES

POLICIES_DIR = "policies"

_POLICY = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "pattern": r"^\S+$"},
            "pack": {"type": "string"},
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "resource_ref": {"type": "string", "minLength": 1},
            "policy_type": {"type": "string", "minLength": 1},
            "parameters": {"type": "object"},
            # Computed by st2 and ignored here, but valid in exported metadata.
            "ref": {"type": "string"},
            "uid": {"type": "string"},
            "id": {"type": "string"},
            "metadata_file": {"type": "string"},
        },
        "additionalProperties": False,
    }
)
_THRESHOLD = {"type": "integer", "minimum": 0}
_ON_EXCESS = {"enum": ["delay", "cancel"]}
# Per policy type: (schema of ``parameters``, required parameter names).
_PARAMETERS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    CONCURRENCY: ({"threshold": _THRESHOLD, "action": _ON_EXCESS}, ("threshold",)),
    CONCURRENCY_ATTR: (
        {
            "threshold": _THRESHOLD,
            "action": _ON_EXCESS,
            "attributes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        ("threshold", "attributes"),
    ),
    RETRY: (
        {
            "retry_on": {"enum": ["failure", "timeout"]},
            "max_retry_count": {"type": "integer", "minimum": 1, "maximum": 5},
            "delay": {"type": "number", "minimum": 0, "maximum": 120},
        },
        ("retry_on",),
    ),
}
_PARAMETER_VALIDATORS = {
    policy_type: schemacheck.validator_for(
        {"type": "object", "properties": properties, "additionalProperties": False}
    )
    for policy_type, (properties, _) in _PARAMETERS.items()
}
_REQUIRED = ("name", "resource_ref", "policy_type")


def load_policy(
    pack_dir: PackDir, pack: Pack, relative: str, errors: list[PackError]
) -> Policy | None:
    """Load one policy file; ``None`` (with every problem added to ``errors``) if invalid."""
    read = read_metadata(pack_dir, relative, errors)
    if read is None:
        return None
    doc, problems = read
    data = doc.data
    schemacheck.check(_POLICY, data, problems)
    for key in _REQUIRED:
        if key not in data:
            problems.add((key,), "required key is missing")
    check_pack_field(data.get("pack"), pack.ref, "policy", problems)
    _check_parameters(data, problems)
    return None if problems.count else _build(data, pack, problems)


def _check_parameters(data: dict[Any, Any], problems: FileProblems) -> None:
    policy_type = data.get("policy_type")
    if not isinstance(policy_type, str) or not policy_type:
        return  # already reported by the schema or as missing
    if policy_type not in _PARAMETERS:
        known = ", ".join(repr(t) for t in POLICY_TYPES)
        problems.add(
            ("policy_type",), f"unknown policy type {policy_type!r}; expected one of {known}"
        )
        return
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        return
    schemacheck.check(_PARAMETER_VALIDATORS[policy_type], parameters, problems, ("parameters",))
    for name in _PARAMETERS[policy_type][1]:
        if name not in parameters:
            problems.add(("parameters", name), "required key is missing")


def _build(data: dict[Any, Any], pack: Pack, problems: FileProblems) -> Policy:
    # Only called on a document that passed every check, so keys have their types.
    return Policy(
        pack=pack.ref,
        name=data["name"],
        resource_ref=data["resource_ref"],
        policy_type=data["policy_type"],
        parameters=data.get("parameters", {}),
        description=data.get("description", ""),
        enabled=data.get("enabled", True),
        metadata_file=problems.file,
    )


def reference_problems(policy: Policy, index: ContentIndex, problems: FileProblems) -> None:
    """Check the governed action exists and ``attributes`` name its parameters."""
    try:
        action = index.get_action(policy.resource_ref)
    except UnknownActionError as exc:
        problems.add(("resource_ref",), str(exc))
        return
    runner = RUNNER_TYPES.get(action.runner_type)
    known = {*action.parameters, *(runner.parameters if runner else {})}
    for position, name in enumerate(policy.parameters.get("attributes", [])):
        if name not in known:
            message = f"{name!r} is not a parameter of action {action.ref}"
            problems.add(("parameters", "attributes", position), message)


class PolicyKind:
    """Loads ``policies/*.yaml``; a name used twice in a pack is an error, the first file wins."""

    def load(self, content: PackContent, errors: list[PackError]) -> None:
        content.policies.extend(load_all(content, POLICIES_DIR, "policy", load_policy, errors))

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        for policy in content.policies:
            index.policies[policy.ref] = policy

    def resolve(self, index: ContentIndex, errors: list[PackError]) -> None:
        drop_unresolved(
            index.policies, lambda p, found: reference_problems(p, index, found), errors
        )
