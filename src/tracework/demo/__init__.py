"""``tracework demo``: a complete example project built end to end on the embedded store
(``build``), from realistic generated inputs: frames of a rotating object with five labelled
parts, a Mechanical Turk batch file from simulated workers of varying care, and a Qualtrics
survey export (``data``).

May import every room but the command line.
"""

from __future__ import annotations

from tracework.demo.build import DemoReport, demo

__all__ = ["DemoReport", "demo"]
