"""A consented line from a dataset's users to the workers who made it.

**Handles.** A published bundle carries, on each annotation of a worker who consented to be
contactable (:func:`set_contact_consent`), an opaque reply handle; workers who did not consent
get none. A handle never holds the pseudonym: it is ``r<annotation id>.<tag>`` where the tag is
an HMAC, under a key derived from the project secret, of the worker's pseudonym and that
annotation's id, so two handles of one worker share nothing a dataset user could match. A
worker who opts in to being linkable gets one handle for all their annotations
(``rw.<tag>``, an HMAC of the pseudonym alone). Only the project, holding the secret, resolves a
handle to its worker (:func:`resolve_handle`), and only while the worker still consents.
(The bundle's provenance names each label's pseudonym anyway; a handle adds no link between
labels, nor one from a pseudonym to a way of reaching its worker without their consent.)

**Messages.** :func:`send` stores a message for the worker in the ``mailbox`` table and appends
a ledger entry holding the message's content hash (SHA-256 of what the mailbox stores) and a
commitment to the sender, never the body. Senders are rate-limited (:data:`PER_DAY` messages a
day each) and a worker may block one. A message marked private is sealed
(``crypto_box_seal``, X25519 + XSalsa20-Poly1305) to the worker's keys: one key pair per portal
link, whose private half is stored only wrapped under a key derived from the link's token, and
re-wrapped under the session id when the worker enters the portal. The store keeps both tokens
only hashed, so neither the requester nor a copy of the database can open a private message;
the worker reads it in the portal. A private message is readable through the links that were
live when it was sent.

The worker may answer (optionally revealing a chosen name or address), ignore, block the
sender, or report the message as abuse (which also blocks the sender); each is a ledger entry.
The sender reads answers with :func:`replies`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.public
import nacl.secret
import nacl.utils
from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from tracework.core import integrity
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.ledger import LedgerWriter, Private, now
from tracework.core.project import Project
from tracework.core.store import chunks, inserted_id
from tracework.core.store.schema import annotations as annotation_rows
from tracework.core.store.schema import workers
from tracework.core.store.tables_contact import (
    contact_consent,
    mailbox,
    mailbox_blocks,
    mailbox_keys,
    mailbox_session_keys,
)
from tracework.core.store.tables_web import portal_links

__all__ = [
    "MESSAGE_MAX",
    "PER_DAY",
    "SENDER_MAX",
    "Message",
    "RateLimited",
    "Sent",
    "act_on",
    "answer",
    "contact_consent_of",
    "handle_maker",
    "handles_for",
    "inbox",
    "keep_link_key",
    "open_for_session",
    "replies",
    "resolve_handle",
    "send",
    "set_contact_consent",
    "worker_of_handle",
]

PER_DAY = 5
MESSAGE_MAX = 4000
SENDER_MAX = 200
_HANDLE = re.compile(r"r(\d{1,18})\.([a-z2-7]{16})|rw\.([a-z2-7]{16})")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
Action = Literal["read", "ignore", "block", "report"]


class RateLimited(ConflictError):
    """A sender wrote more messages than a day allows."""

    http_status = 429


def _handle_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"tracework contact handles v1", hashlib.sha256).digest()


def _tag(key: bytes, text: str) -> str:
    mac = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(mac).decode("ascii").lower()[:16]


def _annotation_handle(key: bytes, worker: str, annotation_id: int) -> str:
    tag = _tag(key, "\x1f".join(("annotation", worker, str(annotation_id))))
    return f"r{annotation_id}.{tag}"


def _worker_handle(key: bytes, worker: str) -> str:
    return "rw." + _tag(key, "\x1f".join(("worker", worker)))


# -- consent ----------------------------------------------------------------------------------

def contact_consent_of(conn: Connection, worker_ids: Iterable[str]) -> dict[str, bool]:
    """For each contactable worker among these, whether their handles may be linked."""
    out: dict[str, bool] = {}
    for part in chunks(sorted(set(worker_ids))):
        for r in conn.execute(
                select(contact_consent.c.worker, contact_consent.c.linkable)
                .join(workers, workers.c.pseudonym == contact_consent.c.worker)
                .where(contact_consent.c.worker.in_(part), contact_consent.c.contactable.is_(True),
                       workers.c.erased.is_(False))):
            out[str(r.worker)] = bool(r.linkable)
    return out


def set_contact_consent(project: Project, worker: str, *, contactable: bool,
                        linkable: bool = False, reason: str, actor: str | None = None) -> bool:
    """Set whether a worker may be written to through reply handles (and whether their handles
    may be linked). A ledger entry per change; returns whether anything changed."""
    if linkable and not contactable:
        raise InputError("linkable handles need consent to be contacted", field="--linkable")

    def work(conn: Connection) -> bool:
        row = conn.execute(select(workers.c.erased).where(workers.c.pseudonym == worker)).first()
        if row is None:
            raise NotFound(f"no worker {worker!r}", hint="Workers are named by pseudonym (w_…).")
        if row.erased:
            raise ConflictError(f"worker {worker} was erased: there is no consent left to change")
        before = conn.execute(select(contact_consent)
                              .where(contact_consent.c.worker == worker)).first()
        old = (False, False) if before is None else (bool(before.contactable),
                                                     bool(before.linkable))
        if old == (contactable, linkable):
            return False
        conn.execute(delete(contact_consent).where(contact_consent.c.worker == worker))
        conn.execute(insert(contact_consent).values(worker=worker, contactable=contactable,
                                                    linkable=linkable, set_at=now()))
        integrity.seal(conn, "contact_consent", [worker])
        log = LedgerWriter(conn, actor or project.actor)
        log.append("consent.set", f"worker:{worker}", field="contact",
                   old={"contactable": old[0], "linkable": old[1]},
                   new={"contactable": contactable, "linkable": linkable}, reason=reason)
        log.flush()
        return True

    return project.store.run_write(work)


def handle_maker(conn: Connection, secret: bytes, worker_ids: Iterable[str]
                 ) -> Callable[[int, str], str | None]:
    """A function giving the reply handle of an (annotation id, worker) among ``worker_ids``,
    or None when the worker does not consent to contact; consent is read once, here, so an
    export streaming its labels asks the store nothing more."""
    consenting = contact_consent_of(conn, worker_ids)
    key = _handle_key(secret)

    def handle(aid: int, worker: str) -> str | None:
        if worker not in consenting:
            return None
        return (_worker_handle(key, worker) if consenting[worker]
                else _annotation_handle(key, worker, aid))

    return handle


def handles_for(conn: Connection, secret: bytes, pairs: Iterable[tuple[int, str]]
                ) -> dict[int, str]:
    """The reply handle of each (annotation id, worker) whose worker consents to contact;
    annotations of other workers are absent."""
    pairs = list(pairs)
    handle = handle_maker(conn, secret, {w for _, w in pairs})
    found = {aid: handle(aid, w) for aid, w in pairs}
    return {aid: h for aid, h in found.items() if h is not None}


def resolve_handle(conn: Connection, secret: bytes, handle: str) -> tuple[str, int | None] | None:
    """The worker (and annotation) a handle names, if that worker still consents; else None."""
    found = _HANDLE.fullmatch(handle.strip())
    if found is None:
        return None
    key = _handle_key(secret)
    if found.group(1) is not None:
        aid = int(found.group(1))
        row = conn.execute(select(annotation_rows.c.worker).where(annotation_rows.c.id == aid)).first()
        if row is None or str(row.worker) not in contact_consent_of(conn, [row.worker]):
            return None
        wanted = _annotation_handle(key, str(row.worker), aid)
        return (str(row.worker), aid) if hmac.compare_digest(wanted, handle.strip()) else None
    for r in conn.execute(select(contact_consent.c.worker)
                          .where(contact_consent.c.contactable.is_(True),
                                 contact_consent.c.linkable.is_(True))):
        if hmac.compare_digest(_worker_handle(key, str(r.worker)), handle.strip()):
            return (str(r.worker), None) if contact_consent_of(conn, [r.worker]) else None
    return None


def worker_of_handle(project: Project, handle: str) -> tuple[str, int | None]:
    """:func:`resolve_handle` for the project's staff; :class:`NotFound` when it names no one."""
    with project.store.read() as conn:
        found = resolve_handle(conn, project.secret, handle)
    if found is None:
        raise NotFound(f"the handle {handle!r} names no contactable worker")
    return found


# -- keys -------------------------------------------------------------------------------------

def _wrap_key(token: str) -> bytes:
    return nacl.hash.blake2b(token.encode("utf-8"), key=b"tracework mailbox key v1",
                             digest_size=nacl.secret.SecretBox.KEY_SIZE,
                             encoder=nacl.encoding.RawEncoder)


def _wrap(token: str, private: nacl.public.PrivateKey) -> str:
    box = nacl.secret.SecretBox(_wrap_key(token))
    return base64.b64encode(bytes(box.encrypt(bytes(private)))).decode("ascii")


def _unwrap(token: str, wrapped: str) -> nacl.public.PrivateKey | None:
    try:
        raw = nacl.secret.SecretBox(_wrap_key(token)).decrypt(base64.b64decode(wrapped))
    except (nacl.exceptions.CryptoError, ValueError):
        return None
    return nacl.public.PrivateKey(raw)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def keep_link_key(conn: Connection, link_id: int, worker: str, token: str) -> None:
    """Give a portal link its mailbox key pair (if it has none), wrapped under its token."""
    if conn.execute(select(mailbox_keys.c.link_id)
                    .where(mailbox_keys.c.link_id == link_id)).first() is not None:
        return
    private = nacl.public.PrivateKey.generate()
    conn.execute(insert(mailbox_keys).values(
        link_id=link_id, worker=worker, public_key=bytes(private.public_key).hex(),
        wrapped=_wrap(token, private), created_at=now()))


def open_for_session(project: Project, link_id: int, worker: str, link_token: str,
                     session_token: str) -> None:
    """When a worker enters the portal: re-wrap their link's private key under the new session
    id, so the portal can open their private messages while the session lives."""

    def work(conn: Connection) -> None:
        keep_link_key(conn, link_id, worker, link_token)
        row = conn.execute(select(mailbox_keys.c.wrapped)
                           .where(mailbox_keys.c.link_id == link_id)).first()
        private = None if row is None else _unwrap(link_token, row.wrapped)
        if private is None:
            return
        conn.execute(delete(mailbox_session_keys)
                     .where(mailbox_session_keys.c.session_hash == _digest(session_token)))
        conn.execute(insert(mailbox_session_keys).values(
            session_hash=_digest(session_token), link_id=link_id,
            wrapped=_wrap(session_token, private), created_at=now()))

    project.store.run_write(work)


def _live_keys(conn: Connection, worker: str) -> list[tuple[int, str]]:
    at = now()
    return [(int(r.link_id), str(r.public_key)) for r in conn.execute(
        select(mailbox_keys.c.link_id, mailbox_keys.c.public_key)
        .join(portal_links, portal_links.c.id == mailbox_keys.c.link_id)
        .where(mailbox_keys.c.worker == worker, portal_links.c.revoked_at.is_(None),
               or_(portal_links.c.expires_at.is_(None), portal_links.c.expires_at > at))
        .order_by(mailbox_keys.c.link_id))]


# -- sending ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sent:
    message: int
    private: bool
    content_sha256: str
    ledger_head: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _clean(text: str, what: str, limit: int, field: str) -> str:
    value = text.strip()
    if not value:
        raise InputError(f"the {what} is empty", field=field)
    if len(value) > limit:
        raise InputError(f"the {what} is longer than {limit} characters", field=field)
    if _CONTROL.search(value):
        raise InputError(f"the {what} contains control characters", field=field)
    return value


def _sender_key(sender: str) -> str:
    return hashlib.sha256(" ".join(sender.casefold().split()).encode("utf-8")).hexdigest()


def _content_hash(body: str | None, sealed: str | None) -> str:
    stored = {"body": body} if body is not None else {"sealed": sealed}
    return hashlib.sha256(json.dumps(stored, sort_keys=True).encode("utf-8")).hexdigest()


def _rate_check(conn: Connection, sender_key: str) -> None:
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="microseconds")
    count = conn.execute(select(func.count()).select_from(mailbox).where(
        mailbox.c.sender_key == sender_key, mailbox.c.direction == "in",
        mailbox.c.created_at >= since)).scalar_one()
    if count >= PER_DAY:
        raise RateLimited(f"this sender has written {count} messages in the last 24 hours, "
                          f"the most a day allows ({PER_DAY})", hint="Write again tomorrow.")


def send(project: Project, handle: str, message: str, *, sender: str,
         private: bool = False) -> Sent:
    """Write to the worker behind a reply handle (see the module docstring)."""
    body = _clean(message, "message", MESSAGE_MAX, "--message")
    who = _clean(sender, "sender", SENDER_MAX, "--from")
    key = _sender_key(who)

    def work(conn: Connection) -> Sent:
        found = resolve_handle(conn, project.secret, handle)
        if found is None:
            raise NotFound(f"the handle {handle!r} takes no messages",
                           hint="It may be mistyped, or its worker no longer wishes to be "
                                "contacted.")
        worker, aid = found
        if conn.execute(select(mailbox_blocks.c.worker).where(
                mailbox_blocks.c.worker == worker,
                mailbox_blocks.c.sender_key == key)).first() is not None:
            raise ConflictError("the recipient does not take messages from this sender")
        _rate_check(conn, key)
        stored_body: str | None = body
        sealed: str | None = None
        if private:
            keys = _live_keys(conn, worker)
            if not keys:
                raise ConflictError("this worker cannot receive private messages yet",
                                    hint="Send it without --private, or ask the project to "
                                         "issue the worker a portal link first.")
            sealed = json.dumps({str(lid): base64.b64encode(nacl.public.SealedBox(
                nacl.public.PublicKey(bytes.fromhex(pk))).encrypt(body.encode("utf-8")))
                .decode("ascii") for lid, pk in keys}, sort_keys=True)
            stored_body = None
        digest = _content_hash(stored_body, sealed)
        mid = int(inserted_id(conn.execute(insert(mailbox).values(
            worker=worker, handle=handle.strip(), annotation_id=aid, direction="in", sender=who,
            sender_key=key, private=private, body=stored_body, sealed=sealed,
            content_sha256=digest, state="new", created_at=now()))))
        log = LedgerWriter(conn, project.actor)
        log.append("contact.message", f"message:{mid}",
                   new={"handle": handle.strip(), "private": private, "direction": "in",
                        "content_sha256": digest, "sender": Private(who, worker)})
        log.flush()
        return Sent(mid, private, digest, log.hash)

    return project.store.run_write(work)


# -- the worker's side ------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    id: int
    handle: str
    annotation: int | None
    sender: str
    private: bool
    body: str | None          # None: sealed and not openable here
    state: str
    created_at: str
    answers: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["answers"] = list(self.answers)
        return out


def _session_private(conn: Connection, session_token: str | None
                     ) -> tuple[int, nacl.public.PrivateKey] | None:
    if not session_token:
        return None
    row = conn.execute(select(mailbox_session_keys).where(
        mailbox_session_keys.c.session_hash == _digest(session_token))).first()
    if row is None:
        return None
    private = _unwrap(session_token, row.wrapped)
    return None if private is None else (int(row.link_id), private)


def _opened(row: Any, key: tuple[int, nacl.public.PrivateKey] | None) -> str | None:
    if not row.private:
        return str(row.body)
    if key is None or not row.sealed:
        return None
    box = json.loads(row.sealed).get(str(key[0]))
    if box is None:
        return None
    try:
        return bytes(nacl.public.SealedBox(key[1]).decrypt(base64.b64decode(box))).decode("utf-8")
    except (nacl.exceptions.CryptoError, ValueError):
        return None


def inbox(project: Project, worker: str, *, session_token: str | None = None) -> list[Message]:
    """The messages to a worker, newest first, private ones opened with the session's key."""
    with project.store.read() as conn:
        key = _session_private(conn, session_token)
        rows = list(conn.execute(select(mailbox).where(mailbox.c.worker == worker)
                                 .order_by(mailbox.c.id.desc())))
    answers: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r.direction == "out" and r.reply_to is not None:
            answers.setdefault(int(r.reply_to), []).append(
                {"body": r.body, "revealed": r.revealed, "created_at": r.created_at})
    return [Message(int(r.id), r.handle, r.annotation_id, r.sender, bool(r.private),
                    _opened(r, key), r.state, r.created_at,
                    tuple(reversed(answers.get(int(r.id), []))))
            for r in rows if r.direction == "in"]


def _own_message(conn: Connection, worker: str, message_id: int) -> Any:
    row = conn.execute(select(mailbox).where(mailbox.c.id == message_id,
                                             mailbox.c.worker == worker,
                                             mailbox.c.direction == "in")).first()
    if row is None:
        raise NotFound(f"no message {message_id}")
    return row


def answer(project: Project, worker: str, message_id: int, text: str, *,
           reveal: str = "") -> int:
    """The worker's answer to a message, relayed to its sender; ``reveal`` is a name or address
    the worker chooses to give. Returns the answer's id."""
    body = _clean(text, "answer", MESSAGE_MAX, "answer")
    shown = reveal.strip()
    if shown:
        shown = _clean(shown, "name or address to reveal", SENDER_MAX, "reveal")

    def work(conn: Connection) -> int:
        row = _own_message(conn, worker, message_id)
        digest = _content_hash(json.dumps([body, shown or None]), None)
        aid = int(inserted_id(conn.execute(insert(mailbox).values(
            worker=worker, handle=row.handle, annotation_id=row.annotation_id, direction="out",
            sender=row.sender, sender_key=row.sender_key, private=False, body=body,
            revealed=shown or None, content_sha256=digest, reply_to=message_id, state="sent",
            created_at=now()))))
        conn.execute(update(mailbox).where(mailbox.c.id == message_id).values(state="answered"))
        log = LedgerWriter(conn, worker)
        log.append("contact.answer", f"message:{aid}",
                   new={"reply_to": message_id, "content_sha256": digest,
                        "revealed": bool(shown)})
        log.flush()
        return aid

    return project.store.run_write(work)


def act_on(project: Project, worker: str, message_id: int, action: Action) -> str:
    """Mark a message read or ignored, block its sender, or report it as abuse (which blocks
    the sender too). Returns the message's state."""
    states = {"read": "read", "ignore": "ignored", "block": "ignored", "report": "reported"}
    if action not in states:
        raise InputError(f"unknown action {action!r}", field="action")

    def work(conn: Connection) -> str:
        row = _own_message(conn, worker, message_id)
        state = states[action]
        conn.execute(update(mailbox).where(mailbox.c.id == message_id).values(state=state))
        if action in ("block", "report") and conn.execute(select(mailbox_blocks.c.worker).where(
                and_(mailbox_blocks.c.worker == worker,
                     mailbox_blocks.c.sender_key == row.sender_key))).first() is None:
            conn.execute(insert(mailbox_blocks).values(worker=worker, sender_key=row.sender_key,
                                                       created_at=now()))
        if action != "read":
            log = LedgerWriter(conn, worker)
            log.append(f"contact.{action}", f"message:{message_id}", new={"state": state})
            log.flush()
        return state

    return project.store.run_write(work)


def replies(project: Project, message_id: int) -> list[dict[str, Any]]:
    """The worker's answers to a message, for its sender."""
    with project.store.read() as conn:
        if conn.execute(select(mailbox.c.id).where(mailbox.c.id == message_id,
                                                   mailbox.c.direction == "in")).first() is None:
            raise NotFound(f"no message {message_id}")
        return [{"answer": r.body, "revealed": r.revealed, "created_at": r.created_at}
                for r in conn.execute(select(mailbox).where(mailbox.c.reply_to == message_id)
                                      .order_by(mailbox.c.id))]
