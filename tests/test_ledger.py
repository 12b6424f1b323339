"""The change log: append, filter, verify, and every way of tampering with it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from tracework.core import ledger
from tracework.core.errors import LedgerError
from tracework.core.project import Project
from tracework.core.status import log, verify
from tracework.core.store.schema import ledger as ledger_table
from tracework.core.store.schema import ledger_head
from tracework.core.store.tables_privacy import ledger_private


def _fill(project: Project, n: int = 10) -> str:
    with project.store.write() as conn:
        w = ledger.LedgerWriter(conn, "alice")
        for i in range(n):
            w.append("note.add", f"asset:{i % 3}", field="text", old=None,
                     new={"text": f"note {i}", "ünï": "çødé"}, reason="because")
        w.flush()
        return w.hash


def test_append_and_verify(project: Project) -> None:
    head = _fill(project, 10)
    result = verify(project)
    assert result.ok
    # init wrote one taxonomy entry before ours
    assert result.entries == 11
    assert result.head == head
    assert verify(project, expect_head=head).ok


def test_filters(project: Project) -> None:
    _fill(project, 9)
    assert len(log(project, target="asset:1")) == 3
    assert len(log(project, target="asset:*")) == 9
    assert len(log(project, actor="alice")) == 9
    assert len(log(project, action="taxonomy.*")) == 1
    newest = log(project, limit=2, newest_first=True)
    assert [e.seq for e in newest] == [10, 9]
    assert log(project, since="2999-01-01") == []
    entry = log(project, target="asset:0")[0]
    assert entry.as_dict()["new"] == {"text": "note 0", "ünï": "çødé"}


def _fails(project: Project, fragment: str, expect_head: str | None = None) -> None:
    with pytest.raises(LedgerError) as info:
        verify(project, expect_head=expect_head)
    assert fragment in str(info.value)


def test_edit_is_caught_naming_the_entry(project: Project) -> None:
    _fill(project)
    with project.store.write() as conn:
        conn.execute(update(ledger_table).where(ledger_table.c.seq == 4)
                     .values(new='{"text":"forged"}'))
    _fails(project, "entry 4")


def test_actor_edit_is_caught(project: Project) -> None:
    _fill(project)
    with project.store.write() as conn:
        conn.execute(update(ledger_table).where(ledger_table.c.seq == 7).values(actor="mallory"))
    _fails(project, "entry 7")


def test_deletion_is_caught(project: Project) -> None:
    _fill(project)
    with project.store.write() as conn:
        conn.execute(delete(ledger_table).where(ledger_table.c.seq == 5))
    _fails(project, "entry 5 is missing")


def test_reordering_is_caught(project: Project) -> None:
    _fill(project)
    with project.store.write() as conn:
        rows = {r.seq: dict(r._mapping) for r in conn.execute(
            select(ledger_table).where(ledger_table.c.seq.in_([3, 6])))}
        for seq, other in ((3, 6), (6, 3)):
            values = {k: v for k, v in rows[other].items() if k != "seq"}
            conn.execute(update(ledger_table).where(ledger_table.c.seq == seq).values(**values))
    _fails(project, "entry 3")


def test_truncation_is_caught_by_head_record_and_checkpoint(project: Project) -> None:
    head = _fill(project)
    with project.store.write() as conn:
        conn.execute(delete(ledger_table).where(ledger_table.c.seq > 8))
    _fails(project, "removed from the end")
    # A careful forger also rewrites the head record: only a checkpoint catches that.
    with project.store.write() as conn:
        last = conn.execute(select(ledger_table).where(ledger_table.c.seq == 8)).one()
        conn.execute(update(ledger_head).values(seq=8, hash=last.hash))
    assert verify(project).ok
    _fails(project, "checkpoint", expect_head=head)


def test_rewritten_chain_is_caught_by_checkpoint(project: Project) -> None:
    head = _fill(project)
    # Recompute the whole chain after a forged edit: internally consistent, so only the
    # checkpoint taken before the rewrite can tell.
    with project.store.write() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(ledger_table).order_by(ledger_table.c.seq))]
        conn.execute(delete(ledger_table))
        rows[5]["new"] = '{"text":"forged"}'
        prev = ledger.GENESIS
        for r in rows:
            r["prev_hash"] = prev
            r["hash"] = ledger._entry_hash(prev, r["seq"], r["ts"], r["actor"], r["action"],
                                           r["target"], r["field"], r["old"], r["new"],
                                           r["reason"])
            prev = r["hash"]
        conn.execute(ledger_table.insert(), rows)
        conn.execute(update(ledger_head).values(seq=len(rows), hash=prev))
    assert verify(project).ok
    _fails(project, "checkpoint", expect_head=head)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8), min_size=1, max_size=8))
def test_any_values_round_trip_and_verify(sqlite_project: Project, values: list[object]) -> None:
    with sqlite_project.store.write() as conn:
        w = ledger.LedgerWriter(conn, "prop")
        for v in values:
            w.append("value.set", "thing:1", new=v)
        w.flush()
    got = [e.as_dict()["new"] for e in log(sqlite_project, action="value.set")][-len(values):]
    assert got == values
    assert verify(sqlite_project).ok


def test_two_writers_chain_in_turn(project: Project) -> None:
    _fill(project, 3)
    _fill(project, 4)
    result = verify(project)
    assert result.ok and result.entries == 8


class _Rollback(Exception):
    pass


def _chain(project: Project, monkeypatch: pytest.MonkeyPatch, bulk: bool
           ) -> tuple[list[str], tuple[int, str], list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The entries of one fixed script, appended singly or in bulk, read back in the same
    transaction, which is then rolled back so both runs start from the same head."""
    ticks = iter(range(1000))
    monkeypatch.setattr(ledger, "now", lambda: f"2026-01-01T00:00:{next(ticks):06d}")
    salts = iter(range(1000))
    monkeypatch.setattr(ledger.secrets, "token_hex", lambda n: f"{next(salts):0{2 * n}x}")
    drafts = [ledger.Draft("worker.create", "worker:w_a", new={"platform": "mturk"}),
              ledger.Draft("submission.update", "submission:1", field="requester_feedback",
                           old=None, new=ledger.Private("thanks", "w_a"), reason="download"),
              ledger.Draft("note.add", "asset:1", new={"text": "ünï"},
                           reason=ledger.Private("why", None), actor="bob"),
              *[ledger.Draft("annotation.create", f"annotation:{i}", new={"area": i * 1.5})
                for i in range(7)]]
    out: list[object] = []
    with pytest.raises(_Rollback), project.store.write() as conn:
        w = ledger.LedgerWriter(conn, "alice")
        w.FLUSH_EVERY = 3
        if bulk:
            hashes = w.extend(drafts)
        else:
            hashes = [w.append(d.action, d.target, field=d.field, old=d.old, new=d.new,
                               reason=d.reason, actor=d.actor) for d in drafts]
        w.flush()
        rows = [tuple(r) for r in conn.execute(select(ledger_table).order_by(ledger_table.c.seq))]
        private = [tuple(r) for r in conn.execute(
            select(ledger_private).order_by(ledger_private.c.commit))]
        out = [hashes, ledger.head(conn), rows, private]
        raise _Rollback
    return out[0], out[1], out[2], out[3]  # type: ignore[return-value]


def test_bulk_append_makes_the_same_chain_as_single_appends(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    single = _chain(project, monkeypatch, bulk=False)
    bulk = _chain(project, monkeypatch, bulk=True)
    hashes, head, rows, private = bulk
    assert len(hashes) == 10 and len(private) == 2
    assert head == (11, hashes[-1])
    assert bulk == single
    # What verify recomputes from the stored rows is the chain both ways gave.
    assert [r[-1] for r in rows[1:]] == hashes
    assert verify(project).ok
