"""One python-script execution, inside the action's own process (forked or spawned).

Mirrors StackStorm's ``python_action_wrapper.py``: read the request, load the one action class
of the entry point, call ``run(**parameters)`` and print the result block. Exit codes:
0 (ran), 1 (raised, traceback on stderr), 220 (``run()`` returned a non-bool status).
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import inspect
import io
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NoReturn

from .action_service import ActionService, datastore_unavailable
from .datastore_client import SocketTransport
from .protocol import (
    DATASTORE_FD,
    INVALID_STATUS_EXIT_CODE,
    INVALID_STATUS_MESSAGE,
    Request,
    encode_result,
)

INVALID_STATUS_HINT = (
    "If this is an existing action which returns a tuple with two items, it needs to return "
    "either a list instead, or a (status, result) tuple whose status is True or False."
)


class ActionLoadError(Exception):
    """The entry point could not be imported or holds no single Action subclass."""


def forked(fds: Sequence[int], cleanup: Callable[[], None]) -> NoReturn:
    """Fork-server entry: become the action process on ``fds`` (stdin, stdout, stderr, and
    optionally the datastore socket, which becomes fd 3)."""
    code = 1
    try:
        # First, so the runner's killpg(pid) also reaches anything the action starts.
        os.setsid()
        cleanup()
        # Lift the fds above stdio first, so no dup2 below overwrites one still to be moved.
        lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD, 3) for fd in fds]
        for target, fd in enumerate(lifted):
            os.dup2(fd, target)
        # Whatever else the server holds (its socket, other runs' pipes) must not leak in.
        os.closerange(len(lifted), os.sysconf("SC_OPEN_MAX"))
        code = run_stdio()
    finally:
        finish(code)


def main_once(extra_fds: Sequence[int] = ()) -> NoReturn:
    """Fallback entry: a fresh interpreter whose stdio already are the action's pipes; the
    inherited ``extra_fds`` move to fd 3 and up, where a forked child has them."""
    code = 1
    try:
        for target, fd in enumerate(extra_fds, start=3):
            if fd != target:
                os.dup2(fd, target)
                os.close(fd)
        code = run_stdio()
    finally:
        finish(code)


def run_stdio() -> int:
    _install_stdio()
    try:
        return run_request(_read_request())
    except BaseException:
        traceback.print_exc()
        return 1


def finish(code: int) -> NoReturn:
    """Wait for the action's own threads like interpreter exit would, then leave at once.

    ``os._exit`` so a forked child never runs the server's atexit hooks or finalizers.
    """
    try:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    finally:
        os._exit(code)


def _install_stdio() -> None:
    # Fresh wrappers over fds 0-2 (closefd=False: the old objects still own them): utf-8 and
    # line-buffered like st2's ``python -u``, whatever the host's locale or buffers were.
    def wrap(fd: int, mode: str) -> io.TextIOWrapper:
        raw = open(fd, mode + "b", closefd=False)  # noqa: SIM115 - lives as long as the process
        return io.TextIOWrapper(raw, "utf-8", "backslashreplace", line_buffering=True)

    sys.stdin, sys.stdout, sys.stderr = wrap(0, "r"), wrap(1, "w"), wrap(2, "w")


def _read_request() -> Request:
    chunks = []
    while chunk := os.read(0, 1 << 16):
        chunks.append(chunk)
    # The action itself gets an empty stdin, as under st2.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    request: Request = json.loads(b"".join(chunks))
    return request


def run_request(request: Request) -> int:
    try:
        _prepare(request)
        action = _instantiate(request)
        output = action.run(**request["parameters"])
    except SystemExit as e:
        return _exit_code(e)
    except ActionLoadError as e:
        if e.__cause__ is not None:
            traceback.print_exception(e.__cause__)
        print(e, file=sys.stderr)
        return 1
    except BaseException as e:
        # Start the traceback at the action's frames, not at this wrapper.
        traceback.print_exception(type(e), e, e.__traceback__ and e.__traceback__.tb_next)
        return 1
    return _report(output)


def _prepare(request: Request) -> None:
    _replace_environ(request["env"])
    os.chdir(request["cwd"])
    entry = request["entry_point"]
    sys.argv = [entry]
    # st2 puts actions/lib (and lib/ with enable_common_libs) on PYTHONPATH, ahead of
    # everything, but *appends* the entry point's directory, so an ``actions/http.py`` cannot
    # shadow the stdlib module of the same name.
    sys.path[:0] = request["lib_paths"]
    sys.path.append(os.path.dirname(entry))


def _replace_environ(env: dict[str, str]) -> None:
    # Only touch what differs: each putenv() costs, and most variables are inherited as is.
    for name in [n for n in os.environ if n not in env]:
        del os.environ[name]
    for name, value in env.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _instantiate(request: Request) -> Any:
    base = importlib.import_module("st2common.runners.base_action").Action
    utils = importlib.import_module("st2common.runners.utils")
    module = _load_module(request["entry_point"])
    action_cls = _find_action_class(module, base, request["entry_point"])
    transport = SocketTransport(DATASTORE_FD) if request.get("datastore") else None
    service = ActionService(
        request["pack"],
        action_cls.__name__,
        request["log_level"],
        transport or datastore_unavailable,
    )
    return utils.get_action_class_instance(action_cls, request["config"], service)


def _load_module(path: str) -> ModuleType:
    name = os.path.splitext(os.path.basename(path))[0]
    if name in sys.modules:  # e.g. an ``actions/uuid.py`` must not replace the real uuid
        name = f"_squall_action_{name}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as e:
        raise ActionLoadError(
            f'Failed to load action class from file "{path}" (action file most likely '
            f"doesn't exist or contains invalid syntax): {e}"
        ) from e
    return module


def _find_action_class(module: ModuleType, base: type, path: str) -> type:
    """The one action class defined in the file, found as st2's ``register_plugin`` does.

    Any class of the module that implements every abstract method of ``Action`` (``run``)
    counts, whether it derives from the shim's ``Action``, from a pack-local base in
    ``actions/lib`` or from nothing; st2 then registers it as a virtual subclass of ``Action``.
    Unlike st2 (which silently takes the first by name), more than one is an error: a class
    that is a base of another candidate is a helper, not a second action, and subclasses of
    ``Action`` win over classes that merely have a ``run``.
    """
    required = sorted(getattr(base, "__abstractmethods__", ()))
    defined = [c for c in vars(module).values() if isinstance(c, type) and c is not base]
    found = [c for c in defined if c.__module__ == module.__name__ and _implements(c, required)]
    # Real ``Action`` subclasses first, so a helper with a ``run`` (a sensor class in the same
    # file, say) does not compete with the action proper.
    found = [c for c in found if issubclass(c, base)] or found
    leaves = [c for c in found if not any(o is not c and issubclass(o, c) for o in found)]
    if not leaves:
        raise ActionLoadError(
            f'File "{path}" has no action class or the file doesn\'t exist: no class in it '
            f"implements {', '.join(required)}()."
        )
    if len(leaves) > 1:
        names = ", ".join(sorted(c.__name__ for c in leaves))
        raise ActionLoadError(
            f'File "{path}" has more than one action class: {names}; keep one class that '
            "implements run() per action file."
        )
    action_cls = leaves[0]
    if not issubclass(action_cls, base):
        base.register(action_cls)  # type: ignore[attr-defined]  # as st2: a virtual subclass
    return action_cls


def _implements(cls: type, required: list[str]) -> bool:
    """Every required method is a concrete function on ``cls`` (inherited ones count)."""
    if inspect.isabstract(cls):
        return False
    for name in required:
        method = inspect.getattr_static(cls, name, None)
        if not inspect.isfunction(method) or getattr(method, "__isabstractmethod__", False):
            return False
    return True


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def _report(output: Any) -> int:
    """Split ``(status, result)`` like st2 and print the result block; 220 on a bad status."""
    status, result = output if isinstance(output, tuple) and len(output) == 2 else (None, output)
    if status is not None and not isinstance(status, bool):
        sys.stderr.write(f"{INVALID_STATUS_MESSAGE}, got: {status}\n{INVALID_STATUS_HINT}\n")
        return INVALID_STATUS_EXIT_CODE
    sys.stdout.flush()
    _write_all(1, encode_result(result, status))
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
