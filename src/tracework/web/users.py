"""Staff accounts, server-side sessions, and workers' private portal links.

Staff sign in with a name and a password (hashed with Argon2id, salted per account; a scrypt
hash of an earlier version is replaced at its next successful sign-in). A worker has
no account: the project owner issues them a private link (``tracework portal link WORKER``)
holding a random 256-bit token. Neither a session id nor a portal token is ever stored: the
database keeps their SHA-256 and looks them up by it, so a copy of the database opens nothing.

Adding or disabling an account, and issuing or revoking a portal link, are ledger entries.
Opening and closing sessions are not: they are access state, not project data, and would fill
the log with noise.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from sqlalchemy import Connection, insert, select, update

from tracework.core.contact import keep_link_key
from tracework.core.errors import ConfigError, ConflictError, InputError, NotFound
from tracework.core.ledger import LedgerWriter, now
from tracework.core.project import Project
from tracework.core.store import inserted_id
from tracework.core.store.schema import workers
from tracework.core.store.tables_web import portal_links, web_sessions, web_users

__all__ = [
    "ROLES",
    "Role",
    "User",
    "Session",
    "PortalLink",
    "hash_password",
    "check_password",
    "needs_rehash",
    "scrypt_hash",
    "link_days",
    "DEFAULT_LINK_DAYS",
    "user_add",
    "user_list",
    "user_disable",
    "authenticate",
    "session_open",
    "session_get",
    "session_close",
    "portal_link",
    "portal_links_of",
    "portal_revoke",
    "portal_resolve",
]

Role = Literal["owner", "reviewer", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)

MIN_PASSWORD = 10
STAFF_SESSION = timedelta(hours=12)
WORKER_SESSION = timedelta(days=7)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WORKER = re.compile(r"^w_[a-z2-7]{12}$")

DEFAULT_LINK_DAYS = 90

# Argon2id with RFC 9106's second recommended profile (64 MiB, 3 passes, 4 lanes): slow and
# memory-hard for a guesser, about a tenth of a second for a sign-in.
_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
# The hashes of earlier versions: scrypt at N=2^14, r=8, read until their next sign-in.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2 ** 14, 8, 1

@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    disabled: bool
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "disabled": self.disabled,
                "created_at": self.created_at}


@dataclass(frozen=True)
class Session:
    id: int
    kind: Literal["user", "worker"]
    user: User | None
    worker: str | None
    link_id: int | None
    expires_at: str


@dataclass(frozen=True)
class PortalLink:
    id: int
    worker: str
    created_by: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now())

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "worker": self.worker, "created_by": self.created_by,
                "created_at": self.created_at, "expires_at": self.expires_at,
                "revoked_at": self.revoked_at, "active": self.active}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _later(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="microseconds")


# -- passwords ---------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """A salted Argon2id hash in the PHC string form ``$argon2id$v=19$m=…,t=…,p=…$salt$hash``."""
    return _HASHER.hash(password)


def scrypt_hash(password: str) -> str:
    """A hash in the form earlier versions stored (``scrypt$N$r$p$salt$hash``): only for
    tests of their upgrade; new hashes are Argon2id."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R,
                         p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${key.hex()}"


def _check_scrypt(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(key) // 2)
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), key)


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (Argon2id, or an earlier scrypt hash); compared
    in constant time."""
    if stored.startswith("scrypt$"):
        return _check_scrypt(stored, password)
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` is weaker than a new hash: another scheme or older parameters."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


# A hash to check against when the name is unknown, so a wrong name costs as long as a wrong
# password and timing does not tell which names exist.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


# -- accounts ----------------------------------------------------------------------------------

def _user(row: Any) -> User:
    return User(int(row.id), row.name, row.role, bool(row.disabled), row.created_at)


def user_add(project: Project, name: str, role: str, password: str) -> User:
    """Create a staff account. ``role`` is owner (everything), reviewer (decides submissions,
    writes notes) or auditor (reads everything, changes nothing)."""
    if not _NAME.match(name):
        raise InputError(f"user name {name!r} is not allowed", field="NAME",
                         hint="Use 1–64 letters, digits, '.', '_' or '-', starting with a letter "
                              "or digit.")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", field="--role",
                         hint=f"Choose one of {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password is shorter than {MIN_PASSWORD} characters",
                         field="password", hint="Choose a longer password (a passphrase works).")
    hashed = hash_password(password)

    def work(conn: Connection) -> User:
        if conn.execute(select(web_users.c.id).where(web_users.c.name == name)).first():
            raise ConflictError(f"a user named {name!r} exists",
                                hint="Choose another name, or disable that account first.")
        at = now()
        uid = inserted_id(conn.execute(insert(web_users).values(
            name=name, role=role, password_hash=hashed, disabled=False, created_at=at)
        ))
        log = LedgerWriter(conn, project.actor)
        log.append("user.add", f"user:{name}", new={"role": role})
        log.flush()
        return User(int(uid), name, role, False, at)

    return project.store.run_write(work)


def user_list(project: Project) -> list[User]:
    with project.store.read() as conn:
        return [_user(r) for r in conn.execute(select(web_users).order_by(web_users.c.name))]


def user_disable(project: Project, name: str) -> User:
    """Disable an account and end its open sessions."""
    def work(conn: Connection) -> User:
        row = conn.execute(select(web_users).where(web_users.c.name == name)).first()
        if row is None:
            raise NotFound(f"no user named {name!r}", hint="`tracework user list` shows them.")
        if not row.disabled:
            conn.execute(update(web_users).where(web_users.c.id == row.id).values(disabled=True))
            _revoke_sessions(conn, web_sessions.c.user_id == row.id)
            log = LedgerWriter(conn, project.actor)
            log.append("user.disable", f"user:{name}", field="disabled", old=False, new=True)
            log.flush()
        return User(int(row.id), row.name, row.role, True, row.created_at)

    return project.store.run_write(work)


def authenticate(project: Project, name: str, password: str) -> User | None:
    """The enabled account with this name and password, or None. A hash made by an earlier
    version (or with weaker parameters) is replaced by a new Argon2id hash on success."""
    with project.store.read() as conn:
        row = conn.execute(select(web_users).where(web_users.c.name == name)).first()
    if row is None:
        check_password(_DUMMY_HASH, password)
        return None
    if not check_password(row.password_hash, password) or row.disabled:
        return None
    if needs_rehash(row.password_hash):
        _rehash(project, int(row.id), row.password_hash, password)
    return _user(row)


def _rehash(project: Project, uid: int, old: str, password: str) -> None:
    fresh = hash_password(password)

    def work(conn: Connection) -> None:
        # Only if unchanged meanwhile: a password set since then must not be overwritten.
        conn.execute(update(web_users).where(web_users.c.id == uid)
                     .where(web_users.c.password_hash == old).values(password_hash=fresh))

    project.store.run_write(work)


# -- sessions ----------------------------------------------------------------------------------

def _revoke_sessions(conn: Connection, condition: Any) -> None:
    conn.execute(update(web_sessions).where(condition)
                 .where(web_sessions.c.revoked_at.is_(None)).values(revoked_at=now()))


def session_open(project: Project, *, user: User | None = None, link: PortalLink | None = None,
                 replaces: str | None = None) -> tuple[str, Session]:
    """Open a session for a staff user or for a worker entering through ``link``.

    Returns the new session id (for the cookie; never stored) and the session. The session
    named by ``replaces`` (the browser's previous cookie, if any) is revoked in the same
    transaction: ids are rotated at every sign-in, so an id planted before sign-in is useless.
    """
    if (user is None) == (link is None):
        raise ValueError("a session belongs to exactly one of a user or a portal link")
    token = secrets.token_urlsafe(32)
    kind: Literal["user", "worker"] = "user" if user is not None else "worker"
    expires = _later(STAFF_SESSION if user is not None else WORKER_SESSION)

    def work(conn: Connection) -> int:
        if replaces:
            _revoke_sessions(conn, web_sessions.c.token_hash == _digest(replaces))
        return int(inserted_id(conn.execute(insert(web_sessions).values(
            token_hash=_digest(token), kind=kind, user_id=user.id if user else None,
            worker=link.worker if link else None, link_id=link.id if link else None,
            created_at=now(), expires_at=expires))))

    sid = project.store.run_write(work)
    return token, Session(sid, kind, user, link.worker if link else None,
                          link.id if link else None, expires)


def session_get(project: Project, token: str | None) -> Session | None:
    """The live session with this id: not expired, not revoked, its account or link still valid."""
    if not token or len(token) > 128:
        return None
    digest = _digest(token)
    with project.store.read() as conn:
        row = conn.execute(
            select(web_sessions, web_users.c.name, web_users.c.role, web_users.c.disabled,
                   web_users.c.created_at.label("user_created"),
                   portal_links.c.revoked_at.label("link_revoked"),
                   portal_links.c.expires_at.label("link_expires"))
            .select_from(web_sessions.outerjoin(web_users, web_sessions.c.user_id == web_users.c.id)
                         .outerjoin(portal_links, web_sessions.c.link_id == portal_links.c.id))
            .where(web_sessions.c.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    at = now()
    if row.revoked_at is not None or row.expires_at <= at:
        return None
    if row.kind == "user":
        if row.disabled or row.name is None:
            return None
        user = User(int(row.user_id), row.name, row.role, False, row.user_created)
        return Session(int(row.id), "user", user, None, None, row.expires_at)
    if row.link_revoked is not None or (row.link_expires is not None and row.link_expires <= at):
        return None
    return Session(int(row.id), "worker", None, row.worker, row.link_id, row.expires_at)


def session_close(project: Project, token: str | None) -> bool:
    """Revoke a session server-side (sign-out). Returns whether a live session was ended."""
    if not token:
        return False

    def work(conn: Connection) -> bool:
        result = conn.execute(update(web_sessions)
                              .where(web_sessions.c.token_hash == _digest(token))
                              .where(web_sessions.c.revoked_at.is_(None)).values(revoked_at=now()))
        return bool(result.rowcount)

    return project.store.run_write(work)


# -- portal links ------------------------------------------------------------------------------

def _link(row: Any) -> PortalLink:
    return PortalLink(int(row.id), row.worker, row.created_by, row.created_at, row.expires_at,
                      row.revoked_at)


def _require_worker(conn: Connection, worker: str) -> None:
    row = None
    if _WORKER.match(worker):
        row = conn.execute(select(workers.c.erased).where(workers.c.pseudonym == worker)).first()
    if row is None or row.erased:
        raise NotFound(f"no worker {worker!r} in this project",
                       hint="Give a worker's pseudonym (w_…), as shown by the review queue or "
                            "`tracework log`.")


def link_days(project: Project) -> int:
    """How long a new portal link stays valid: ``[web] portal_link_days``, 90 by default."""
    raw = project.config.get("web", {})
    days = raw.get("portal_link_days", DEFAULT_LINK_DAYS) if isinstance(raw, dict) else \
        DEFAULT_LINK_DAYS
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ConfigError("tracework.toml: [web] portal_link_days must be a whole number of "
                          "days, at least 1")
    return days


def portal_link(project: Project, worker: str, *, expires_days: int | None = None,
                rotate: bool = False) -> tuple[str, PortalLink]:
    """Issue a private portal link for ``worker``, valid for ``expires_days`` (default
    ``[web] portal_link_days``, 90). Returns the token (shown once, never stored) and the
    link's record.

    With ``rotate`` the worker's earlier links are revoked in the same transaction, with the
    sessions opened through them: the old link stops working as the new one starts. Without
    it, earlier links stay valid until they expire or are revoked."""
    days = link_days(project) if expires_days is None else expires_days
    if days < 1:
        raise InputError("a link must stay valid for at least one day", field="--expires-days")
    token = secrets.token_urlsafe(32)   # 256 bits
    expires = _later(timedelta(days=days))

    def work(conn: Connection) -> PortalLink:
        _require_worker(conn, worker)
        replaced = _revoke_links(conn, worker) if rotate else []
        at = now()
        lid = inserted_id(conn.execute(insert(portal_links).values(
            worker=worker, token_hash=_digest(token), created_by=project.actor, created_at=at,
            expires_at=expires)))
        keep_link_key(conn, int(lid), worker, token)    # the link's mailbox key pair
        log = LedgerWriter(conn, project.actor)
        new: dict[str, Any] = {"link": int(lid), "expires_at": expires}
        if rotate:
            new["replaces"] = replaced
        log.append("portal.link", f"worker:{worker}", new=new)
        log.flush()
        return PortalLink(int(lid), worker, project.actor, at, expires, None)

    return token, project.store.run_write(work)


def _revoke_links(conn: Connection, worker: str) -> list[int]:
    """Revoke the worker's live links and their sessions; the ids revoked."""
    live = [int(r.id) for r in conn.execute(
        select(portal_links.c.id).where(portal_links.c.worker == worker)
        .where(portal_links.c.revoked_at.is_(None)))]
    if live:
        conn.execute(update(portal_links).where(portal_links.c.id.in_(live))
                     .values(revoked_at=now()))
        _revoke_sessions(conn, web_sessions.c.link_id.in_(live))
    return live


def portal_links_of(project: Project, worker: str | None = None) -> list[PortalLink]:
    with project.store.read() as conn:
        query = select(portal_links).order_by(portal_links.c.id)
        if worker is not None:
            query = query.where(portal_links.c.worker == worker)
        return [_link(r) for r in conn.execute(query)]


def portal_revoke(project: Project, worker: str) -> int:
    """Revoke every live portal link of ``worker`` and end the sessions opened with them.
    Returns how many links were revoked."""
    def work(conn: Connection) -> int:
        _require_worker(conn, worker)
        live = _revoke_links(conn, worker)
        if not live:
            return 0
        log = LedgerWriter(conn, project.actor)
        log.append("portal.revoke", f"worker:{worker}", new={"links": live})
        log.flush()
        return len(live)

    return project.store.run_write(work)


def portal_resolve(project: Project, token: str) -> PortalLink | None:
    """The active link this token opens, or None (unknown, revoked, expired, erased worker)."""
    if not token or len(token) > 128:
        return None
    digest = _digest(token)
    with project.store.read() as conn:
        row = conn.execute(
            select(portal_links, workers.c.erased)
            .join(workers, portal_links.c.worker == workers.c.pseudonym)
            .where(portal_links.c.token_hash == digest)).first()
    if row is None or row.erased or not hmac.compare_digest(row.token_hash, digest):
        return None
    link = _link(row)
    return link if link.active else None
