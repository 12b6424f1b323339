"""Credits: the people who made the dataset, by the name each chose.

Only workers who consented to be credited (``credit`` scope, with a name) are named, and only
by that name: never by pseudonym, so a credit cannot be joined to anyone's labels or answers.
Everyone else who contributed is counted, not named. A worker who withdraws consent or is
erased disappears from the next export's credits.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from tracework.core.files import write_atomic
from tracework.core.project import Project
from tracework.docs.croissant import DocsReport
from tracework.docs.facts import Credits, Facts, facts_of
from tracework.docs.text import md

__all__ = ["credits_markdown", "credits_json", "export_credits"]


def credits_markdown(name: str, credits: Credits) -> str:
    lines = [f"# Credits: {md(name)}", "",
             "The labels of this dataset were made by the people below, named as each chose to "
             "be credited.", ""]
    lines += [f"- {md(n)}" for n in credits.names] or ["*Nobody asked to be named.*"]
    lines += ["", f"And {credits.unnamed} more {'person' if credits.unnamed == 1 else 'people'} "
                  "who chose not to be named." if credits.names else
                  f"{credits.contributors} people contributed; none asked to be named.", ""]
    return "\n".join(lines)


def credits_json(name: str, credits: Credits, ledger_head: str) -> str:
    doc = {"dataset": name, "credited": list(credits.names),
           "contributors": credits.contributors, "not_named": credits.unnamed,
           "ledger_head": ledger_head,
           "about": "Named only with the person's consent, by the name they chose."}
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def export_credits(project: Project, out: Path | str, *, status: str = "approved",
                   batches: Collection[str] = (), categories: Collection[str] = (),
                   facts: Facts | None = None) -> DocsReport:
    """Write ``CREDITS.md`` and ``credits.json`` into the folder ``OUT`` (or, given a file
    ending in .md or .json, that file and its twin beside it)."""
    path = Path(out)
    if path.suffix.lower() in (".md", ".json"):
        md_path, json_path = path.with_suffix(".md"), path.with_suffix(".json")
    else:
        md_path, json_path = path / "CREDITS.md", path / "credits.json"
    if facts is None:
        facts = facts_of(project, status=status, batches=batches, categories=categories)
    write_atomic(md_path, credits_markdown(facts.name, facts.credits))
    write_atomic(json_path, credits_json(facts.name, facts.credits, facts.ledger_head))
    return DocsReport("credits", str(md_path), files=[md_path.name, json_path.name],
                      images=len(facts.data.images), annotations=facts.labels.total,
                      workers=facts.contributors, credited=len(facts.credits.names),
                      ledger_head=facts.ledger_head)
