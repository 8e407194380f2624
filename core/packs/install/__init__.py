"""Installing packs as ``st2 pack install`` does: fetch a source, copy it into the first packs
path, check it, and give it a virtualenv with its ``requirements.txt``.

* ``sources``: a local folder or a git repository (path or URL, ``=ref``) → a checkout;
* ``venvs``: ``<virtualenvs>/<pack>`` created and filled by pip, and whether it is current;
* ``installer``: the steps together, and ``remove``.
"""

from core.packs.install.installer import (
    InstallResult,
    InvalidPackError,
    install_pack,
    remove_pack,
)
from core.packs.install.sources import PackSource, SourceError, parse_source
from core.packs.install.venvs import VenvError, VenvState, setup_venv, venv_state

__all__ = [
    "InstallResult",
    "InvalidPackError",
    "PackSource",
    "SourceError",
    "VenvError",
    "VenvState",
    "install_pack",
    "parse_source",
    "remove_pack",
    "setup_venv",
    "venv_state",
]
