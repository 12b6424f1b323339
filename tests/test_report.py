"""The static HTML report: its figures come from the rooms that own them, every worker-supplied
text is escaped, and in a real headless Chromium it loads with no console error, no network
request and no script, and a hostile payload in every free-text field stays text.

Browser tests skip, saying why, when Chromium or the playwright package is missing; Playwright
never downloads a browser here. The screenshot goes to $TRACEWORK_ARTIFACTS (or a temporary
folder); its path is printed."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import tracework
from builders import small_files
from tracework import review
from tracework.audit.labour import labour_audit
from tracework.cli import cli
from tracework.core.project import Category, Project, open_project
from tracework.core.store.schema import submissions
from tracework.fieldnotes import notes
from tracework.render import report, report_html

CHROMIUM = os.environ.get("TRACEWORK_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAYLOAD = "\"'><img src=x onerror=alert(1)><script>alert(2)</script></bdi><svg onload=alert(3)>"
SMALL_GROUPS = ("Smallville", "Hamlet")
MOUSE = [Category("Body", "#1f77b4"), Category("Left_Button", "#d62728"),
         Category("Right_Button", "#9467bd"), Category("Scroll_Wheel", "#ff7f0e"),
         Category("Cable", "#2ca02c")]


def _hostile_survey(src: Path, dest: Path, batch: Path) -> Path:
    """The survey with the payload in the free-text answers (city, cost, "other" health
    issue) and credit names."""
    with src.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    with batch.open(newline="", encoding="utf-8-sig") as fh:
        labelled = {r["WorkerId"] for r in csv.DictReader(fh)}
    header = rows[0]
    for row in rows[3:]:
        for column in ("Q4", "Q10", "Q12", "Q9_9_TEXT"):
            row[header.index(column)] = f"{PAYLOAD} {column}"
        row[header.index("Q9_9")] = "Other"
    # Two consenting workers each alone in a city: groups of one, which the audit suppresses
    # (two, so that neither can be worked out from the total).
    consenting = [r for r in rows[3:] if r[header.index("Q11")] == "Yes"
                  and r[header.index("workerId")] in labelled]
    for row, city in zip(consenting, SMALL_GROUPS):
        row[header.index("Q4")] = city
    with dest.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return dest


def _build(root: Path, database_url: str | None = None) -> Project:
    files = small_files(root / "files")
    project = tracework.init(root / "proj", name=f"Mouse {PAYLOAD}", categories=MOUSE,
                             actor="tester", credit_name_column="Q12",
                             database_url=database_url, purpose=PAYLOAD)
    toml = project.root / "tracework.toml"
    project.close()
    text = toml.read_text(encoding="utf-8").replace(
        "wage_floor_per_hour = 0.0", "wage_floor_per_hour = 2.5").replace(
        'floor_source = ""', 'floor_source = "the study\'s own floor"')
    # The report groups by two free-text questions, which the project publishes by name.
    toml.write_text(text + "min_cell = 2\n\n[survey]\nsearch_time_question = \"Q5\"\n\n"
                    "[render]\n"
                    "report_groups = [\"Q4\", \"Q10\"]\n\n[export]\n"
                    "publish_free_text = [\"Q4\", \"Q10\"]\n", encoding="utf-8")
    project = open_project(project.root, cli={"database_url": database_url, "actor": "tester"})
    tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(project, _hostile_survey(files.survey_csv, root / "survey.csv",
                                                          files.batch_csv),
                               worker_column="workerId", consent_column="Q11")
    with project.store.read() as conn:
        ids = [r.id for r in conn.execute(select(submissions.c.id).order_by(submissions.c.id))]
    for sid in ids[:4]:
        review.decide(project, sid, "reject", reason=f"{PAYLOAD} reason {sid}")
    review.contest(project, ids[0], f"{PAYLOAD} dispute")
    for sid in ids[4:9]:
        review.decide(project, sid, "approve")
    notes.add(project, f"submission:{ids[0]}", f"{PAYLOAD} note", concern="harmful_content")
    notes.add(project, f"submission:{ids[1]}", "Is the wheel part of the body?",
              concern="taxonomy")
    return project


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    project = _build(tmp_path_factory.mktemp("hostile"))
    try:
        yield project
    finally:
        project.close()


def _escaped(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


def test_every_worker_text_is_escaped_and_the_page_has_no_script(hostile: Project) -> None:
    html = report_html(hostile)
    assert PAYLOAD not in html
    assert "<script" not in html.lower()
    assert not re.search(r"<(img|iframe|object|embed)\b", html, re.I)
    assert not re.search(r"\son(error|load)\s*=", html.replace("onerror=alert", "")
                         .replace("onload=alert", ""), re.I)
    for where in ("Q4", "Q10", "reason 1", "note"):
        assert _escaped(f"{PAYLOAD} {where}") in html, where
    assert _escaped(f"{PAYLOAD} Q12") not in html     # credit names: in the credits only
    assert not re.search(r"\sstyle\s*=", html)          # a strict CSP would block it


def test_csp_allows_exactly_the_page_style(hostile: Project) -> None:
    html = report_html(hostile)
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert policy.startswith("default-src 'none';")
    assert f"style-src 'sha256-{digest}'" in policy
    assert "script-src" not in policy and "unsafe" not in policy


def test_figures_are_the_audits(project: Project, tmp_path: Path) -> None:
    files = small_files(tmp_path / "files")
    tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    with project.store.read() as conn:
        ids = [r.id for r in conn.execute(select(submissions.c.id).order_by(submissions.c.id))]
    review.decide(project, ids[0], "reject", reason="Cable missing")
    for sid in ids[1:6]:
        review.decide(project, sid, "approve")
    html = report_html(project)
    labour = labour_audit(project)
    assert f"{labour.median_hourly_paid:,.2f} USD" in html
    assert f"{labour.median_hourly_all:,.2f} USD" in html
    assert re.search(r"<td><bdi>\(no code\)</bdi></td><td><bdi>Cable missing</bdi></td>"
                     r"<td class=\"num\">1</td>", html)
    assert f"{len(ids)} submissions, by the state" in html
    with project.store.read() as conn:
        from tracework.core import ledger
        _, head = ledger.head(conn)
    assert head in html


def _section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    assert found is not None, name
    return found.group(0)


def test_every_figure_of_the_issue_is_in_the_report(hostile: Project) -> None:
    from tracework.audit.agreement import agreement_audit
    from tracework.audit.groups import group_audit

    html = report_html(hostile)
    labour = labour_audit(hostile)
    # Review outcomes with their reasons, and the open dispute counted.
    review_part = _section(html, "review")
    assert "<svg" in review_part and "approved: 5" in review_part
    assert "rejected: 3" in review_part and "contested: 1" in review_part
    assert review_part.count('<td class="num">1</td>') == 4          # four reasons, one each
    assert "open: 1" in review_part
    # Hourly pay against the floor, paid time only and counting unpaid time: one dot per
    # worker and measure, the floor drawn as a line and stated.
    pay = _section(html, "pay")
    dots = (sum(w.hourly_paid is not None for w in labour.workers)
            + sum(w.hourly_all is not None for w in labour.workers))
    assert dots > 0 and pay.count("<circle") == dots
    assert "floor 2.50 USD/h" in pay and "2.50 USD (the study&#39;s own floor)" in pay
    assert f"median {labour.median_hourly_paid:.2f}".rstrip("0").rstrip(".") in pay
    assert f"{labour.median_hourly_all:,.2f} USD" in pay
    assert f"{100 * labour.share_below_floor:.0f}%" in pay
    # Time on task: a histogram of every timed submission.
    timed = sum(r.seconds is not None for r in labour.rows)
    time_part = _section(html, "time")
    legend = [int(n) for n in re.findall(r"\((\d+)\)</text>", time_part)]
    assert sum(legend) == timed and time_part.count("<rect") > len(legend)
    # Agreement per category: one bar per category, at the audit's value.
    agreement = _section(html, "agreement")
    for a in agreement_audit(hostile).masks:
        assert re.search(rf">{a.category}</text><rect [^>]*/><text [^>]*>"
                         rf"{a.mean_iou:.2f}".rstrip("0").rstrip("."), agreement), a.category
    # Group audits: the group of one is suppressed, not named, and said to be.
    groups = _section(html, "groups")
    audit = group_audit(hostile, "Q4")
    assert set(audit.suppressed) == set(SMALL_GROUPS)
    assert all(city not in html for city in SMALL_GROUPS)
    assert "(2 groups suppressed)" in groups
    assert any(n is not None for n in audit.groups.values())
    assert all(f"({n})</th>" in groups for n in audit.groups.values() if n is not None)
    # Fieldnotes grouped by concern, the taxonomy's history, the change log's head.
    notes_part = _section(html, "notes")
    assert "harmful_content</bdi> (1)" in notes_part and "taxonomy</bdi> (1)" in notes_part
    taxonomy = _section(html, "taxonomy")
    assert re.search(r'<td class="num">1</td><td>init', taxonomy)
    assert all(f"<bdi>{c.name}</bdi>" in taxonomy for c in MOUSE)
    with hostile.store.read() as conn:
        from tracework.core import ledger
        _, head = ledger.head(conn)
    assert f'<p class="hash">{head}</p>' in _section(html, "ledger")
    # Charts are inline SVG, nothing is loaded from anywhere.
    assert html.count("<svg") >= 6
    assert not re.search(r"<[a-zA-Z][^<>]*\s(src|href|xlink:href)\s*=", html)


def test_report_cli(hostile: Project, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["-p", str(hostile.root), "report", str(out), "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    bad = CliRunner().invoke(cli, ["-p", str(hostile.root), "report", str(tmp_path / "r.txt")])
    assert bad.exit_code == 4


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


# What the browser measures of the page: each chart's size and shapes, any chart text that
# runs past its chart's edge, and any credited name broken across columns.
LAYOUT_PROBE = """() => {
  const charts = [...document.querySelectorAll('svg[role=img]')].map(svg => {
    const box = svg.viewBox.baseVal;
    const outside = [...svg.querySelectorAll('text')].filter(t => {
      const b = t.getBBox();
      return b.x < -0.5 || b.x + b.width > box.width + 0.5;
    }).map(t => t.textContent);
    return {section: svg.closest('section').id, width: svg.getBoundingClientRect().width,
            shapes: svg.querySelectorAll('rect, circle').length, outside};
  });
  const split = [...document.querySelectorAll('ul.credits li')]
    .filter(li => li.getClientRects().length > 1).length;
  return {charts, split};
}"""


@pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")
def test_report_in_headless_chromium(hostile: Project, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     record_property: Any) -> None:
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    report(hostile, out)
    artifacts = Path(os.environ.get("TRACEWORK_ARTIFACTS") or tempfile.mkdtemp(
        prefix="tracework-artifacts-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1100, "height": 900})
        try:
            page = context.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(out.as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            shot = artifacts / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            # Into the log even when output is captured, and into the JUnit XML.
            with capsys.disabled():
                print(f"\nreport screenshot (CI artifact): {shot}")
            record_property("report_screenshot", str(shot))
            layout = page.evaluate(LAYOUT_PROBE)
            injected = page.evaluate(
                "() => document.querySelectorAll('script, img, iframe, object, embed, "
                "[onerror], [onload]').length")
            body = page.inner_text("body")
            sections = page.evaluate(
                "() => [...document.querySelectorAll('section[data-available=\"true\"]')]"
                ".map(s => s.id)")
        finally:
            context.close()
    assert console == []
    assert requests == [out.as_uri()]
    assert dialogs == []
    assert injected == 0
    for where in ("Q4", "Q10", "note", "reason 1"):
        assert f"{PAYLOAD} {where}" in body, where
    assert f"{PAYLOAD} Q12" not in body         # credit names: in the credits only
    assert shot.stat().st_size > 50_000
    charts = layout["charts"]
    assert {c["section"] for c in charts} >= {"review", "pay", "time", "agreement", "notes"}
    for chart in charts:
        assert chart["width"] > 100 and chart["shapes"] > 0, chart
        assert chart["outside"] == [], chart
    assert layout["split"] == 0
    assert set(sections) >= {"review", "pay", "time", "agreement", "groups", "notes",
                             "taxonomy", "credits", "ledger"}


def test_group_tables_say_in_words_what_each_figure_is(hostile: Project) -> None:
    from tracework.audit.groups import group_audit
    from tracework.render.html_report import METRIC_TITLES, metric_legend, metric_title

    groups = _section(report_html(hostile), "groups")
    metrics = {c.metric for c in group_audit(hostile, "Q4").cells}
    assert metrics >= {"area_ratio", "presence"}
    for metric in metrics:
        assert f"<td>{metric_title(metric)}</td>" in groups, metric
        assert (f"<dt>{metric_title(metric)}</dt><dd>{metric_legend(metric)}</dd>"
                .replace("'", "&#39;") in groups), metric
    assert "<dt>Mask size</dt>" in groups and "<dt>Part labelled</dt>" in groups
    assert METRIC_TITLES["area_ratio"][1].startswith("the worker's mask area divided by")
    # No internal name is left as a row title.
    for name in ("area_ratio", "presence", "weight", "agreement"):
        assert f"<td>{name}</td>" not in groups


def test_a_table_of_one_group_says_a_comparison_needs_two(hostile: Project) -> None:
    from tracework.audit.groups import group_audit

    groups = _section(report_html(hostile), "groups")
    parts = re.split(r"<h3>By <bdi>", groups)[1:]
    said = {part.split("</bdi>")[0]: part for part in parts}
    assert set(said) == {"Q4", "Q10"}
    counted = {}
    for by, part in said.items():
        shown = [n for n in group_audit(hostile, by).groups.values() if n is not None]
        counted[by] = len(shown)
        one = "A comparison needs at least two groups of 2 or more workers" in part
        assert one == (len(shown) == 1), (by, shown)
        if len(shown) == 1:
            assert "No difference detected" not in part
    assert 1 in counted.values(), counted        # the fixture has a table of one group


def test_search_time_is_the_labour_audits(hostile: Project) -> None:
    labour = labour_audit(hostile)
    assert labour.workers_with_search > 0 and labour.total_search_hours > 0
    pay = _section(report_html(hostile), "pay")
    assert ("<dt>Hours spent searching for work (reported in the survey, unpaid)</dt>"
            f"<dd>{labour.total_search_hours:,.2f}, reported by {labour.workers_with_search} "
            "workers</dd>") in pay
    assert labour.median_hourly_with_search is not None
    assert ("<dt>Median hourly pay, counting unpaid and search time</dt>"
            f"<dd>{labour.median_hourly_with_search:,.2f} USD</dd>") in pay


def _text_boxes(chart: str) -> tuple[tuple[float, float], list[tuple[str, tuple[float, ...]]]]:
    """The chart's viewBox size and each text's box, from its attributes."""
    from tracework.render import svg

    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', chart)
    assert view is not None
    boxes = []
    for m in re.finditer(r'<text x="([\d.-]+)" y="([\d.-]+)" text-anchor="(\w+)" '
                         r'font-size="(\d+)"[^>]*>([^<]*)</text>', chart):
        x, y, anchor, size, text = m.groups()
        boxes.append((text, svg.text_box(float(x), float(y), text, anchor=anchor,
                                         size=int(size))))
    return (float(view.group(1)), float(view.group(2))), boxes


@pytest.mark.parametrize("floor", [12.0, 2.5, 0.4])
def test_the_floor_label_lies_inside_the_dot_chart(floor: float) -> None:
    from tracework.render import svg

    # The floor above every worker's pay: its line near the right edge, where the label used
    # to run past the chart.
    chart = svg.strip([("paid time only", [3.0, 5.5, 11.9], 5.5),
                       ("with unpaid time", [2.0, 4.0, 12.0], 12.0)],
                      title="pay", reference=(floor, f"floor {floor:,.2f} USD/h"))
    (width, height), boxes = _text_boxes(str(chart))
    labels = [t for t, _ in boxes]
    assert f"floor {floor:,.2f} USD/h" in labels and "median 12" in labels
    assert len(boxes) >= 6
    for text, (left, top, right, bottom) in boxes:
        assert 0 <= left and right <= width and 0 <= top and bottom <= height, (text, width)
    # The width estimate is generous (the Chromium test measures the real text), so a box
    # inside the viewBox is a label inside the chart.
    assert svg.text_box(0, 20, "floor 12.00 USD/h", size=11)[2] > 90


def test_the_report_dot_chart_keeps_its_labels_inside(hostile: Project) -> None:
    pay = _section(report_html(hostile), "pay")
    chart = re.search(r"<svg.*?</svg>", pay, re.S)
    assert chart is not None
    (width, height), boxes = _text_boxes(chart.group(0))
    assert any(t.startswith("floor ") for t, _ in boxes)
    for text, (left, top, right, bottom) in boxes:
        assert 0 <= left and right <= width and 0 <= top and bottom <= height, text
