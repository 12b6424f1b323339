"""Command-line commands of the notes room: ``tracework note``, ``tracework taxonomy``,
``tracework sheet`` and ``tracework diff``; registered on the main group by cli.py. Each command
parses, calls the library function of the same name, and formats the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tracework.cli.common import Group, echo_json, project_of, table
from tracework.core.errors import InputError
from tracework.fieldnotes import diff as diff_lib
from tracework.fieldnotes import notes as notes_lib
from tracework.fieldnotes import sheet as sheet_lib
from tracework.fieldnotes import taxonomy as tax_lib
from tracework.fieldnotes.notes import State

COMMANDS: list[click.Command] = []

_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _short(text: str, width: int = 70) -> str:
    one = " ".join(text.split())
    return one if len(one) <= width else one[: width - 1] + "…"


# -- note -------------------------------------------------------------------------------------

@click.group(cls=Group)
def note() -> None:
    """Fieldnotes on anything: an asset, annotation, submission, batch, worker, category, or
    one cell of a table. Each has a concern type (colours in [concerns] of tracework.toml).

    \b
    Targets:
      asset:3  annotation:17  submission:5  batch:1  worker:w_abc123def456
      category:Body  cell:annotations:17:category  cell:submissions:5:requester_feedback
    """


def _print_note(n: notes_lib.Note, replies: int | None = None) -> None:
    extra = f", {replies} repl{'y' if replies == 1 else 'ies'}" if replies else ""
    who = f" by {n.state_by}" if n.state_by else ""
    click.echo(f"#{n.id} [{n.concern}] {n.target}  {n.state}{who}{extra}")
    click.echo(f"    {n.author} {n.created_at[:19]}: {_short(n.text)}")


@note.command("add")
@click.argument("target")
@click.argument("text")
@click.option("--concern", default="other", show_default=True,
              help="Concern type (see [concerns] in tracework.toml).")
@click.option("--author", help="Who writes the note (default: --actor or your login).")
@_json
@click.pass_context
def note_add(ctx: click.Context, target: str, text: str, concern: str, author: str | None,
             as_json: bool) -> None:
    """Add a note on TARGET.

    \b
    Examples:
      tracework note add category:Body "is the scroll wheel part of the body?" --concern taxonomy
      tracework note add cell:annotations:17:category "looks like Cable" --concern data_quality
    """
    n = notes_lib.add(project_of(ctx), target, text, concern=concern, author=author)
    echo_json(n.as_dict()) if as_json else click.echo(f"note {n.id} added on {n.target}")


@note.command("reply")
@click.argument("note_id", metavar="NOTE", type=int)
@click.argument("text")
@click.option("--author", help="Who replies (default: --actor or your login).")
@click.pass_context
def note_reply(ctx: click.Context, note_id: int, text: str, author: str | None) -> None:
    """Reply to NOTE.

    \b
    Example:
      tracework note reply 4 "yes: one part, see guideline v2"
    """
    n = notes_lib.reply(project_of(ctx), note_id, text, author=author)
    click.echo(f"reply {n.id} added to note {n.reply_to}")


@note.command("resolve")
@click.argument("note_id", metavar="NOTE", type=int)
@click.option("--reason", required=True, help="Why (shown with the note and in the log).")
@click.option("--state", type=click.Choice(list(notes_lib.STATES)), default="resolved",
              show_default=True, help="The state to move to (open reopens a note).")
@click.pass_context
def note_resolve(ctx: click.Context, note_id: int, reason: str, state: State) -> None:
    """Resolve NOTE (or mark it answered, or reopen it), saying why.

    \b
    Examples:
      tracework note resolve 4 --reason "guideline now says one part"
      tracework note resolve 4 --state open --reason "came up again in batch 3"
    """
    n = notes_lib.resolve(project_of(ctx), note_id, reason=reason, state=state)
    click.echo(f"note {n.id} is now {n.state} ({n.state_by}: {n.state_reason})")


@note.command("list")
@click.option("--target", help="Exact target, or a prefix ending in *, e.g. 'category:*'.")
@click.option("--concern", help="Only this concern type.")
@click.option("--state", type=click.Choice(list(notes_lib.STATES)), help="Only this state.")
@click.option("--author", help="Only notes by this author.")
@click.option("--replies", is_flag=True, help="List replies as notes of their own too.")
@_json
@click.pass_context
def note_list(ctx: click.Context, target: str | None, concern: str | None, state: str | None,
              author: str | None, replies: bool, as_json: bool) -> None:
    """List notes, oldest first.

    \b
    Examples:
      tracework note list --state open --concern taxonomy
      tracework note list --target 'cell:annotations:*' --json
    """
    project = project_of(ctx)
    found = notes_lib.list_notes(project, target=target, concern=concern, state=state,
                                 author=author, replies=replies)
    if as_json:
        echo_json([n.as_dict() for n in found])
        return
    counts = notes_lib.count_replies(project, [n.id for n in found])
    for n in found:
        _print_note(n, counts.get(n.id))
    if not found:
        click.echo("no notes")


@note.command("show")
@click.argument("note_id", metavar="NOTE", type=int)
@_json
@click.pass_context
def note_show(ctx: click.Context, note_id: int, as_json: bool) -> None:
    """Show NOTE with its replies.

    \b
    Example:
      tracework note show 4
    """
    n, replies = notes_lib.get(project_of(ctx), note_id)
    if as_json:
        echo_json({**n.as_dict(), "replies": [r.as_dict() for r in replies]})
        return
    _print_note(n)
    click.echo(f"    {n.text}")
    if n.state_reason:
        click.echo(f"    {n.state}: {n.state_reason}")
    for r in replies:
        click.echo(f"  ↳ #{r.id} {r.author} {r.created_at[:19]}: {r.text}")


COMMANDS.append(note)


# -- taxonomy ---------------------------------------------------------------------------------

@click.group(cls=Group)
def taxonomy() -> None:
    """The versioned taxonomy: every change is a version with author and reason.

    The store holds the versions; tracework.toml's [[taxonomy.categories]] are read as an
    input: a hand edit of them is recorded as a version ("tracework.toml changed"); these
    commands do not rewrite the file. Annotations keep the version they were made under.

    No label is lost: exports, renders and audits follow the recorded changes from each
    label's version to the taxonomy in force (a rename to the new name, a merge to the merged
    category, a split to its --map-to rule or a later `taxonomy map`). Labels of a category
    split without a rule, or retired, stay under "NAME (retired)" and are listed by
    `taxonomy pending`. Old names still work as --category filters, with a note.

    \b
    Examples:
      tracework taxonomy split Body --into Top_Shell --into Base=#17becf \\
          --reason "workers asked whether it is one part" --answers 4 --answers 9
      tracework taxonomy pending
      tracework taxonomy map Body Base --reason "the old outlines follow the base"
      tracework taxonomy history
      tracework taxonomy diff 1 3
    """


_reason = click.option("--reason", required=True, help="Why the taxonomy changes.")
_answers = click.option("--answers", "answers", multiple=True, type=int, metavar="NOTE_ID",
                        help="A worker's flag (note on a category) this version answers; "
                             "repeatable. It is marked answered.")
_author = click.option("--author", help="Who makes the change (default: --actor or login).")


def _print_version(t: tax_lib.Taxonomy) -> None:
    cited = f"; answers notes {', '.join(map(str, t.answers))}" if t.answers else ""
    click.echo(f"taxonomy version {t.version} ({t.change}) by {t.author}: {t.reason}{cited}")


@taxonomy.command("show")
@click.option("--version", "number", type=int, help="A stored version (default: in force).")
@click.option("--retired", is_flag=True, help="List retired categories too.")
@_json
@click.pass_context
def taxonomy_show(ctx: click.Context, number: int | None, retired: bool, as_json: bool) -> None:
    """The categories of a version: name, colour, description, guideline.

    \b
    Example:
      tracework taxonomy show --retired
    """
    project = project_of(ctx)
    if number is None:
        with project.store.read() as conn:
            t = tax_lib.in_force(project, conn)
    else:
        t = tax_lib.version(project, number)
    if as_json:
        echo_json(t.as_dict())
        return
    pending = " + an unrecorded edit of tracework.toml" if t.pending_toml else ""
    click.echo(f"taxonomy version {t.version}{pending}")
    for e in t.entries:
        if e["retired"] and not retired:
            continue
        state = f"  retired → {', '.join(e['replaced_by']) or '-'}" if e["retired"] else ""
        click.echo(f"  {e['colour']}  {e['name']}{state}")
        for key in ("description", "guideline"):
            if e[key]:
                click.echo(f"      {key}: {_short(e[key])}")


@taxonomy.command("history")
@_json
@click.pass_context
def taxonomy_history(ctx: click.Context, as_json: bool) -> None:
    """Every version, oldest first: what changed, who, when and why.

    \b
    Example:
      tracework taxonomy history --json
    """
    versions = tax_lib.history(project_of(ctx))
    if as_json:
        echo_json([t.as_dict() for t in versions])
        return
    for t in versions:
        click.echo(f"{t.version:>3} {t.created_at[:19]} {t.author}: {t.change} "
                   f"{_short(str(t.details), 60) if t.details else ''}")
        click.echo(f"      reason: {t.reason}"
                   + (f"; answers notes {', '.join(map(str, t.answers))}" if t.answers else ""))


@taxonomy.command("diff")
@click.argument("v1", type=int)
@click.argument("v2", type=int)
@_json
@click.pass_context
def taxonomy_diff(ctx: click.Context, v1: int, v2: int, as_json: bool) -> None:
    """Categories added, retired and changed between versions V1 and V2, and the steps between.

    \b
    Example:
      tracework taxonomy diff 1 3
    """
    d = tax_lib.diff(project_of(ctx), v1, v2)
    if as_json:
        echo_json(d.as_dict())
        return
    click.echo(f"taxonomy {v1} → {v2}")
    for name in d.added:
        click.echo(f"  + {name}")
    for name in d.retired:
        click.echo(f"  - {name}")
    for c in d.changed:
        click.echo(f"  ~ {c['name']} {c['field']}: {_short(str(c['old']), 30)!r} → "
                   f"{_short(str(c['new']), 30)!r}")
    for s in d.steps:
        click.echo(f"  v{s['version']} {s['change']} by {s['author']}: {s['reason']}")


def _done(t: tax_lib.Taxonomy) -> None:
    _print_version(t)


@taxonomy.command("add")
@click.argument("name")
@click.option("--colour", help="#RRGGBB (default: a free colour).")
@click.option("--description", default="", help="What the category covers.")
@click.option("--guideline", default="", help="Guideline text workers see.")
@_reason
@_answers
@_author
@click.pass_context
def taxonomy_add(ctx: click.Context, name: str, colour: str | None, description: str,
                 guideline: str, reason: str, answers: tuple[int, ...],
                 author: str | None) -> None:
    """Add category NAME (or bring a retired one back).

    \b
    Example:
      tracework taxonomy add Side_Button --colour "#e377c2" --reason "new mouse model"
    """
    _done(tax_lib.add(project_of(ctx), name, colour=colour, description=description,
                      guideline=guideline, reason=reason, answers=answers, author=author))


@taxonomy.command("rename")
@click.argument("old")
@click.argument("new")
@_reason
@_answers
@_author
@click.pass_context
def taxonomy_rename(ctx: click.Context, old: str, new: str, reason: str,
                    answers: tuple[int, ...], author: str | None) -> None:
    """Rename category OLD to NEW (OLD stays in history).

    \b
    Example:
      tracework taxonomy rename Cable Cord --reason "workers found 'Cable' unclear" --answers 7
    """
    _done(tax_lib.rename(project_of(ctx), old, new, reason=reason, answers=answers,
                         author=author))


@taxonomy.command("merge")
@click.argument("sources", nargs=-1, required=True)
@click.option("--into", "into", required=True, help="The category they become (new or not).")
@click.option("--colour", help="#RRGGBB of a new merged category (default: the first's).")
@_reason
@_answers
@_author
@click.pass_context
def taxonomy_merge(ctx: click.Context, sources: tuple[str, ...], into: str,
                   colour: str | None, reason: str, answers: tuple[int, ...],
                   author: str | None) -> None:
    """Merge SOURCES into one category; the sources are retired.

    \b
    Example:
      tracework taxonomy merge Left_Button Right_Button --into Button --reason "one part"
    """
    _done(tax_lib.merge(project_of(ctx), sources, into, colour=colour, reason=reason,
                        answers=answers, author=author))


def _parts(values: tuple[str, ...]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for item in values:
        name, sep, colour = item.partition("=")
        out.append((name.strip(), colour.strip() if sep else None))
    return out


@taxonomy.command("split")
@click.argument("name")
@click.option("--into", "into", multiple=True, required=True, metavar="NEW[=#RRGGBB]",
              help="A new category (and its colour); repeat for each.")
@click.option("--map-to", "map_to", metavar="NEW",
              help="The rule for the labels already made with NAME: they all belong to NEW "
                   "(one of --into), and are exported under it. Recorded with the version. "
                   "Without it they are exported as \"NAME (retired)\" and listed by "
                   "`taxonomy pending` for relabelling.")
@_reason
@_answers
@_author
@click.pass_context
def taxonomy_split(ctx: click.Context, name: str, into: tuple[str, ...], map_to: str | None,
                   reason: str, answers: tuple[int, ...], author: str | None) -> None:
    """Split category NAME into new ones; NAME is retired, its annotations keep their version.

    Old labels of NAME cannot tell which new category they are: they are exported as
    "NAME (retired)" and listed by `tracework taxonomy pending`, unless --map-to says they all
    belong to one of the new categories.

    \b
    Examples:
      tracework taxonomy split Body --into Top_Shell=#1f77b4 --into Base=#17becf \\
          --reason "workers asked whether it is one part or two" --answers 4
      tracework taxonomy split Body --into Top_Shell --into Base --map-to Base \\
          --reason "the old outlines follow the base"
    """
    _done(tax_lib.split(project_of(ctx), name, _parts(into), map_to=map_to, reason=reason,
                        answers=answers, author=author))


@taxonomy.command("map")
@click.argument("old")
@click.argument("new")
@_reason
@_answers
@_author
@click.pass_context
def taxonomy_map(ctx: click.Context, old: str, new: str, reason: str, answers: tuple[int, ...],
                 author: str | None) -> None:
    """The rule that the labels left under retired category OLD all belong to NEW (a category
    in force): exports show them under NEW from now on, each keeping OLD as its original
    category. Recorded as a version; the categories do not change.

    For a split decided without --map-to, after looking at `tracework taxonomy pending`.

    \b
    Example:
      tracework taxonomy map Body Base --reason "checked: the old outlines follow the base"
    """
    _done(tax_lib.map_labels(project_of(ctx), old, new, reason=reason, answers=answers,
                             author=author))


@taxonomy.command("retire")
@click.argument("name")
@_reason
@_answers
@_author
@click.pass_context
def taxonomy_retire(ctx: click.Context, name: str, reason: str, answers: tuple[int, ...],
                    author: str | None) -> None:
    """Retire category NAME: no new labels with it; its history stays.

    \b
    Example:
      tracework taxonomy retire Scroll_Wheel --reason "offensive term, see note 12" --answers 12
    """
    _done(tax_lib.retire(project_of(ctx), name, reason=reason, answers=answers, author=author))


@taxonomy.command("redefine")
@click.argument("name")
@click.option("--colour", help="New #RRGGBB.")
@click.option("--description", help="New description.")
@click.option("--guideline", help="New guideline text.")
@_reason
@_answers
@_author
@click.pass_context
def taxonomy_redefine(ctx: click.Context, name: str, colour: str | None,
                      description: str | None, guideline: str | None, reason: str,
                      answers: tuple[int, ...], author: str | None) -> None:
    """Change category NAME's colour, description or guideline text.

    \b
    Example:
      tracework taxonomy redefine Body --guideline "the shell only, without buttons" \\
          --reason "workers asked" --answers 4
    """
    _done(tax_lib.redefine(project_of(ctx), name, colour=colour, description=description,
                           guideline=guideline, reason=reason, answers=answers, author=author))


@taxonomy.command("pending")
@_json
@click.pass_context
def taxonomy_pending(ctx: click.Context, as_json: bool) -> None:
    """Labels waiting for relabelling: made under a category that was split without a
    --map-to rule, or retired. Exports keep them under "NAME (retired)"; nothing is dropped.

    Lists each label (annotation, asset, submission, worker pseudonym, review status), the
    category and version it was made under, and the changes that left it without a category.

    \b
    Examples:
      tracework taxonomy pending
      tracework taxonomy pending --json
    """
    labels = tax_lib.pending(project_of(ctx))
    if as_json:
        echo_json([p.as_dict() for p in labels])
        return
    if not labels:
        click.echo("no label waits for relabelling: every label has a category in force")
        return
    counts: dict[str, int] = {}
    for p in labels:
        counts[p.current_category] = counts.get(p.current_category, 0) + 1
    click.echo(f"{len(labels)} label(s) wait for relabelling: "
               + ", ".join(f"{n} {name!r}" for name, n in counts.items()))
    for p in labels:
        click.echo(f"  annotation {p.annotation} on {p.file_name or p.asset} (submission "
                   f"{p.submission}, {p.worker}, {p.review_status}): {p.original_category} "
                   f"of version {p.taxonomy_version}, {p.why}")


@taxonomy.command("flags-from-survey")
@click.argument("source")
@click.option("--column", help="The question whose answers name the flagged categories.")
@click.option("--category", help="Every non-empty answer flags this one category.")
@click.option("--text-column", help="A question holding the worker's comment.")
@click.option("--concern", default="taxonomy", show_default=True, help="Concern type.")
@_json
@click.pass_context
def taxonomy_flags(ctx: click.Context, source: str, column: str | None, category: str | None,
                   text_column: str | None, concern: str, as_json: bool) -> None:
    """Workers' flags on categories become notes on them. SOURCE is `imported` (ingested
    survey answers; a flag names its worker only with link consent), a Qualtrics export, or a
    notes CSV with category and text columns. Reading them again adds nothing.

    \b
    Examples:
      tracework taxonomy flags-from-survey imported --column Q7 --text-column Q8
      tracework taxonomy flags-from-survey flags.csv
    """
    r = tax_lib.flags_from_survey(project_of(ctx), source, column=column, category=category,
                                  text_column=text_column, concern=concern)
    if as_json:
        echo_json(r.as_dict())
        return
    table([("flags added", len(r.added)), ("already taken in", r.repeated),
            ("answers naming no category", len(r.unmatched))])
    if r.added:
        click.echo(f"notes {', '.join(map(str, r.added))}: see `tracework note list "
                   "--target 'category:*'`")


COMMANDS.append(taxonomy)


# -- sheet ------------------------------------------------------------------------------------

@click.group(cls=Group)
def sheet() -> None:
    """The spreadsheet round trip: export a workbook, edit it, import the edits.

    \b
    Examples:
      tracework sheet export work.xlsx
      tracework sheet import work.xlsx --actor alice
      tracework sheet export --csv annotations annotations.csv
    """


@sheet.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--csv", "csv_table", type=click.Choice(list(sheet_lib.TABLES)),
              help="Write only this table, as a formula-safe CSV.")
@_json
@click.pass_context
def sheet_export(ctx: click.Context, out: Path, csv_table: str | None, as_json: bool) -> None:
    """Write the workbook OUT.xlsx: Annotations (with provenance), Submissions, Workers
    (pseudonyms; survey answers only with publish consent), Taxonomy, Notes, Log. Noted cells
    are filled with their concern colour and carry the note as a comment; grey headers are
    read-only, green ones editable.

    \b
    Examples:
      tracework sheet export work.xlsx
      tracework sheet export --csv submissions submissions.csv
    """
    project = project_of(ctx)
    if csv_table:
        rows = sheet_lib.sheet_export_csv(project, csv_table, out)
        click.echo(f"wrote {rows} {csv_table} rows to {out}")
        return
    r = sheet_lib.sheet_export(project, out)
    if as_json:
        echo_json(r.as_dict())
        return
    click.echo(f"wrote {out}")
    for title, sheets in r.split.items():
        click.echo(f"the {title} table ({r.rows[title]:,} rows) was split over {len(sheets)} "
                   f"sheets, each with its header: {', '.join(sheets)} (a worksheet holds at "
                   f"most {r.max_rows:,} rows)")
    table([*((k, v) for k, v in r.rows.items()), ("noted cells", r.noted_cells),
            ("ledger head", r.ledger_head)])


@sheet.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--actor", "who", help="Who made the edits (recorded in the log).")
@_json
@click.pass_context
def sheet_import(ctx: click.Context, file: Path, who: str | None, as_json: bool) -> None:
    """Take in the edits of FILE.xlsx (from `sheet export`): each changed editable cell and each
    new row of the Notes sheet is one ledger entry; edits elsewhere are refused with the cell
    named, and nothing is recorded.

    \b
    Example:
      tracework sheet import work.xlsx --actor alice
    """
    r = sheet_lib.sheet_import(project_of(ctx), file, actor=who)
    if as_json:
        echo_json(r.as_dict())
        return
    for c in r.changes:
        click.echo(f"  {c['cell']}  {c['target']} {c['field']}: {c['old']!r} → {c['new']!r}")
    if r.notes_added:
        click.echo(f"  new notes: {', '.join(map(str, r.notes_added))}")
    if r.stale_cells:
        click.echo(f"  {r.stale_cells} read-only cell(s) changed in the store since the export "
                   "were left as the store has them")
    click.echo(f"{r.ledger_entries} ledger entr{'y' if r.ledger_entries == 1 else 'ies'}"
               + ("" if r.ledger_entries else " (nothing changed)"))


COMMANDS.append(sheet)


# -- diff -------------------------------------------------------------------------------------

@click.command("diff")
@click.argument("a")
@click.argument("b")
@click.option("--key", help="Key column (default: the first column of A).")
@click.option("--sheet", "sheet_name", help="For .xlsx files: the sheet or table to compare.")
@click.option("--ledger", "use_ledger", is_flag=True,
              help="A and B are ledger positions (SEQ1 SEQ2): the change between them.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every difference to this CSV (change, key, column, old, new).")
@click.option("--limit", type=int, default=50, show_default=True,
              help="Show at most this many differences (0: all).")
@_json
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, key: str | None, sheet_name: str | None,
         use_ledger: bool, csv_out: Path | None, limit: int, as_json: bool) -> None:
    """Keyed, cell-level diff of two exported tables, or of two points of the ledger.

    \b
    Examples:
      tracework diff old/annotations.csv new/annotations.csv --key id
      tracework diff monday.xlsx friday.xlsx --sheet annotations --csv changes.csv
      tracework diff --ledger 120 480
    """
    if use_ledger:
        if not (a.isdigit() and b.isdigit()):
            raise InputError("with --ledger, A and B are ledger positions (numbers)",
                             field="--ledger")
        result = diff_lib.diff_ledger(project_of(ctx), int(a), int(b))
    else:
        result = diff_lib.diff_files(a, b, key=key, sheet=sheet_name)
    if csv_out is not None:
        from tracework.core.safecsv import write_csv

        write_csv(csv_out, ["change", "key", "column", "old", "new"], result.rows())
    if as_json:
        echo_json(result.as_dict())
        return
    _print_diff(result, limit)


def _print_diff(result: diff_lib.DiffResult, limit: int) -> None:
    click.echo(f"{len(result.added)} row(s) added, {len(result.removed)} removed, "
               f"{len(result.changed)} cell(s) changed (key {result.key})")
    shown = 0
    for change, key, column, old, new in result.rows():
        if limit and shown >= limit:
            total = len(result.added) + len(result.removed) + len(result.changed)
            click.echo(f"… {total - shown} more (use --limit 0 or --csv)")
            break
        if change == "changed":
            click.echo(f"~ {key}  {column}: {_fmt(old)} → {_fmt(new)}")
        else:
            mark = "+" if change.endswith("added") else "-"
            click.echo(f"{mark} {'column ' + column if change.startswith('column') else key}")
        shown += 1


def _fmt(value: Any) -> str:
    return "∅" if value is None else repr(_short(str(value), 40))


COMMANDS.append(diff)
