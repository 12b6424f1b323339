"""Keyed cell-level diff: tracework (Polars join) against daff, side by side, same tables.

Two tables of 100,000 rows × 10 columns (an id and nine values); 1% of the 1,000,000 cells
(10,000 non-key cells) changed and the second table's rows shuffled. tracework's diff must find
exactly the changed cells the generator recorded, and be at least 100× faster than daff's keyed
diff (compare + align + highlight) of the same tables. Both are timed on tables already in
memory (daff on Python lists, tracework on Polars frames); tracework is also timed from the two
CSV files, reading included.

Run: .venv/bin/python benchmarks/bench_diff.py [--rows N]   (needs: pip install daff)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROWS = 100_000
COLUMNS = ["id", "worker", "category", "status", "area", "bbox_x", "bbox_y", "reward_cents",
           "time_kind", "feedback"]
TARGET_SPEEDUP = 100.0


def generate(rows: int, seed: int = 5) -> tuple[list[list[str]], list[list[str]],
                                                  set[tuple[str, str]]]:
    rnd = random.Random(seed)
    cats = ["Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]
    a = [[str(i), f"w_{rnd.getrandbits(40):010x}", rnd.choice(cats),
          rnd.choice(["Approved", "Rejected", "Submitted"]), str(rnd.randint(10, 90_000)),
          f"{rnd.random() * 480:.2f}", f"{rnd.random() * 320:.2f}", str(rnd.choice([5, 10, 12])),
          "accept_to_submit", rnd.choice(["", "thanks", "missing parts", "great"])]
         for i in range(1, rows + 1)]
    b = [list(r) for r in a]
    cells = rows * len(COLUMNS) // 100                    # 1% of all cells
    changed: set[tuple[str, str]] = set()
    while len(changed) < cells:
        r = rnd.randrange(rows)
        c = rnd.randrange(1, len(COLUMNS))
        key = (b[r][0], COLUMNS[c])
        if key in changed:
            continue
        b[r][c] = b[r][c] + "~" if b[r][c] else "new"
        changed.add(key)
    rnd.shuffle(b)
    return a, b, changed


def time_tracework(a_rows: list[list[str]], b_rows: list[list[str]], tmp: Path,
                   repeats: int = 9) -> tuple[float, float, set[tuple[str, str]], int, int]:
    import polars as pl

    from tracework.core.safecsv import write_csv
    from tracework.fieldnotes import diff

    fa = pl.DataFrame(a_rows, schema=COLUMNS, orient="row").with_columns(
        pl.all().replace("", None))
    fb = pl.DataFrame(b_rows, schema=COLUMNS, orient="row").with_columns(
        pl.all().replace("", None))
    memory = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = diff.diff_tables(fa, fb, key="id")
        memory.append(time.perf_counter() - t)
    write_csv(tmp / "a.csv", COLUMNS, a_rows)
    write_csv(tmp / "b.csv", COLUMNS, b_rows)
    files = []
    for _ in range(repeats):
        t = time.perf_counter()
        from_files = diff.diff_files(tmp / "a.csv", tmp / "b.csv", key="id")
        files.append(time.perf_counter() - t)
    assert {(c.key, c.column) for c in from_files.changed} == \
        {(c.key, c.column) for c in result.changed}
    found = {(c.key, c.column) for c in result.changed}
    return (statistics.median(memory), statistics.median(files), found, len(result.added),
            len(result.removed))


def time_daff(a_rows: list[list[str]], b_rows: list[list[str]]) -> tuple[float, int]:
    import daff

    t1 = daff.PythonTableView([COLUMNS] + [list(r) for r in a_rows])
    t2 = daff.PythonTableView([COLUMNS] + [list(r) for r in b_rows])
    t = time.perf_counter()
    flags = daff.CompareFlags()
    flags.addPrimaryKey("id")
    align = daff.Coopy.compareTables(t1, t2, flags).align()
    out = daff.PythonTableView([])
    daff.TableDiff(align, flags).hilite(out)
    elapsed = time.perf_counter() - t
    # Cells daff marks as changed hold "old->new".
    changed = sum(1 for row in out.data[1:] for cell in row[1:]
                  if isinstance(cell, str) and "->" in cell)
    return elapsed, changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    a, b, truth = generate(args.rows)
    print(f"tables: {args.rows:,} rows × {len(COLUMNS)} columns; {len(truth):,} cells changed "
          f"(1%), rows of B shuffled")
    with tempfile.TemporaryDirectory() as tmp:
        t_mem, t_files, found, added, removed = time_tracework(a, b, Path(tmp))
    exact = found == truth and added == 0 and removed == 0
    print(f"tracework diff (Polars join), in memory : {t_mem * 1000:9.1f} ms  (median of 9)")
    print(f"tracework diff, from the two CSV files  : {t_files * 1000:9.1f} ms  (reading included)")
    print(f"  cells found {len(found):,}; exactly the generator's record: {exact}")
    try:
        t_daff, daff_changed = time_daff(a, b)
    except ImportError:
        print("FAIL: daff is not installed (pip install daff)")
        return 1
    print(f"daff keyed diff (compare+align+hilite)  : {t_daff * 1000:9.1f} ms  (one run, "
          f"same {args.rows:,} rows, measured at full size)")
    print(f"  cells daff marks changed: {daff_changed:,}")
    speedup = t_daff / t_mem
    ok = exact and speedup >= TARGET_SPEEDUP
    print(f"speed-up over daff: {speedup:,.0f}× in memory, {t_daff / t_files:,.0f}× from files "
          f"(target ≥ {TARGET_SPEEDUP:.0f}× in memory)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
