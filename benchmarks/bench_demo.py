"""The main job end to end: `tracework demo` at the study's size (30 frames of 2880×1920, 40
workers, the survey), on the embedded SQLite store, with the machine's cores.

Target (the export issue): under a minute on a 2-core machine. Prints the wall-clock time, the
CPU time beside it, and PASS or FAIL; exit 1 on FAIL.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tracework.demo import demo

TARGET_S = 60.0


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="bench_demo_"))
    try:
        start = time.perf_counter()
        report = demo(root / "demo")
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(root, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    ok = wall < TARGET_S
    print(f"tracework demo: {report.status.submissions} submissions, "
          f"{report.coco.annotations} annotations, {os.cpu_count()} cores")
    print(f"  wall clock {wall:6.1f} s   (target < {TARGET_S:.0f} s)   CPU {cpu:6.1f} s")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
