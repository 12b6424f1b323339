"""What workers are paid: the pay policy and wage floor, top-up bonuses up to the floor (once,
never twice), the platform's bonus file (``wages``), and each worker's private receipt
(``receipts``).

May import: :mod:`tracework.core`, :mod:`tracework.dataset` and :mod:`tracework.review`.
"""

from __future__ import annotations

from tracework.pay.wages import (
    BONUS_COLUMNS,
    PAY_TEMPLATE,
    BonusFileReport,
    PayPolicy,
    TopupReport,
    WorkerTopup,
    export_bonuses,
    mark_paid,
    money,
    pay_policy,
    survey_seconds,
    topup,
)

__all__ = [
    "BONUS_COLUMNS",
    "PAY_TEMPLATE",
    "BonusFileReport",
    "PayPolicy",
    "TopupReport",
    "WorkerTopup",
    "export_bonuses",
    "mark_paid",
    "money",
    "pay_policy",
    "survey_seconds",
    "topup",
]
