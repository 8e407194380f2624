"""The settings schema: one frozen dataclass per YAML section.

Defaults live here and nowhere else; ``config.example.yaml`` documents every field (a test keeps
the two in step). Paths are resolved at parse time: every ``Path`` field and the SQLite file in
``store.url`` are absolute in a parsed ``Settings``, relative ones taken from the folder of the
config file (``Settings.base_dir``). To add a section, add a dataclass and a field on Settings.
"""

from __future__ import annotations

import ipaddress
import os
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from bot.settings.authz import default_users, roles_setting, users_setting
from bot.settings.bundled import bundled_dir
from bot.settings.chat import ChatSettings, RouteSettings
from bot.settings.parser import (
    FROM_CONTEXT,
    Check,
    Context,
    ParseWith,
    between,
    parse_document,
)
from core.authz.authorizer import AuthzConfig, Role, UserSpec
from core.webhooks.handler import HookAuth, auth_from_config, normalize_hook

# The bundled ``packs/`` folder (the checkout's, or the copy a wheel carries).
BUNDLED_PACKS_DIR = bundled_dir("packs")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]

_STORE_SCHEMES = ("sqlite", "mongodb", "mongodb+srv", "mongomock")
_SQLITE_PREFIX = "sqlite:///"


def _store_url(url: str, ctx: Context) -> str:
    """Validate the scheme and make a relative SQLite path absolute (``sqlite:////abs/x.db``)."""
    scheme, sep, _ = url.partition("://")
    # The URL itself is never echoed: a Mongo URL may carry a password.
    if not sep or scheme not in _STORE_SCHEMES:
        raise ValueError(f"expected a sqlite:///PATH or mongodb://HOST URL, got scheme {scheme!r}")
    if scheme != "sqlite":
        return url
    if not url.startswith(_SQLITE_PREFIX) or len(url) == len(_SQLITE_PREFIX):
        raise ValueError("expected sqlite:///PATH (three slashes, then a file path)")
    file, query_sep, query = url[len(_SQLITE_PREFIX) :].partition("?")
    if file == ":memory:" or file.startswith("/"):
        return url
    absolute = os.path.normpath(ctx.base_dir / file)
    return f"{_SQLITE_PREFIX}{absolute}{query_sep}{query}"


def _cidr(value: str, ctx: Context) -> str:
    try:
        return str(ipaddress.ip_network(value))
    except ValueError as exc:
        raise ValueError(f"expected a CIDR network such as 10.0.0.0/8: {exc}") from None


Cidr = Annotated[str, Check(_cidr)]


@dataclass(frozen=True)
class StoreSettings:
    """Where executions, trigger instances, workflow state and the datastore live."""

    url: Annotated[str, Check(_store_url)] = "sqlite:///var/squall.db"
    # The MongoDB client library; motor is deprecated upstream but stays the default.
    driver: Literal["motor", "pymongo-async"] = "motor"

    @property
    def backend(self) -> Literal["sqlite", "mongodb"]:
        return "sqlite" if self.url.startswith("sqlite:") else "mongodb"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for a file-backed SQLite store, else None."""
        if self.backend != "sqlite":
            return None
        file = self.url[len(_SQLITE_PREFIX) :].partition("?")[0]
        return None if file == ":memory:" else Path(file)

    @property
    def identity(self) -> str:
        """Which store this is, comparable between processes and safe to show: the SQLite
        file's real path, or the MongoDB hosts and database without credentials or options."""
        if self.backend == "sqlite":
            path = self.sqlite_path
            return f"sqlite:{os.path.realpath(path) if path else ':memory:'}"
        scheme, _, rest = self.url.partition("://")
        location = rest.rpartition("@")[2].partition("?")[0]
        return f"{scheme}://{location}"


@dataclass(frozen=True)
class PacksSettings:
    """Where packs are found. The bundled ``packs/`` folder is not listed: it always comes first."""

    paths: tuple[Path, ...] = ()
    config_dir: Path = Path("configs")
    # One virtualenv per pack, <virtualenvs_dir>/<pack> (st2's /opt/stackstorm/virtualenvs).
    virtualenvs_dir: Path = Path("var/virtualenvs")
    # Extra arguments of every ``pip install`` into a pack venv (an index, --find-links, ...).
    pip_args: tuple[str, ...] = ()
    # Put the pack root lib/ on sys.path of its Python actions (st2's packs.enable_common_libs).
    enable_common_libs: bool = False
    # Stop a pack venv's warmed interpreter after this long without runs.
    venv_idle_seconds: Annotated[float, between(1.0)] = 600.0
    # `squall serve` reloads packs, rules, aliases and policies when their files change.
    watch: bool = False
    watch_interval_seconds: Annotated[float, between(0.1)] = 2.0

    def resolved_paths(self, bundled_dir: Path = BUNDLED_PACKS_DIR) -> tuple[Path, ...]:
        """The search path in load order: the bundled folder, then ``paths``, without repeats."""
        return tuple(dict.fromkeys((bundled_dir, *self.paths)))

    def config_file(self, pack: str) -> Path:
        return self.config_dir / f"{pack}.yaml"


@dataclass(frozen=True)
class AliasesSettings:
    """Site-level action alias folders, loaded after the packs' own aliases."""

    paths: tuple[Path, ...] = (Path("aliases"),)


def _ip_networks(value: tuple[str, ...], ctx: Context) -> tuple[str, ...]:
    """Addresses or CIDR networks, normalised (``10.0.0.1`` → ``10.0.0.1/32``)."""
    try:
        return tuple(str(ipaddress.ip_network(item, strict=False)) for item in value)
    except ValueError as bad:
        raise ValueError(f"expected IP addresses or networks (10.0.0.0/8): {bad}") from None


@dataclass(frozen=True)
class HttpSettings:
    """The webhook / health listener."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: Annotated[int, between(1, 65535)] = 9101
    # Connection limits (bot.http.listener): slow or idle clients cannot hold sockets forever.
    header_timeout_seconds: Annotated[float, between(0.1)] = 10.0
    body_timeout_seconds: Annotated[float, between(0.1)] = 60.0
    keepalive_timeout_seconds: Annotated[float, between(0.1)] = 15.0
    max_connections: Annotated[int, between(1)] = 256
    # Reverse proxies whose X-Forwarded-Proto / Forwarded: proto= is believed (nobody else's).
    trusted_proxies: Annotated[tuple[str, ...], Check(_ip_networks)] = ()
    # The web console's cookies get ``Secure``: "auto" when the browser reached Squall over
    # HTTPS (as a trusted proxy says), "always" whatever the request says.
    secure_cookies: Literal["auto", "always"] = "auto"


@dataclass(frozen=True)
class ApiSettings:
    """StackStorm's REST API (/api/v1), auth (/auth/v1) and event stream (/stream/v1)."""

    enabled: bool = True
    token_ttl_seconds: Annotated[int, between(60)] = 86_400
    max_token_ttl_seconds: Annotated[int, between(60)] = 2_592_000
    action_token_ttl_seconds: Annotated[int, between(60)] = 3_600
    max_login_failures: Annotated[int, between(1)] = 5
    login_window_seconds: Annotated[int, between(1)] = 300
    stream_heartbeat_seconds: Annotated[float, between(0.05)] = 20.0
    stream_buffer_events: Annotated[int, between(100)] = 10_000
    # While a stream client is connected, the store is read this often for execution changes
    # other processes made (core.stream.follower); null: only this process's own changes.
    stream_follow_seconds: Annotated[float, between(0.05)] | None = 1.0


def _hook_auth(value: object, ctx: Context) -> HookAuth:
    return auth_from_config(value)


@dataclass(frozen=True)
class HookSettings:
    """One webhook url: how callers prove who they are (``none`` opts out explicitly)."""

    auth: Annotated[HookAuth, ParseWith(_hook_auth)]


def _hook_urls(hooks: dict[str, HookSettings], ctx: Context) -> dict[str, HookSettings]:
    """Keys are normalized like rule urls (``/a/`` is ``a``) so lookups need no second guess."""
    normalized: dict[str, HookSettings] = {}
    for url, hook in hooks.items():
        key = normalize_hook(url)
        if key in normalized:
            raise ValueError(f"{url!r} and another key both name hook {key!r}")
        normalized[key] = hook
    return normalized


@dataclass(frozen=True)
class WebhooksSettings:
    """``POST /api/v1/webhooks/<url>``: body cap and per-hook auth (no entry → API key)."""

    max_body_bytes: Annotated[int, between(1)] = 1_048_576
    hooks: Annotated[dict[str, HookSettings], Check(_hook_urls)] = field(default_factory=dict)
    # ``auth: none`` hooks on a listener other machines can reach must be acknowledged.
    allow_unauthenticated_public: bool = False

    def open_hooks(self) -> list[str]:
        return sorted(url for url, hook in self.hooks.items() if hook.auth.kind == "none")

    def auth_for(self, hook: str) -> HookAuth | None:
        found = self.hooks.get(normalize_hook(hook))
        return None if found is None else found.auth


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume other machines reach it


def _check_public_open_hooks(http: HttpSettings, webhooks: WebhooksSettings) -> None:
    """Refuse ``http.host: 0.0.0.0`` (or any non-loopback address) with an ``auth: none`` hook:
    anyone who can reach the port could fire its rules. An explicit flag accepts the risk."""
    open_hooks = webhooks.open_hooks()
    if not http.enabled or _is_loopback(http.host) or not open_hooks:
        return
    if webhooks.allow_unauthenticated_public:
        return
    raise ValueError(
        f"http.host: {http.host} is reachable from other machines and webhooks.hooks."
        f"{open_hooks[0]} has auth: none, so anyone could fire its rules; give the hook an "
        "auth, bind http.host to 127.0.0.1 behind a proxy, or set "
        "webhooks.allow_unauthenticated_public: true"
    )


@dataclass(frozen=True)
class RulesSettings:
    """How a running ``serve`` follows ``squall rule enable|disable`` from other processes."""

    refresh_seconds: Annotated[float, between(0.1)] = 2.0


def _timezone(name: str, ctx: Context) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (expected an IANA name such as UTC)") from None
    return name


@dataclass(frozen=True)
class TimersSettings:
    """Timer rules (``core.st2.IntervalTimer``/``DateTimer``/``CronTimer``) in ``squall serve``."""

    enabled: bool = True
    # Timezone of timer rules that name none (st2's ``timer.local_timezone``).
    default_timezone: Annotated[str, Check(_timezone)] = "UTC"
    # Ticks missed by more than this are skipped; missed ones within it coalesce into one fire.
    # At least 1 s: a tick is always handled a little after its time.
    misfire_grace_seconds: Annotated[float, between(1.0)] = 60.0


ServeRole = Literal["engine", "http", "chat", "timers", "sensors"]
SERVE_ROLES: tuple[ServeRole, ...] = ("engine", "http", "chat", "timers", "sensors")


@dataclass(frozen=True)
class SensorOverrideSettings:
    """One sensor's overrides of its ``sensors/*.yaml``."""

    enabled: bool | None = None
    poll_interval: Annotated[float, between(0.01)] | None = None


@dataclass(frozen=True)
class SensorsSettings:
    """Pack sensors, each in its own process under ``squall serve``."""

    enabled: bool = True
    # Check a dispatched payload against its trigger type's payload_schema (st2's
    # system.validate_trigger_payload); a payload that does not match is refused and logged.
    validate_payload: bool = True
    # Restarts: after restart_initial_seconds, doubling up to restart_max_seconds (±20%);
    # given up after max_failures exits within failure_window_seconds.
    restart_initial_seconds: Annotated[float, between(0.01)] = 1.0
    restart_max_seconds: Annotated[float, between(0.01)] = 60.0
    max_failures: Annotated[int, between(1)] = 5
    failure_window_seconds: Annotated[float, between(1.0)] = 300.0
    # At shutdown: cleanup() gets this long, then SIGTERM gets as long again, then SIGKILL.
    stop_grace_seconds: Annotated[float, between(0.0)] = 5.0
    # Where serve writes the sensors' state for `squall sensor list` and `doctor`.
    status_file: Path = Path("var/sensors.json")
    overrides: dict[str, SensorOverrideSettings] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterSettings:
    """Several ``squall serve`` processes on one store: what each does, and the leases that
    make the once-only jobs (timers, sensors, each chat platform) run in one process."""

    # What this process does (``serve --roles`` overrides it); every role by default.
    roles: tuple[ServeRole, ...] = SERVE_ROLES
    # A lease holder renews every renew_seconds for lease_seconds ahead; a dead holder's
    # lease is taken over within lease_seconds + renew_seconds.
    lease_seconds: Annotated[float, between(0.5)] = 15.0
    renew_seconds: Annotated[float, between(0.1)] = 5.0
    # How often the owner of a chat platform looks for results other processes finished.
    outbox_poll_seconds: Annotated[float, between(0.05)] = 1.0
    # Outbox items older than this are dropped (and logged) by the garbage collection pass:
    # results for a platform no process connects must not pile up forever. Null keeps them.
    outbox_ttl_seconds: Annotated[float, between(60.0)] | None = 86400.0

    def __post_init__(self) -> None:
        if self.renew_seconds >= self.lease_seconds:
            raise ValueError(
                f"renew_seconds ({self.renew_seconds}) must be below lease_seconds"
                f" ({self.lease_seconds})"
            )
        if not self.roles:
            raise ValueError(f"roles: name at least one of {', '.join(SERVE_ROLES)}")

    def has(self, role: ServeRole) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class ExecutionsSettings:
    max_concurrency: Annotated[int, between(1)] = 32
    output_limit_bytes: Annotated[int, between(1024)] = 1_048_576
    shutdown_grace_seconds: Annotated[float, between(0.0)] = 30.0
    python_fork_server: bool = True


@dataclass(frozen=True)
class WorkflowsSettings:
    """Orquesta workflows and their inquiries (``core.ask``)."""

    # Whether the person who started a workflow may answer its inquiries themselves.
    inquiry_self_response: bool = True
    # Least seconds between two edits of a workflow's progress card in chat.
    progress_interval_seconds: Annotated[float, between(0.0)] = 2.0


@dataclass(frozen=True)
class HttpRunnerSettings:
    """Outbound requests of the http-request runner (``core.http``): SSRF guard rails."""

    # core.runners.ssrf.DEFAULT_DENIED plus AWS's IPv6 metadata address (a test keeps this a
    # superset of the core list).
    denied_networks: tuple[Cidr, ...] = (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches local listeners on Linux
        "169.254.0.0/16",  # IPv4 link-local, incl. the cloud metadata service 169.254.169.254
        "224.0.0.0/4",  # IPv4 multicast
        "255.255.255.255/32",  # limited broadcast
        "::/128",  # IPv6 unspecified address
        "fe80::/10",  # IPv6 link-local
        "ff00::/8",  # IPv6 multicast
        "fd00:ec2::254/128",  # AWS metadata service over IPv6
    )
    # Exceptions carved out of denied_networks (e.g. one internal API).
    allowed_networks: tuple[Cidr, ...] = ()


@dataclass(frozen=True)
class SshRunnerSettings:
    """The remote shell runners (``core.remote``): login defaults and host-key policy."""

    # Login user when an action gives no ``username`` (st2's ``system_user``); null: the OS
    # user running Squall.
    user: str | None = None
    # Private key when an action gives no ``private_key``; null: ~/.ssh/id_* and the agent.
    key_file: Path | None = None
    known_hosts: Path = Path("~/.ssh/known_hosts")
    # strict: only hosts in known_hosts; accept-new: also unknown hosts (their key is added),
    # never a changed key; off: no checking (StackStorm's behaviour; labs only).
    host_key_checking: Literal["strict", "accept-new", "off"] = "strict"
    connect_timeout: Annotated[float, between(0.1)] = 10.0
    max_parallel: Annotated[int, between(1)] = 10


@dataclass(frozen=True)
class RunnersSettings:
    http: HttpRunnerSettings = field(default_factory=HttpRunnerSettings)
    ssh: SshRunnerSettings = field(default_factory=SshRunnerSettings)


@dataclass(frozen=True)
class LogSettings:
    level: LogLevel = "INFO"
    format: LogFormat = "text"
    # While the console chat has the terminal, logs go here instead of stderr.
    console_file: Path = Path("var/squall.log")


@dataclass(frozen=True)
class MetricsSettings:
    """``GET /metrics`` (Prometheus text format)."""

    enabled: bool = True
    # Serve without an API key: only for a scraper on a private network.
    public: bool = False
    # How often the gauges read from the store (queue depth, pending approvals) are refreshed.
    sample_seconds: Annotated[float, between(1.0)] = 15.0


@dataclass(frozen=True)
class CryptoSettings:
    """The symmetric key that encrypts secret datastore values."""

    key_path: Path = Path("var/squall.key")


@dataclass(frozen=True)
class GcSettings:
    """In-process garbage collection; a TTL left null keeps that kind of record forever."""

    executions_ttl_days: Annotated[float, between(1.0)] | None = None
    trigger_instances_ttl_days: Annotated[float, between(1.0)] | None = None
    rule_enforcements_ttl_days: Annotated[float, between(1.0)] | None = None
    # Null stops the periodic pass altogether (expired datastore items stay until read).
    interval_seconds: Annotated[float, between(1.0)] | None = 600.0


@dataclass(frozen=True)
class Settings:
    """Everything configurable, parsed once at startup; nothing reads the environment later."""

    store: StoreSettings = field(default_factory=StoreSettings)
    packs: PacksSettings = field(default_factory=PacksSettings)
    aliases: AliasesSettings = field(default_factory=AliasesSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    webhooks: WebhooksSettings = field(default_factory=WebhooksSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    timers: TimersSettings = field(default_factory=TimersSettings)
    sensors: SensorsSettings = field(default_factory=SensorsSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    executions: ExecutionsSettings = field(default_factory=ExecutionsSettings)
    workflows: WorkflowsSettings = field(default_factory=WorkflowsSettings)
    runners: RunnersSettings = field(default_factory=RunnersSettings)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    crypto: CryptoSettings = field(default_factory=CryptoSettings)
    gc: GcSettings = field(default_factory=GcSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    routes: dict[str, RouteSettings] = field(default_factory=dict)
    # Permissions (core.authz): YAML mappings by name, kept as tuples; see bot/settings/authz.
    users: Annotated[tuple[UserSpec, ...], ParseWith(users_setting)] = field(
        default_factory=default_users
    )
    roles: Annotated[tuple[Role, ...], ParseWith(roles_setting)] = ()
    # Not YAML keys: filled in by the parser.
    base_dir: Path = field(default_factory=Path.cwd, metadata={FROM_CONTEXT: "base_dir"})
    source: Path | None = field(default=None, metadata={FROM_CONTEXT: "source"})

    def __post_init__(self) -> None:
        # Cross-section checks (unknown roles, an identity given to two users): ValueError
        # naming users.<name>.<key>, reported by the parser like any other settings error.
        AuthzConfig(users=self.users, roles=self.roles)
        if self.chat.slack.enabled and self.chat.slack.mode == "http" and not self.http.enabled:
            raise ValueError("chat.slack.mode: http needs the listener (http.enabled: true)")
        _check_public_open_hooks(self.http, self.webhooks)

    @property
    def authz(self) -> AuthzConfig:
        return AuthzConfig(users=self.users, roles=self.roles)

    @classmethod
    def defaults(cls, base_dir: str | Path | None = None) -> Settings:
        """The settings of an empty config file in ``base_dir`` (default: the cwd)."""
        folder = Path(os.path.abspath(base_dir if base_dir is not None else Path.cwd()))
        return parse_document(cls, {}, Context(base_dir=folder))
