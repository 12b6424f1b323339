"""Typed-id redaction: the scanner (two patterns and a dictionary) against a loop over the ids.

A vault of 100,000 workers (60,000 MTurk ids, found by their shape, and 40,000 ids of other
platforms, found by the trie), and 20,000 answer texts of about 200 characters, one in ten with
an id typed into it. Figures: the time to build the scanner; texts scanned per second; the same
for the naive way (every id searched for in every text, lower-cased), measured on 200 texts.
Target: at least 100× the naive way's rate, and the same redactions on the texts both see.

Run: python benchmarks/bench_typed_ids.py. Exit 1 if the target fails.
"""

from __future__ import annotations

import random
import string
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

import tracework
from tracework.core.project import Category
from tracework.core.store.schema import vault
from tracework.ingest.typed_ids import TypedIds

WORKERS_MTURK, WORKERS_OTHER, TEXTS, NAIVE_TEXTS = 60_000, 40_000, 20_000, 200
WORDS = ("the", "mask", "was", "hard", "cable", "wheel", "thanks", "pay", "please", "id",
         "my", "is", "button", "left", "right", "body", "image", "blurry", "done")


def _ids(rng: random.Random) -> tuple[list[str], list[str]]:
    alphabet = string.ascii_uppercase + string.digits
    mturk = sorted({"A" + "".join(rng.choices(alphabet, k=rng.randint(11, 13)))
                    for _ in range(WORKERS_MTURK)})
    other = sorted({f"annotator-{rng.randrange(10**9):09d}" for _ in range(WORKERS_OTHER)})
    return mturk, other


def _texts(rng: random.Random, ids: list[str]) -> list[str]:
    out = []
    for i in range(TEXTS):
        words = rng.choices(WORDS, k=36)
        if i % 10 == 0:
            typed = rng.choice(ids)
            words[rng.randrange(len(words))] = typed.lower() if i % 20 else typed
        out.append(" ".join(words))
    return out


def _naive(text: str, known: dict[str, str]) -> str:
    low = text.casefold()
    for raw, token in known.items():
        if raw in low:
            start = low.index(raw)
            text = text[:start] + f"<worker {token}>" + text[start + len(raw):]
            low = text.casefold()
    return text


def main() -> int:
    rng = random.Random(15)
    mturk, other = _ids(rng)
    ids = mturk + other
    texts = _texts(rng, ids)
    with tempfile.TemporaryDirectory() as tmp:
        project = tracework.init(Path(tmp) / "p", name="bench", categories=[Category("A",
                                 "#ff0000")], actor="bench")
        rows = [{"pseudonym": f"w_{i:012d}", "platform": "mturk" if i < len(mturk) else "lab",
                 "platform_worker_id": pid, "created_at": "2026-01-01T00:00:00+00:00"}
                for i, pid in enumerate(ids)]
        with project.store.write() as conn:
            conn.execute(insert(vault), rows)
        with project.store.read() as conn:
            start = time.perf_counter()
            scanner = TypedIds(conn, "mturk")
            scanner.scrub("warm up")
            built = time.perf_counter() - start
        project.close()
    start = time.perf_counter()
    fast = [scanner.scrub(t) for t in texts]
    rate = len(texts) / (time.perf_counter() - start)
    known = {r["platform_worker_id"].casefold(): r["pseudonym"] for r in rows}
    start = time.perf_counter()
    slow = [_naive(t, known) for t in texts[:NAIVE_TEXTS]]
    naive_rate = NAIVE_TEXTS / (time.perf_counter() - start)
    same = fast[:NAIVE_TEXTS] == slow
    redacted = sum(1 for a, b in zip(texts, fast, strict=True) if a != b)
    print(f"vault {len(ids):,} ids; scanner built in {built * 1000:.0f} ms")
    print(f"scanner: {rate:,.0f} texts/s ({redacted:,} of {len(texts):,} redacted)")
    print(f"loop over ids: {naive_rate:,.1f} texts/s; speed-up {rate / naive_rate:,.0f}× "
          f"(target ≥ 100×); same redactions: {same}")
    return 0 if rate >= 100 * naive_rate and same else 1


if __name__ == "__main__":
    sys.exit(main())
