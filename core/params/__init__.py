"""The one parameter pipeline: merge schemas, render, cast, validate, mask (st2-format §2.2-2.3)."""

from core.params.casts import cast_value, parse_cli_value
from core.params.context import KeyValueLookup
from core.params.errors import ParameterError
from core.params.render import ResolvedParameters, resolve_parameters
from core.params.schema import OVERRIDABLE_ATTRS, merge_parameter_schemas
from core.params.secrets import mask_secrets, secret_values

__all__ = [
    "OVERRIDABLE_ATTRS",
    "KeyValueLookup",
    "ParameterError",
    "ResolvedParameters",
    "cast_value",
    "mask_secrets",
    "merge_parameter_schemas",
    "parse_cli_value",
    "resolve_parameters",
    "secret_values",
]
