"""Which survey questions hold free text, found out at import and recorded per question.

Free text (a city, what a work set cost, a name) identifies people; the export rules
(:mod:`tracework.dataset.policy`) withhold it unless the project publishes it by name. A
question is free text when:

- Qualtrics says so: its ImportId is a text entry's (``QID4_TEXT``), or the column is the
  "other, please say" text of a choice (``QID9_9_TEXT``);
- or its answers, all those stored so far, are shaped like free text: an answer longer than
  :data:`LONG_ANSWER` characters or on several lines; in a numeric-values export, a
  single-choice answer that is not a whole number (choices are recoded to numbers there); or
  many different answers (at least :data:`MANY_DISTINCT` distinct values, more than half of
  all answers), which a fixed list of choices does not give.

Each question's finding is a row of ``survey_questions`` (with the counts, never an answer),
and a change of finding is a ledger entry. A question once found to be free text stays so.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from tracework.core.ledger import LedgerWriter, now
from tracework.core.store import chunks
from tracework.core.store.schema import answers
from tracework.core.store.tables_survey import survey_questions
from tracework.formats import qualtrics

__all__ = ["LONG_ANSWER", "MANY_DISTINCT", "Finding", "judge", "record_questions"]

LONG_ANSWER = 60
MANY_DISTINCT = 8


@dataclass(frozen=True)
class Finding:
    free_text: bool
    why: str
    answered: int
    distinct: int


def _texts(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [] if value in (None, "") else [str(value)]


def judge(question: qualtrics.Question, values: Iterable[object], *, numeric: bool) -> Finding:
    """Whether a question's answers are free text, and why (counts only, never an answer)."""
    answered, distinct = 0, set()
    long = single_not_code = False
    for value in values:
        texts = _texts(value)
        if not texts:
            continue
        answered += 1
        for text in texts:
            distinct.add(unicodedata.normalize("NFC", text).strip().casefold())
            long = long or len(text) > LONG_ANSWER or "\n" in text or "\r" in text
        if numeric and question.kind == "single" and not texts[0].strip().isdigit():
            single_not_code = True
    n = len(distinct)
    if question.kind == "text":
        why = f"text-entry question (ImportId {question.import_id}_TEXT)"
    elif question.kind == "other":
        why = "an \"other, please say\" text (ImportId _TEXT)"
    elif long:
        why = f"answers longer than {LONG_ANSWER} characters or on several lines"
    elif single_not_code:
        why = "a numeric-values export, but answers that are not choice numbers"
    elif n >= MANY_DISTINCT and 2 * n > answered:
        why = f"{n} different answers of {answered}: not a list of choices"
    else:
        return Finding(False, "", answered, n)
    return Finding(True, why, answered, n)


def _stored_values(conn: Connection, questions: list[str]) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {q: [] for q in questions}
    for part in chunks(questions):
        for row in conn.execute(select(answers.c.question, answers.c.value)
                                .where(answers.c.question.in_(part))):
            found[row.question].append(None if row.value is None else json.loads(row.value))
    return found


def record_questions(conn: Connection, log: LedgerWriter, survey: qualtrics.Survey) -> list[str]:
    """Judge every question of ``survey`` over all its stored answers and record the finding;
    the questions newly found to be free text."""
    questions = list(survey.questions.values())
    values = _stored_values(conn, [q.id for q in questions])
    stored = {r.question: r for part in chunks([q.id for q in questions])
              for r in conn.execute(select(survey_questions)
                                    .where(survey_questions.c.question.in_(part)))}
    newly = []
    numeric = survey.value_mode == "numeric"
    for q in questions:
        finding = judge(q, values[q.id], numeric=numeric)
        row = stored.get(q.id)
        if row is not None and row.free_text and not finding.free_text:
            finding = Finding(True, row.why, finding.answered, finding.distinct)
        fields = {"source": "qualtrics", "import_id": q.import_id, "kind": q.kind,
                  "free_text": finding.free_text, "why": finding.why,
                  "answered": finding.answered, "distinct_values": finding.distinct,
                  "updated_at": now()}
        if row is None:
            conn.execute(insert(survey_questions).values(question=q.id, **fields))
        else:
            conn.execute(update(survey_questions).where(survey_questions.c.question == q.id)
                         .values(**fields))
        if finding.free_text and (row is None or not row.free_text):
            newly.append(q.id)
            log.append("survey.free_text", f"question:{q.id}", field="free_text",
                       old=None if row is None else bool(row.free_text), new=True,
                       reason=finding.why)
    return newly
