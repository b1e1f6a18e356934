"""The aggregator's configuration: one TOML file, checked once, frozen.

Every key has a default that is safe on a laptop (SQLite in the data directory, bound to 127.0.0.1), so
``notrain serve`` runs with no file at all.  A value out of range is a :class:`ConfigError` at startup,
never a surprise an hour into a crawl.  The file looks like::

    data_dir = "/var/lib/notrain"

    [server]
    host = "127.0.0.1"
    port = 8470
    max_body_bytes = 2_097_152        # a signed manifest is at most 1 MiB of payload, base64 grows it by 4/3

    [storage]
    url = "sqlite:////var/lib/notrain/aggregator.sqlite"  # four slashes: an absolute path; or "postgresql://user@host/db"

    [log]
    origin = "aggregator.example/notrain-log"   # the checkpoint's first line, names this log forever
    key_file = "/var/lib/notrain/log-key.jwk"   # Ed25519, 0600; created on first start when absent
    checkpoint_interval = 1.0                   # seconds between integrations
    batch_max = 1024                            # entries integrated at once at most
    max_merge_delay = 60                        # seconds a receipt promises inclusion within
    max_pending = 100_000                       # pending entries beyond which submissions get 503 (pushback)
    witnesses = ["https://witness.example/witness#witness.example/w1+1a2b3c4d+BA..."]  # URL#VKEY: asked to cosign each checkpoint
    witness_timeout = 10.0                      # seconds one round of asking every witness may take

    [crawl]
    origins = ["https://example.com"]
    interval = 3600                             # seconds between two crawls of one origin
    allow_loopback = false                      # the SSRF guard's switch, for tests and demos only

    [submissions]
    per_minute = 30                             # per client address

    [accounts]
    recheck_interval = 86400

    [snapshots]
    interval = 300                              # seconds between checks whether the log grew (then a snapshot is built)
    public_url = "https://aggregator.example"   # where this service is reached; empty: http://<server.host>:<server.port>

    [witness]                                   # this aggregator as a witness (POST /witness/add-checkpoint)
    logs = ["peer.example/log+1a2b3c4d+AQ..."]  # note vkeys of the logs it cosigns; each key's name is the log's origin
    name = "aggregator.example/witness"         # its cosigner name; empty: <log.origin>/witness
    key_file = "/var/lib/notrain/witness-key.jwk"  # Ed25519, created on first start; never the log's key
    per_minute = 120                            # add-checkpoint requests per client address (a log asks about once a checkpoint)

    [federation]
    interval = 30                               # seconds between two pulls of every peer

    [[peers]]                                   # one table per peer aggregator whose log is copied (spec/log.md, "Federation")
    url = "https://peer.example"                # where it serves /log/checkpoint and /log/tile/...
    vkey = "peer.example/log+1a2b3c4d+AQ..."    # its log's note verifier key; the key name is its origin
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from ..core.errors import NotrainError
from ..core.manifest import canonical_origin
from ..core.note import COSIGNATURE_V1, ED25519, NoteVerifier
from ..core.witnessing import MAX_WITNESSES


class ConfigError(NotrainError):
    """The configuration file is unreadable or a value is out of range."""

    code = "E_CONFIG"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8470
    max_body_bytes: int = 2 * 1024 * 1024

    def check(self) -> None:
        _range("server.port", self.port, 0, 65535)
        _range("server.max_body_bytes", self.max_body_bytes, 64 * 1024, 64 * 1024 * 1024)


@dataclass(frozen=True)
class StorageConfig:
    url: str = ""  # empty: SQLite in the data directory

    def check(self) -> None:
        if self.url and not self.url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ConfigError("storage.url must start with sqlite:/// or postgresql://", where="storage.url")


@dataclass(frozen=True)
class LogConfig:
    origin: str = "localhost/notrain-log"
    key_file: str = ""  # empty: log-key.jwk in the data directory
    checkpoint_interval: float = 1.0
    batch_max: int = 1024
    max_merge_delay: int = 60
    max_pending: int = 100_000
    witnesses: tuple[str, ...] = ()  # URL#VKEY of each witness asked to cosign checkpoints
    witness_timeout: float = 10.0

    def check(self) -> None:
        # C2SP tlog-checkpoint: the origin line is a non-empty, printable, space-free schema-less URL.
        if not self.origin or not self.origin.isprintable() or " " in self.origin or "://" in self.origin:
            raise ConfigError("log.origin must be a schema-less URL such as example.com/log", where="log.origin")
        _range("log.checkpoint_interval", self.checkpoint_interval, 0.05, 60)
        _range("log.batch_max", self.batch_max, 1, 65536)
        _range("log.max_merge_delay", self.max_merge_delay, 1, 86400)
        _range("log.max_pending", self.max_pending, 1, 10_000_000)
        _range("log.witness_timeout", self.witness_timeout, 0.1, 300)
        keys = [witness_url(spec)[1].to_vkey() for spec in self.witnesses]
        if len(set(keys)) != len(keys) or len(keys) > MAX_WITNESSES:
            raise ConfigError(f"log.witnesses: at most {MAX_WITNESSES}, each key once", where="log.witnesses")
        if self.max_merge_delay < self.checkpoint_interval:
            raise ConfigError("log.max_merge_delay must be at least log.checkpoint_interval", where="log.max_merge_delay")


@dataclass(frozen=True)
class CrawlConfig:
    origins: tuple[str, ...] = ()
    interval: int = 3600
    allow_loopback: bool = False

    def check(self) -> None:
        _range("crawl.interval", self.interval, 60, 7 * 86400)
        for origin in self.origins:
            if canonical_origin(origin) != origin:
                raise ConfigError(f"crawl.origins: {origin!r} is not a canonical origin such as https://example.com", where="crawl.origins")


@dataclass(frozen=True)
class SubmissionsConfig:
    per_minute: int = 30

    def check(self) -> None:
        _range("submissions.per_minute", self.per_minute, 1, 100_000)


@dataclass(frozen=True)
class AccountsConfig:
    recheck_interval: int = 86400

    def check(self) -> None:
        _range("accounts.recheck_interval", self.recheck_interval, 60, 30 * 86400)


@dataclass(frozen=True)
class SnapshotsConfig:
    interval: float = 300.0
    public_url: str = ""  # logged as the source of each snapshot descriptor

    def check(self) -> None:
        _range("snapshots.interval", self.interval, 0.05, 7 * 86400)
        if self.public_url and (not self.public_url.isascii() or " " in self.public_url
                                or not self.public_url.startswith(("http://", "https://")) or len(self.public_url) > 1024):
            raise ConfigError("snapshots.public_url must be an http(s) URL such as https://aggregator.example", where="snapshots.public_url")


@dataclass(frozen=True)
class FederationConfig:
    interval: float = 30.0

    def check(self) -> None:
        _range("federation.interval", self.interval, 0.05, 86400)


@dataclass(frozen=True)
class PeerConfig:
    """A peer aggregator: where it serves its log, and the key its checkpoints must carry (whose name is its origin)."""

    url: str = ""
    vkey: str = ""

    def check(self) -> None:
        parts = urlsplit(self.url)
        if not self.url.isascii() or " " in self.url or parts.scheme not in ("http", "https") or not parts.hostname or len(self.url) > 1024:
            raise ConfigError("peers.url must be an http(s) URL such as https://peer.example", where="peers.url")
        _vkey("peers.vkey", self.vkey, ED25519)  # a log key: a cosigner's key signs no checkpoint

    @property
    def origin(self) -> str:
        return NoteVerifier.from_vkey(self.vkey).name


@dataclass(frozen=True)
class WitnessConfig:
    """This aggregator as a witness of other logs (spec/log.md, "Witnesses"): their note vkeys, each
    key's name being the log's origin, and its own cosigner name and key (never the log's key)."""

    logs: tuple[str, ...] = ()
    name: str = ""  # empty: "<log.origin>/witness"
    key_file: str = ""  # empty: witness-key.jwk in the data directory
    per_minute: int = 120  # its own bucket: a log integrating every second asks ~60 times a minute, plus 409 retries

    def check(self) -> None:
        _range("witness.per_minute", self.per_minute, 1, 100_000)
        origins = [_vkey("witness.logs", vkey, ED25519).name for vkey in self.logs]
        if len(set(origins)) != len(origins):
            raise ConfigError("witness.logs: one key per log origin", where="witness.logs")
        if self.name and (not self.name.isprintable() or " " in self.name or "+" in self.name or len(self.name.encode()) > 256):
            raise ConfigError("witness.name is a note key name: printable, no spaces nor '+'", where="witness.name")


def _vkey(name: str, vkey: str, kind: int) -> NoteVerifier:
    try:
        verifier = NoteVerifier.from_vkey(vkey)
    except NotrainError as error:
        raise ConfigError(f"{name}: {error.message}: {vkey[:100]!r}", where=name) from None
    if verifier.kind != kind:
        raise ConfigError(f"{name}: {verifier.name} is not a {'log (type 0x01)' if kind == ED25519 else 'cosigner (type 0x04)'} key", where=name)
    return verifier


def witness_url(spec: str) -> tuple[str, NoteVerifier]:
    """A ``log.witnesses`` entry, ``URL#VKEY``: the witness's submission prefix and its cosigner key."""
    url, _, vkey = spec.partition("#")
    parts = urlsplit(url)
    if not url.isascii() or " " in url or parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigError("log.witnesses: each is URL#VKEY, the witness's http(s) submission prefix and cosigner key", where="log.witnesses")
    return url.rstrip("/"), _vkey("log.witnesses", vkey, COSIGNATURE_V1)


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("notrain-data")
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    log: LogConfig = field(default_factory=LogConfig)
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    submissions: SubmissionsConfig = field(default_factory=SubmissionsConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    snapshots: SnapshotsConfig = field(default_factory=SnapshotsConfig)
    witness: WitnessConfig = field(default_factory=WitnessConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    peers: tuple[PeerConfig, ...] = ()

    def __post_init__(self) -> None:
        self.witness.check()
        for section in (self.server, self.storage, self.log, self.crawl, self.submissions, self.accounts, self.snapshots, self.federation, *self.peers):
            section.check()
        origins = [peer.origin for peer in self.peers]
        if len(set(origins)) != len(origins) or self.log.origin in origins:
            raise ConfigError("each peer is a log of its own: no origin twice, nor this log's own", where="peers.vkey")

    @property
    def storage_url(self) -> str:
        return self.storage.url or f"sqlite:///{(self.data_dir / 'aggregator.sqlite').resolve()}"

    @property
    def log_key_path(self) -> Path:
        return Path(self.log.key_file) if self.log.key_file else self.data_dir / "log-key.jwk"

    @property
    def witness_key_path(self) -> Path:
        return Path(self.witness.key_file) if self.witness.key_file else self.data_dir / "witness-key.jwk"

    @property
    def witness_name(self) -> str:
        return self.witness.name or f"{self.log.origin}/witness"

    @property
    def public_url(self) -> str:
        return self.snapshots.public_url or f"http://{self.server.host}:{self.server.port}"

    def with_overrides(self, **sections: dict) -> Config:
        """A copy with some keys of some sections replaced (``server={"port": 0}``), checked again."""
        changes = {name: replace(getattr(self, name), **values) for name, values in sections.items()}
        return replace(self, **changes)


_SECTIONS = {
    "server": ServerConfig,
    "storage": StorageConfig,
    "log": LogConfig,
    "crawl": CrawlConfig,
    "submissions": SubmissionsConfig,
    "accounts": AccountsConfig,
    "snapshots": SnapshotsConfig,
    "witness": WitnessConfig,
    "federation": FederationConfig,
}
MAX_CONFIG_BYTES = 1024 * 1024


def load(path: Path | None) -> Config:
    """Read and check a TOML file; ``None`` gives the defaults.  Unknown keys are errors (typos fail loudly)."""
    if path is None:
        return Config()
    try:
        raw = path.read_bytes()[: MAX_CONFIG_BYTES + 1]
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError("the configuration file is over 1 MiB", where=str(path))
        document = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read the configuration: {error}", where=str(path)) from None
    return from_dict(document, base=path.parent)


def from_dict(document: dict, *, base: Path = Path(".")) -> Config:
    """Build a :class:`Config` from parsed TOML; relative ``data_dir`` is taken from ``base``."""
    sections = {}
    for name, value in document.items():
        if name == "data_dir":
            if not isinstance(value, str) or not value:
                raise ConfigError("data_dir must be a non-empty string", where="data_dir")
            continue
        if name == "peers":
            if not isinstance(value, list) or not all(isinstance(peer, dict) for peer in value):
                raise ConfigError("peers is an array of tables: [[peers]] with url and vkey", where="peers")
            sections[name] = tuple(_section(name, PeerConfig, peer) for peer in value)
            continue
        if name not in _SECTIONS or not isinstance(value, dict):
            raise ConfigError(f"unknown section or key {name!r}", where=name)
        sections[name] = _section(name, _SECTIONS[name], value)
    data_dir = base / document["data_dir"] if "data_dir" in document else Config.data_dir
    try:
        return Config(data_dir=data_dir, **sections)
    except TypeError as error:  # pragma: no cover - fields are checked in _section
        raise ConfigError(str(error)) from None


def _section(name: str, cls: type, values: dict):
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key {name}.{key}", where=f"{name}.{key}")
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"{name}.{key} must be a list of strings", where=f"{name}.{key}")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{name}.{key} must be true or false", where=f"{name}.{key}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name}.{key} must be a number", where=f"{name}.{key}")
            value = float(value)
        elif not isinstance(value, type(default)) or isinstance(value, bool):
            raise ConfigError(f"{name}.{key} must be of type {type(default).__name__}", where=f"{name}.{key}")
        kwargs[key] = value
    return cls(**kwargs)


def _range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}", where=name)
