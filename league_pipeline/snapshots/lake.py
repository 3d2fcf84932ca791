"""The DuckLake connection behind the snapshot store: extension binaries, catalog, ATTACH.

Belongs here: finding the DuckDB extension binaries shipped by the ``duckdb-extension-*``
packages and loading them (DuckDB never downloads one), parsing the catalog setting (a SQLite
file, ``sqlite:``, ``postgres:``) and the data path (a folder, or ``s3://``: an
:class:`ObjectStore`), creating a new catalog atomically, attaching it for one short unit of
work (one in-memory DuckDB per process, a fresh cursor and alias per unit), the writer locks,
and the catalog safety helpers (checking a SQLite catalog, verified copies, putting one back).
What is stored, and how, is in :mod:`league_pipeline.snapshots.store`. Catalogs, data files,
connections and catalog safety: docs/snapshots.md ("The lake connection").
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.resources
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock

ALIAS_PREFIX = "lake_"
SQLITE_BUSY_TIMEOUT_MS = 60_000
BACKUP_FOLDER = "backups"
# tables every DuckLake catalog has (the ones the store's checks read)
DUCKLAKE_TABLES = frozenset(
    {"ducklake_metadata", "ducklake_snapshot", "ducklake_table", "ducklake_data_file"}
)
# pg_advisory_lock key of the snapshot store's writers (one lake per Postgres database)
PG_WRITER_LOCK_KEY = 0x4C45_4147_5545_0001

# extension name (the binary's entry point is ``<name>_duckdb_cpp_init``) -> packages shipping it
_EXTENSION_PACKAGES: dict[str, tuple[str, ...]] = {
    "ducklake": ("duckdb_extension_ducklake",),
    "sqlite_scanner": (
        "duckdb_extension_sqlite_scanner",
        "duckdb_extension_sqlite",
        "duckdb_extension_sqlite3",
    ),
    "postgres_scanner": ("duckdb_extension_postgres_scanner", "duckdb_extension_postgres"),
    "httpfs": ("duckdb_extension_httpfs",),
}
_PIP_NAMES = {
    "ducklake": "duckdb-extension-ducklake",
    "sqlite_scanner": "duckdb-extension-sqlite",
    "postgres_scanner": "duckdb-extension-postgres-scanner",
    "httpfs": "duckdb-extension-httpfs",
}


class LakeError(RuntimeError):
    """The lake cannot be reached: a missing extension package or a bad catalog setting."""


class CatalogDamagedError(LakeError):
    """The catalog is missing, empty, unreadable or damaged while the lake has data (or it
    cannot be used at all): nothing was written. ``problem`` (also ``str()``, one line) says
    what is wrong, ``fix`` how to recover."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem)


@dataclass(frozen=True)
class CatalogSpec:
    """Where the DuckLake catalog lives and where its data files go."""

    kind: str  # "sqlite" or "postgres"
    target: str  # what follows ``ducklake:`` in ATTACH, e.g. ``sqlite:/x/catalog.sqlite``
    data_path: Path
    sqlite_file: Path | None = None
    storage: ObjectStore | None = None  # data files on object storage instead of data_path

    @property
    def data_url(self) -> str:
        """Where the data files go, as DuckLake's ``DATA_PATH`` (ends with a separator)."""
        return self.storage.url if self.storage is not None else str(self.data_path) + os.sep

    @property
    def data_location(self) -> str:
        """Where the data files go, for messages: the folder, or the object storage URL."""
        return self.storage.url if self.storage is not None else str(self.data_path)

    @property
    def dsn(self) -> str:
        """The libpq connection string of a server catalog."""
        return self.target.split(":", 1)[1]

    @property
    def extension(self) -> str:
        return "sqlite_scanner" if self.kind == "sqlite" else "postgres_scanner"

    def exists(self) -> bool:
        """Whether the catalog has been created (always assumed for a server catalog)."""
        return self.sqlite_file.is_file() if self.sqlite_file is not None else True


def catalog_spec(
    root: Path, catalog: str | None = None, storage: ObjectStore | None = None
) -> CatalogSpec:
    """Parse the catalog setting ``catalog`` (none or empty: ``<root>/catalog.sqlite``); the
    data files go to ``storage`` when given, else ``<root>/data/``."""
    root = Path(root).resolve()
    data_path = root / "data"
    setting = (catalog or "").strip() or None
    if setting is None:  # (an empty setting counts as unset)
        file = root / "catalog.sqlite"
        return CatalogSpec("sqlite", f"sqlite:{file}", data_path, file, storage)
    text = setting.strip()
    text = text.removeprefix("ducklake:")
    if text.startswith("sqlite:"):
        file = Path(text.removeprefix("sqlite:")).expanduser().resolve()
        return CatalogSpec("sqlite", f"sqlite:{file}", data_path, file, storage)
    if text.startswith(("postgres:", "postgresql:")):
        dsn = text.split(":", 1)[1].strip()
        if not dsn:
            raise LakeError("the Postgres catalog needs a DSN, e.g. 'postgres:dbname=league'")
        return CatalogSpec("postgres", f"postgres:{dsn}", data_path, storage=storage)
    raise LakeError(
        f"cannot read the lake catalog setting {setting!r}: use 'sqlite:/path/catalog.sqlite' "
        "or 'postgres:dbname=... host=...' (or leave it unset for <lake>/catalog.sqlite)"
    )


def extension_file(name: str) -> Path:
    """The extension binary for this DuckDB version, from its installed PyPI package."""
    version = f"v{duckdb.__version__}"
    for package in _EXTENSION_PACKAGES[name]:
        try:
            base = importlib.resources.files(package)
        except ModuleNotFoundError:
            continue
        folder = Path(str(base)) / "extensions" / version
        files = sorted(folder.glob("*.duckdb_extension"))
        exact = [f for f in files if f.stem == name]
        if exact or files:
            return (exact or files)[0]
    raise LakeError(
        f"the DuckDB extension '{name}' for DuckDB {duckdb.__version__} is not installed: "
        f"pip install '{_PIP_NAMES[name]}=={duckdb.__version__}' (DuckDB is not allowed to "
        "download extensions itself)"
    )


def is_missing_catalog(exc: BaseException) -> bool:
    """Whether a read-only ATTACH failed because no lake was ever created in that catalog."""
    return "creating a new ducklake is explicitly disabled" in str(exc).lower()


def _sql_literal(text: str) -> str:
    """A SQL string literal, for the few statements that take no bound parameters.

    ``LOAD`` and ``ATTACH`` accept only literals; their values are file paths and the catalog
    DSN from configuration, never data.
    """
    if "\x00" in text:
        raise LakeError("a path or DSN with a NUL character cannot be used")
    return "'" + text.replace("'", "''") + "'"


_ENGINE_LOCK = threading.Lock()
_engine: tuple[int, duckdb.DuckDBPyConnection] | None = None
_loaded: set[str] = set()
_secrets: dict[str, str] = {}  # secret name -> fingerprint of the object store it holds
_aliases = itertools.count(1)


def _new_engine() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    con.execute("SET GLOBAL TimeZone = 'UTC'")
    return con


def _tune(con: duckdb.DuckDBPyConnection, extension: str) -> None:
    if extension == "sqlite_scanner":
        # the catalog's tables are tiny: one thread reads them faster than several
        con.execute("SET GLOBAL sqlite_disable_multithreaded_scans = true")


def _load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD an extension from its package file.

    DuckDB derives the entry point from the file name, so a binary shipped under another name
    (``sqlite.duckdb_extension`` holds ``sqlite_scanner``) is loaded through a symlink (or a
    copy) with the right name in a private temporary folder, removed once loaded.
    """
    source = extension_file(name)
    if source.stem == name:
        con.execute(f"LOAD {_sql_literal(str(source))}")
        return
    with tempfile.TemporaryDirectory(prefix="league-duckdb-ext-") as tmp:
        alias = Path(tmp) / f"{name}.duckdb_extension"
        try:
            alias.symlink_to(source)
        except OSError:
            shutil.copyfile(source, alias)
        con.execute(f"LOAD {_sql_literal(str(alias))}")


def _engine_with(extensions: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    """This process's DuckDB instance with ``extensions`` loaded (a new one after a fork)."""
    global _engine
    if _engine is None or _engine[0] != os.getpid():
        _engine = (os.getpid(), _new_engine())
        _loaded.clear()
        _secrets.clear()
    con = _engine[1]
    for name in extensions:
        if name not in _loaded:
            _load(con, name)
            _tune(con, name)
            _loaded.add(name)
    return con


def _attach_sql(spec: CatalogSpec, alias: str, *, read_only: bool, create: bool = False) -> str:
    options = [f"DATA_PATH {_sql_literal(spec.data_url)}"]
    if spec.kind == "sqlite" and spec.storage is None:
        # the data folder follows the catalog: a lake folder can be moved or copied whole
        # (data on object storage stays where the catalog says: a different setting is refused)
        options.append("OVERRIDE_DATA_PATH TRUE")
        options.append(f"META_BUSY_TIMEOUT {SQLITE_BUSY_TIMEOUT_MS}")
        if create:
            options.append("META_JOURNAL_MODE 'wal'")
    if read_only:
        options.append("READ_ONLY")
    target = _sql_literal(f"ducklake:{spec.target}")
    return f"ATTACH {target} AS {alias} ({', '.join(options)})"


def _cursor(spec: CatalogSpec) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A new cursor on this process's engine, and a fresh alias for the lake it will attach."""
    with _ENGINE_LOCK:
        if spec.storage is None:
            engine = _engine_with(("ducklake", spec.extension))
        else:
            engine = _engine_with(("ducklake", spec.extension, "httpfs"))
            _ensure_secret(engine, spec.storage)
        return engine.cursor(), f"{ALIAS_PREFIX}{next(_aliases)}"


@contextlib.contextmanager
def _attach(
    spec: CatalogSpec, *, read_only: bool, create: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor, alias = _cursor(spec)
    try:
        try:
            cursor.execute(_attach_sql(spec, alias, read_only=read_only, create=create))
        except duckdb.Error as exc:
            _reword_data_path_mismatch(spec, exc)
            raise
        try:
            if spec.kind == "sqlite" and spec.storage is None and not create:
                _refuse_object_storage_catalog(cursor, spec, alias)
            cursor.execute(f"USE {alias}")
            yield cursor
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.execute("ROLLBACK")
            cursor.execute("USE memory")
            cursor.execute(f"DETACH {alias}")
    finally:
        cursor.close()


@contextlib.contextmanager
def attached(spec: CatalogSpec, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor whose current database is the lake, for one unit of work; detached afterwards.

    Lake tables are named without a catalog prefix (``SELECT ... FROM snapshots``);
    ``current_database()`` is the lake's alias. An open transaction is rolled back when the
    block raises (or forgets to commit).
    """
    with _attach(spec, read_only=read_only) as cursor:
        yield cursor


def create_sqlite_catalog(spec: CatalogSpec, init_sql: list[str]) -> None:
    """Create a new SQLite catalog atomically: build it aside, then rename it into place.

    A reader never sees a half-initialised catalog file. The caller holds the write lock.
    """
    assert spec.sqlite_file is not None
    final = spec.sqlite_file
    final.parent.mkdir(parents=True, exist_ok=True)
    if spec.storage is None:
        spec.data_path.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        stale.unlink(missing_ok=True)
    aside = dataclasses.replace(spec, target=f"sqlite:{tmp}", sqlite_file=tmp)
    with _attach(aside, read_only=False, create=True) as cursor:
        for statement in init_sql:
            cursor.execute(statement)
    if Path(f"{tmp}-wal").exists():
        raise LakeError(f"the new catalog {tmp} was not checkpointed; not moving it into place")
    os.replace(tmp, final)


class WriterLockTimeout(TimeoutError):
    """Another writer held the store's write lock for longer than the timeout."""


@contextlib.contextmanager
def writer_lock(spec: CatalogSpec, lock_file: Path, timeout: float) -> Iterator[None]:
    """Hold the store's writer lock: one writer at a time, across processes (and machines).

    A file lock (``flock``: released by the OS when its holder dies, even by SIGKILL); for a
    Postgres catalog also a session advisory lock, released when its connection closes.
    """
    from filelock import Timeout

    started = time.monotonic()
    try:
        with FileLock(lock_file, timeout=timeout):
            if spec.kind != "postgres":
                yield
                return
            left = max(1.0, timeout - (time.monotonic() - started))
            with _pg_advisory_lock(spec.dsn, left):
                yield
    except Timeout as exc:
        raise WriterLockTimeout(f"{lock_file} is held by another writer") from exc


@contextlib.contextmanager
def _pg_advisory_lock(dsn: str, timeout: float) -> Iterator[None]:
    try:
        import psycopg2
    except ModuleNotFoundError as exc:  # pragma: no cover - dagster-postgres brings it
        raise LakeError("a Postgres catalog needs psycopg2 (pip install psycopg2-binary)") from exc
    conn = psycopg2.connect(dsn, connect_timeout=30)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('lock_timeout', %s, false)", [f"{int(timeout * 1000)}ms"]
            )
            try:
                cur.execute("SELECT pg_advisory_lock(%s)", [PG_WRITER_LOCK_KEY])
            except psycopg2.errors.LockNotAvailable as exc:
                raise WriterLockTimeout("another writer holds the Postgres writer lock") from exc
        yield
    finally:
        conn.close()  # ends the session, and with it the advisory lock


# -- catalog safety ------------------------------------------------------------------------------


def data_files(spec: CatalogSpec) -> Iterator[Path | str]:
    """Every regular file under the lake's data folder (Parquet data and delete files); on
    object storage, the URL of every object under the lake's URL (:func:`stored_objects`)."""
    if spec.storage is not None:
        yield from stored_objects(spec)
        return
    if not spec.data_path.is_dir():
        return
    for path in spec.data_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path


def has_data_files(spec: CatalogSpec) -> bool:
    if spec.storage is not None:
        return bool(stored_objects(spec, limit=1))
    return next(data_files(spec), None) is not None


def _sqlite_file(*args: str) -> dict[str, Any]:
    """Run ``sqlite_file.py`` in its own process (see that module for why) and return its JSON."""
    script = Path(__file__).with_name("sqlite_file.py")
    timeout = str(SQLITE_BUSY_TIMEOUT_MS / 1000)
    done = subprocess.run(
        [sys.executable, "-I", str(script), *args, timeout],
        capture_output=True,
        text=True,
        timeout=2 * SQLITE_BUSY_TIMEOUT_MS / 1000 + 30,
        check=False,
    )
    if done.returncode != 0:
        raise LakeError(f"the SQLite helper failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def sqlite_catalog_problem(file: Path) -> str | None:
    """What makes ``file`` unusable as a DuckLake catalog (a phrase starting with the path),
    or None when it is one.

    Opens it read-only with SQLite (never creating it) and runs ``PRAGMA quick_check``: a
    missing or empty file, a file that is not a SQLite database (e.g. its header overwritten),
    damaged pages (e.g. cut to half its size) and a database without DuckLake's tables are
    each named. A busy database is not a problem (None): the caller's own access decides.
    """
    if not file.exists():
        return f"{file} is missing"
    if not file.is_file():
        return f"{file} is not a file"
    if file.stat().st_size == 0:
        return f"{file} is empty (0 bytes)"
    return _sqlite_file("check", str(file), json.dumps(sorted(DUCKLAKE_TABLES)))["problem"]


def copy_sqlite(source: Path, target: Path, *, journal_mode: str) -> None:
    """Copy the SQLite database ``source`` to ``target`` with SQLite's online backup API.

    The copy is one consistent state of the database (WAL frames included), whatever else
    reads it meanwhile; a plain file copy of a WAL database is not. ``target`` is overwritten
    and left in ``journal_mode`` (``DELETE`` for a backup: one self-contained file; ``WAL`` for
    a catalog put back into use).
    """
    if journal_mode.upper() not in {"DELETE", "WAL"}:
        raise ValueError(f"journal mode {journal_mode!r}")
    error = _sqlite_file("copy", str(source), str(target), journal_mode.upper())["error"]
    if error is not None:
        raise LakeError(error)
    for suffix in ("-wal", "-shm", "-journal"):  # DELETE mode, closed: nothing pending
        if journal_mode.upper() == "DELETE":
            Path(f"{target}{suffix}").unlink(missing_ok=True)


def backup_dir(spec: CatalogSpec) -> Path:
    """Where a SQLite catalog's backups go: ``backups/`` beside the catalog file."""
    assert spec.sqlite_file is not None
    return spec.sqlite_file.parent / BACKUP_FOLDER


_BACKUP_TIME = "%Y%m%dT%H%M%S%fZ"


def backup_name(spec: CatalogSpec, moment: datetime) -> str:
    """``catalog-20251201T084819123456Z.sqlite``: the catalog's name and the UTC time taken."""
    assert spec.sqlite_file is not None
    return f"{spec.sqlite_file.stem}-{moment.astimezone(UTC).strftime(_BACKUP_TIME)}.sqlite"


def backup_time(spec: CatalogSpec, path: Path) -> datetime | None:
    """The UTC time in a backup's name (None: not one of this catalog's backups)."""
    assert spec.sqlite_file is not None
    pattern = re.escape(spec.sqlite_file.stem) + r"-(\d{8}T\d{12}Z)\.sqlite"
    match = re.fullmatch(pattern, path.name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), _BACKUP_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def list_backups(spec: CatalogSpec) -> list[Path]:
    """The catalog's backups, newest first (empty for a server catalog)."""
    if spec.sqlite_file is None or not backup_dir(spec).is_dir():
        return []
    found = [p for p in backup_dir(spec).iterdir() if p.is_file() and backup_time(spec, p)]
    return sorted(found, key=lambda p: backup_time(spec, p), reverse=True)


def move_aside(file: Path, moment: datetime) -> list[Path]:
    """Rename ``file`` and its ``-wal``/``-shm``/``-journal`` to ``<name>.broken-<UTC time>``
    (and the suffix): kept for inspection, never deleted. Returns the new paths."""
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{file}{suffix}")
        if path.exists() or path.is_symlink():
            target = Path(f"{file}.broken-{stamp}{suffix}")
            n = 1
            while target.exists():
                n += 1
                target = Path(f"{file}.broken-{stamp}-{n}{suffix}")
            os.replace(path, target)
            moved.append(target)
    return moved


def install_catalog(backup: Path, file: Path) -> None:
    """Put a copy of ``backup`` in place as the catalog ``file`` (WAL mode), atomically.

    The caller holds the write lock and has moved the old catalog (and its ``-wal`` and
    ``-shm``, which SQLite would otherwise apply to the new file) aside.
    """
    for suffix in ("-wal", "-shm", "-journal"):
        if Path(f"{file}{suffix}").exists():
            raise LakeError(f"{file}{suffix} is still there: move it aside before restoring")
    tmp = file.with_name(f".{file.name}.{os.getpid()}.restore.tmp")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        stale.unlink(missing_ok=True)
    try:
        copy_sqlite(backup, tmp, journal_mode="WAL")
        problem = sqlite_catalog_problem(tmp)
        if problem is not None:
            raise LakeError(f"the copy of {backup} failed its check: {problem}")
        wal = Path(f"{tmp}-wal")
        if wal.exists() and wal.stat().st_size:
            raise LakeError(f"the copy of {backup} was not checkpointed; not moving it into place")
        for suffix in ("-wal", "-shm"):  # closed and checkpointed: empty leftovers
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, file)
    finally:
        for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            stale.unlink(missing_ok=True)


# -- object storage (issue 13) -------------------------------------------------------------------

URL_STYLES = ("vhost", "path")
_SQL_DIR = Path(__file__).resolve().parent / "sql"
_S3_URL = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\s*?\[\]{}\\]*)?")
_ENDPOINT = re.compile(r"(?:(https?)://)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?/?")


@dataclass(frozen=True)
class ObjectStore:
    """S3-compatible object storage for the lake's data files (build it with
    :func:`object_store`).

    ``url`` is ``s3://bucket/prefix/`` (always ending with ``/``); ``endpoint`` the
    ``host:port`` of a server other than AWS (MinIO, Ceph, a test server), None for AWS;
    ``use_ssl`` False for plain http; ``url_style`` ``vhost`` (AWS) or ``path`` (most other
    servers). The credentials are never shown in ``repr``.
    """

    url: str
    region: str = "us-east-1"
    endpoint: str | None = None
    url_style: str = "vhost"
    use_ssl: bool = True
    key_id: str | None = dataclasses.field(default=None, repr=False)
    secret: str | None = dataclasses.field(default=None, repr=False)
    session_token: str | None = dataclasses.field(default=None, repr=False)

    @property
    def secret_name(self) -> str:
        """The DuckDB secret that holds this store's settings (one per URL)."""
        return "league_s3_" + hashlib.sha256(self.url.encode()).hexdigest()[:16]

    def fingerprint(self) -> str:
        fields = dataclasses.astuple(self)
        return hashlib.sha256(repr(fields).encode()).hexdigest()


def object_store(
    url: str,
    *,
    region: str | None = None,
    endpoint: str | None = None,
    url_style: str | None = None,
    key_id: str | None = None,
    secret: str | None = None,
    session_token: str | None = None,
) -> ObjectStore:
    """The object store of the data path ``url`` (``s3://bucket/prefix``), checked.

    ``endpoint`` is ``host[:port]``, optionally with its scheme: ``http://127.0.0.1:9000``
    means plain http, ``https://`` or no scheme means https. ``url_style`` defaults to ``path``
    with an endpoint and ``vhost`` without (AWS). Raises :class:`LakeError` naming the value
    that cannot be used.
    """
    text = url.strip()
    match = _S3_URL.fullmatch(text)
    if match is None:
        raise LakeError(
            f"the lake data path {url!r} is not an S3 URL: use s3://bucket/prefix (a bucket "
            "name of lower-case letters, digits, dots and hyphens; no spaces or wildcards)"
        )
    if "/../" in f"{match.group(2) or ''}/" or "/./" in f"{match.group(2) or ''}/":
        raise LakeError(f"the lake data path {url!r} has '.' or '..' in its prefix")
    text = text.rstrip("/") + "/"
    use_ssl = True
    host = None
    if endpoint and endpoint.strip():
        found = _ENDPOINT.fullmatch(endpoint.strip())
        if found is None or (found.group(3) and not 0 < int(found.group(3)) < 65536):
            raise LakeError(
                f"the S3 endpoint {endpoint!r} is not host[:port] (optionally with http:// or "
                "https:// in front)"
            )
        scheme, name, port = found.groups()
        use_ssl = scheme != "http"
        host = f"{name}:{port}" if port else name
    style = (url_style or "").strip().lower() or ("path" if host else "vhost")
    if style not in URL_STYLES:
        raise LakeError(f"the S3 URL style {url_style!r}: choose one of {', '.join(URL_STYLES)}")
    return ObjectStore(
        url=text,
        region=(region or "").strip() or "us-east-1",
        endpoint=host,
        url_style=style,
        use_ssl=use_ssl,
        key_id=key_id or None,
        secret=secret or None,
        session_token=session_token or None,
    )


def _ensure_secret(con: duckdb.DuckDBPyConnection, storage: ObjectStore) -> None:
    """Give this process's engine the secret of ``storage`` (again when its settings changed).

    The secret is scoped to the store's URL, so it is the one DuckDB uses for every file under
    it; the caller holds the engine lock.
    """
    name = storage.secret_name
    if _secrets.get(name) == storage.fingerprint():
        return
    statement = (_SQL_DIR / "create_s3_secret.sql").read_text(encoding="utf-8")
    con.execute(
        statement.replace("{name}", name),
        [
            storage.key_id,
            storage.secret,
            storage.session_token,
            storage.region,
            storage.endpoint,
            storage.url_style,
            storage.use_ssl,
            storage.url,
        ],
    )
    _secrets[name] = storage.fingerprint()


def _reword_data_path_mismatch(spec: CatalogSpec, exc: duckdb.Error) -> None:
    """Raise a :class:`LakeError` saying which data path the catalog has, when ATTACH failed
    because the setting names another one (DuckLake refuses to mix them)."""
    message = str(exc)
    if "does not match existing data path" not in message:
        return
    recorded = re.search(r'existing data path in the catalog "([^"]*)"', message)
    where = recorded.group(1) if recorded else "another place"
    raise LakeError(
        f"the lake catalog keeps its data files in {where}, but the data path setting says "
        f"{spec.data_url}: set the lake data path to {where} (a lake's data files cannot move "
        "between a folder and object storage; copy them and start a new catalog instead)"
    ) from exc


def _refuse_object_storage_catalog(
    cursor: duckdb.DuckDBPyConnection, spec: CatalogSpec, alias: str
) -> None:
    """A SQLite catalog is attached with its data path overridden (the lake folder may move),
    which DuckLake would also do to a catalog whose files are on object storage: refuse that."""
    statement = (_SQL_DIR / "recorded_data_path.sql").read_text(encoding="utf-8")
    row = cursor.execute(statement.replace("{metadata}", f'"__ducklake_metadata_{alias}"'))
    recorded = (row.fetchone() or [None])[0]
    if recorded and "://" in str(recorded):
        raise LakeError(
            f"the lake catalog {spec.sqlite_file} keeps its data files in {recorded}, but no "
            f"object storage is set: set the lake data path to {recorded} (with its endpoint "
            "and credentials)"
        )


def stored_objects(spec: CatalogSpec, limit: int | None = None) -> dict[str, int]:
    """The files under the lake's object storage URL and their sizes in bytes (URL -> size);
    at most ``limit`` of them."""
    if spec.storage is None:
        raise LakeError("the lake's data files are in a folder, not on object storage")
    cursor, _alias = _cursor(spec)
    try:
        found = cursor.execute(
            (_SQL_DIR / "object_glob.sql").read_text(encoding="utf-8"),
            [spec.storage.url + "**", limit if limit is not None else 2**62],
        ).fetchall()
        files = [row[0] for row in found]
        if not files:
            return {}
        rows = cursor.execute(
            (_SQL_DIR / "object_files.sql").read_text(encoding="utf-8"), [files]
        ).fetchall()
        return {str(name): int(size) for name, size in rows}
    finally:
        cursor.close()
