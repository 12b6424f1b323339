"""Overlay frames, the video, the contact sheet: what is drawn, where, in which colour, and who
is named."""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select

import tracework
from builders import small_files, truth
from tracework.cli import cli
from tracework.core.errors import ConfigError, InputError
from tracework.core.ledger import LedgerWriter
from tracework.core.privacy import set_consent
from tracework.core.project import Project
from tracework.core.store.schema import workers
from tracework.render import render_frames, render_sheet, render_video
from tracework.render.cards import (
    chapter_blocks,
    chapter_card,
    credit_cards,
    title_blocks,
    title_card,
    value_chain_lines,
)
from tracework.render.fonts import ASSET_FONTS, font_stack
from tracework.render.frames import FrameRenderer, FrameStyle, describe_time, panel_blocks
from tracework.render.overlay import (
    Palette,
    Shape,
    bgr,
    draw_boxes,
    draw_labels,
    draw_tags,
    place_tags,
)
from tracework.render.records import credits, load_image, select_contributions
from tracework.render.text import _visual_order

# The generated survey has workers who typed their city in Chinese; a frame that shows them
# needs a CJK face, which tracework takes from the system rather than shipping 20 MB of it.
needs_cjk = pytest.mark.skipif(
    font_stack("regular").face_for("北") is None or font_stack("bold").face_for("北") is None,
    reason="no CJK font installed (Debian: apt-get install fonts-noto-cjk)")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("demo"))


def _load(project: Project, files: Any) -> Project:
    tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    return project


@pytest.fixture
def loaded(sqlite_project: Project, files: Any) -> Project:
    return _load(sqlite_project, files)


def test_contributions_never_name_and_show_only_published(project: Project,
                                                          files: Any) -> None:
    _load(project, files)
    chosen = select_contributions(project).dataset.workers[0]     # someone who labelled
    with project.store.write() as conn:
        log = LedgerWriter(conn, "tester")
        set_consent(conn, log, chosen, ["credit"], credit_name="Amal  ")
        log.flush()
    selection = select_contributions(project)
    t = truth(files)
    assert len(selection.contributions) == t["counts"]["submissions"]
    assert len(selection.by_asset) == t["counts"]["frames"]
    with project.store.read() as conn:
        publish = {r.pseudonym for r in conn.execute(
            select(workers.c.pseudonym).where(workers.c.consent_publish.is_(True)))}
    times = {s["assignment_id"]: s["work_time_s"] for s in t["submissions"]}
    for c in selection.contributions:
        # A chosen name is for the closing credits only, never beside the work.
        blocks = [b.text for b in panel_blocks(c, FrameStyle())]
        assert blocks[:2] == [c.worker, "pseudonym"]
        assert not any("Amal" in text for text in blocks)
        assert c.published == (c.worker in publish)
        assert bool(c.survey) == (c.worker in publish)
        assignment = c.annotations[0].attributes["assignment_id"]
        assert c.time_s == times[assignment]
    found = credits(project, selection.dataset.workers)
    assert found.names == ("Amal",)
    assert found.unnamed == len(selection.dataset.workers) - 1


def _renderer(project: Project, size: tuple[int, int], **style: Any) -> FrameRenderer:
    return FrameRenderer.for_project(project, FrameStyle(size=size, **style))


def _body_patch(renderer: FrameRenderer, c: Any, image: np.ndarray) -> tuple[int, int]:
    """A frame pixel deep inside the Body mask of ``c``: the mask eroded, mapped through the
    letterbox the renderer uses."""
    from tracework.formats.masks import rle_to_mask

    canvas = np.zeros((renderer.style.size[1], renderer.style.size[0], 3), np.uint8)
    image_box, _panel = renderer._split(canvas, image, (0, 0, *renderer.style.size))
    x, y, w, h = image_box
    scale = min(w / image.shape[1], h / image.shape[0])
    left = x + (w - round(image.shape[1] * scale)) // 2
    top = y + (h - round(image.shape[0] * scale)) // 2
    others = np.zeros(image.shape[:2], np.uint8)
    body = None
    for a in c.annotations:
        m = rle_to_mask(a.rle)
        if a.category == "Body":
            body = m
        else:
            others |= m
    assert body is not None
    inner = cv2.erode(body & (1 - others), np.ones((7, 7), np.uint8))
    ys, xs = np.nonzero(inner)
    k = len(ys) // 2
    return left + int((xs[k] + 0.5) * scale), top + int((ys[k] + 0.5) * scale)


def test_mask_pixel_blends_category_colour(loaded: Project, files: Any) -> None:
    c = select_contributions(loaded).by_asset[0][1][0]
    image = load_image(files.images_dir, c.asset)
    size = (1280, 720)
    drawn = _renderer(loaded, size).frame(image, [c])
    plain = _renderer(loaded, size).frame(image, [dataclasses.replace(c, annotations=())])
    px, py = _body_patch(_renderer(loaded, size), c, image)
    blue = np.array(bgr("#1f77b4"), float)
    expect = 0.55 * plain[py, px].astype(float) + 0.45 * blue
    assert np.abs(drawn[py, px].astype(float) - expect).max() <= 1.0


CHAIN = {"requester": "Dana Okafor", "affiliation": "Lagos Vision Lab",
         "end_client": "Acme Robotics", "intermediaries": ["Crowd Broker Ltd"],
         "purpose": "Teach a robot arm to pick up computer mice",
         "intended_uses": ["grasp planning"], "guideline_version": "3"}


def _ink(frame: np.ndarray, background: tuple[int, int, int], threshold: int = 90
         ) -> np.ndarray:
    return np.abs(frame.astype(int) - np.array(background)).sum(axis=2) > threshold


def _same_text(decoded: np.ndarray, expected: np.ndarray, background: tuple[int, int, int]
               ) -> float:
    """Intersection over union of the text pixels of a decoded card and the card drawn."""
    a, b = _ink(decoded, background), _ink(expected, background)
    return float((a & b).sum() / max(1, (a | b).sum()))


@needs_cjk
def test_video_decodes_with_frame_count_size_and_mask_colour(
        loaded: Project, files: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(loaded.config, "value_chain", CHAIN)
    monkeypatch.setitem(loaded.config, "pay", {"currency": "USD", "wage_floor_per_hour": 7.25,
                                               "floor_source": "US federal minimum"})
    credited = select_contributions(loaded).dataset.workers[0]
    with loaded.store.write() as conn:
        log = LedgerWriter(conn, "tester")
        set_consent(conn, log, credited, ["credit"], credit_name="Amal Haddad")
        log.flush()
    out = tmp_path / "labour.mp4"
    size, fps = (1280, 720), 10
    report = render_video(loaded, out, images_dir=files.images_dir, size=size, fps=fps,
                          seconds_per_frame=0.5, title_seconds=1.0, credits_seconds=1.0,
                          chapter_seconds=0.3, workers=2)
    selection = select_contributions(loaded)
    n = len(selection.contributions)
    images = len(selection.by_asset)
    assert report.frames == n and report.chapters == images
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == size
        assert stream.average_rate == fps
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    # Players and browsers start without reading the whole file: the index comes first.
    head = out.read_bytes()
    assert 0 < head.find(b"moov") < head.find(b"mdat")
    # title 1 s + a chapter card of 0.3 s per image + n frames × 0.5 s + one credits card
    # for 1 s, at 10 frames per second
    assert len(decoded) == 10 + images * 3 + n * 5 + 10
    assert report.seconds == len(decoded) / fps

    # The title card discloses the value chain and is what opens the video, held 1 s.
    renderer = _renderer(loaded, size)
    style = renderer.style
    summary = (f"{len(selection.by_asset)} images labelled in {n} submissions by "
               f"{len(selection.dataset.workers)} people")
    texts = [b.text for b in title_blocks(loaded, style, summary)]
    for wanted in ("Dana Okafor (Lagos Vision Lab)", "Acme Robotics", "Crowd Broker Ltd",
                   "Teach a robot arm to pick up computer mice", "grasp planning",
                   "7.25 USD per hour (US federal minimum)"):
        assert wanted in texts
    title = title_card(loaded, renderer.painter, style, summary)
    assert _ink(title, style.background).sum() > 5_000
    for k in (0, 9):
        assert _same_text(decoded[k], title, style.background) > 0.8
    # The closing credits name the one person who chose to be, count the rest, and close it.
    cards = credit_cards(credits(loaded, selection.dataset.workers), renderer.painter, style,
                         selection.dataset.ledger_head)
    assert len(cards) == 1
    assert _same_text(decoded[-1], cards[0], style.background) > 0.8
    assert _same_text(decoded[-1], title, style.background) < 0.3
    anonymous = credit_cards(dataclasses.replace(credits(loaded, selection.dataset.workers),
                                                 names=()), renderer.painter, style,
                             selection.dataset.ledger_head)[0]
    assert _same_text(decoded[-1], anonymous, style.background) < 0.5
    # Each image's frames open with its chapter card, held 0.3 s.
    first, group = selection.by_asset[0]
    chapter = chapter_card(renderer.painter, style, first.file_name, 1, images, len(group))
    assert f"Image 1 of {images}" in [b.text for b in chapter_blocks(
        style, first.file_name, 1, images, len(group))]
    for k in (10, 12):
        assert _same_text(decoded[k], chapter, style.background) > 0.8
    assert _same_text(decoded[10], title, style.background) < 0.3
    second = 10 + 3 + len(group) * 5
    chapter2 = chapter_card(renderer.painter, style, selection.by_asset[1][0].file_name, 2,
                            images, len(selection.by_asset[1][1]))
    assert (_same_text(decoded[second], chapter2, style.background)
            > max(0.8, _same_text(decoded[second], chapter, style.background)))
    c = group[0]
    image = load_image(files.images_dir, c.asset)
    expected = renderer.frame(image, [c])
    plain = renderer.frame(image, [dataclasses.replace(c, annotations=())])
    px, py = _body_patch(renderer, c, image)
    got = decoded[10 + 3 + 2][py - 1:py + 2, px - 1:px + 2].reshape(-1, 3).mean(axis=0)
    want = expected[py - 1:py + 2, px - 1:px + 2].reshape(-1, 3).mean(axis=0)
    bare = plain[py - 1:py + 2, px - 1:px + 2].reshape(-1, 3).mean(axis=0)
    assert np.abs(got - want).max() <= 12
    # The blue of Body is in it: nearer the blended colour than the bare image, bluer.
    assert np.abs(got - want).sum() < np.abs(got - bare).sum()
    assert got[0] - got[2] > bare[0] - bare[2] + 20


def _answers_contribution(loaded: Project, answers: list[tuple[str, str]]) -> Any:
    c = select_contributions(loaded).by_asset[0][1][0]
    return dataclasses.replace(c, published=True, survey=tuple(answers))


def _has_cjk_font(renderer: FrameRenderer) -> bool:
    return renderer.painter.stacks["regular"].face_for("北") is not None


def test_arabic_and_chinese_answers_render_as_glyphs_not_boxes(loaded: Project,
                                                               files: Any) -> None:
    renderer = _renderer(loaded, (1280, 720))
    if not _has_cjk_font(renderer):
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    image = load_image(files.images_dir, select_contributions(loaded).by_asset[0][0])

    def panel(arabic: str, chinese: str, missing: str = "error") -> np.ndarray:
        r = FrameRenderer(renderer.palette, renderer.painter, renderer.style)
        if missing == "box":
            r = FrameRenderer.for_project(loaded, renderer.style, missing="box")
        c = _answers_contribution(loaded, [("City", arabic), ("City in Chinese", chinese)])
        return r.frame(image, [c])

    real = panel("القاهرة", "北京上海")
    swapped = panel("الرياضي", "上海北京")          # same lengths, other glyphs
    tofu = panel("\ue000" * 7, "\ue001" * 4, missing="box")
    tofu_other = panel("\ue002" * 7, "\ue003" * 4, missing="box")
    def ink(frame: np.ndarray) -> np.ndarray:
        return np.abs(frame.astype(int) - np.array(renderer.style.panel)).sum(axis=2) > 60

    # Missing glyphs all draw the same box: two tofu strings of equal length are identical.
    assert (ink(tofu) != ink(tofu_other)).sum() == 0
    # Real glyphs differ from the boxes and from each other.
    assert (ink(real) != ink(tofu)).sum() > 300
    assert (ink(real) != ink(swapped)).sum() > 300
    faces = {f.name for f, _ in renderer.painter.stacks["regular"].runs("القاهرة 北京")}
    assert any("Arabic" in f for f in faces) and any("CJK" in f for f in faces)


def test_missing_glyph_is_a_clear_error(loaded: Project, files: Any) -> None:
    renderer = _renderer(loaded, (640, 360))
    c = _answers_contribution(loaded, [("City", "x\ue123y")])
    with pytest.raises(ConfigError) as err:
        renderer.check_text(c)
    assert "U+E123" in err.value.message and "fonts-noto" in (err.value.hint or "")


def test_long_text_wraps_at_words_never_cut(loaded: Project) -> None:
    painter = _renderer(loaded, (640, 360)).painter
    text = ("How much did your work set cost? A second-hand laptop, a mouse and a chair "
            "Supercalifragilisticexpialidociously-long-word-without-any-break-inside-it")
    para = painter.layout(text, 200, 18)
    # Nothing is lost: the lines hold every character of the text, in order.
    assert "".join(line.text.replace(" ", "") for line in para.lines) == text.replace(" ", "")
    for line in para.lines:
        assert painter.width(line.text, 18) <= 200 + 1
    # Ordinary words are never split: each line starts and ends on word boundaries.
    ordinary = text.split()[:-1]
    joined = [w for line in para.lines for w in line.text.split()]
    assert joined[:len(ordinary)] == ordinary


def test_mixed_direction_line_visual_order(loaded: Project) -> None:
    painter = _renderer(loaded, (640, 360)).painter
    para = painter.layout("City: القاهرة مصر today", 2000, 18)
    order = [t.text for _, t in _visual_order(para.lines[0], para.direction) if t is not None]
    assert para.direction == "ltr"
    assert order == ["City:", "مصر", "القاهرة", "today"]
    rtl = painter.layout("مدينة Cairo Egypt كبيرة", 2000, 18)
    order = [t.text for _, t in _visual_order(rtl.lines[0], rtl.direction) if t is not None]
    assert rtl.direction == "rtl"
    assert order == ["كبيرة", "Cairo", "Egypt", "مدينة"]


def test_panel_blocks_say_pay_time_status_and_reason(loaded: Project) -> None:
    c = dataclasses.replace(select_contributions(loaded).contributions[0], status="rejected",
                            reason="Cable missing", reward_cents=15, bonus_cents=5,
                            time_s=272.0, time_kind="wall_clock_accept_to_submit")
    texts = [b.text for b in panel_blocks(c, FrameStyle())]
    assert "Rejected" in texts and "Cable missing" in texts
    assert "Not paid: rejected (reward 0.15 USD) + bonus 0.05 USD" in texts
    assert "4 min 32 s (wall clock, accept to submit)" in texts
    assert describe_time(3725, "active") == "1 h 2 min (active time in the tool)"


@needs_cjk
def test_frames_cli_writes_one_png_per_worker_and_grid(loaded: Project, files: Any,
                                                       tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["-p", str(loaded.root), "render", "frames", str(tmp_path / "f"), "--images",
            str(files.images_dir), "--size", "1280x720"]
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    pngs = sorted((tmp_path / "f").glob("*.png"))
    selection = select_contributions(loaded)
    assert len(pngs) == len(selection.contributions)
    first = selection.by_asset[0][1][0]
    assert pngs[0].name == f"00001_{Path(first.asset.file_name).stem}__{first.worker}.png"
    assert cv2.imread(str(pngs[0])).shape == (720, 1280, 3)
    told: list[tuple[int, int]] = []
    grid = render_frames(loaded, tmp_path / "g", images_dir=files.images_dir, layout="grid",
                         size=(1920, 1080), progress=lambda done, total: told.append((done, total)))
    assert grid.frames == len(selection.by_asset)
    assert told == [(i, grid.frames) for i in range(1, grid.frames + 1)]


@needs_cjk
def test_changed_image_is_refused(loaded: Project, files: Any, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for p in files.images_dir.iterdir():
        (images / p.name).write_bytes(p.read_bytes())
    first = sorted(images.iterdir())[0]
    first.write_bytes(first.read_bytes() + b"\0")
    with pytest.raises(InputError) as err:
        render_frames(loaded, tmp_path / "f", images_dir=images, size=(640, 360))
    assert "differs from the image recorded at ingest" in str(err.value)


def test_sheet_has_a_row_per_image_and_a_column_per_worker(loaded: Project, files: Any,
                                                           tmp_path: Path) -> None:
    report = render_sheet(loaded, tmp_path / "sheet.png", images_dir=files.images_dir,
                          thumb_width=120)
    selection = select_contributions(loaded)
    per_asset = max(len(g) for _, g in selection.by_asset)
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    assert sheet.shape[:2] == (report.size[1], report.size[0])
    assert report.size[0] == 2 * 16 + (1 + per_asset) * 120 + per_asset * 8


def test_title_and_credit_cards(loaded: Project) -> None:
    lines = dict(value_chain_lines(loaded))
    assert lines["Intermediaries"] == "none declared"
    assert lines["Wage floor"] == "no wage floor set"
    renderer = _renderer(loaded, (640, 360))
    many = credits(loaded, [])
    many = dataclasses.replace(many, names=tuple(f"Person {i}" for i in range(30)),
                               contributors=40)
    cards = credit_cards(many, renderer.painter, renderer.style, "0" * 64)
    assert len(cards) == 3                    # 12 names a card, never cut
    assert all(card.shape == (360, 640, 3) for card in cards)


def test_video_refuses_odd_size_and_wrong_suffix(loaded: Project, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(InputError):
        render_video(loaded, out / "v.avi")
    with pytest.raises(InputError) as err:
        render_video(loaded, out / "v.mp4", size=(641, 360))
    assert "even" in str(err.value)
    assert not out.exists()


@needs_cjk
def test_a_failed_video_leaves_no_file(loaded: Project, files: Any, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    kept = sorted(files.images_dir.iterdir())
    for p in kept[:-1]:                        # the last image is missing
        (images / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        render_video(loaded, out / "v.mp4", images_dir=images, size=(1280, 720), fps=5,
                     seconds_per_frame=0.2, title_seconds=0.2, credits_seconds=0.2)
    assert kept[-1].name in str(err.value)
    assert list(out.iterdir()) == []           # neither the video nor its temporary file


@needs_cjk
def test_frames_without_images_draw_on_a_plain_canvas(loaded: Project, tmp_path: Path) -> None:
    report = render_frames(loaded, tmp_path / "f", layout="grid", size=(1920, 1080))
    frame = cv2.imread(str(tmp_path / "f" / report.files[0]))
    assert frame.shape == (1080, 1920, 3)
    # The canvas grey (72) shows where no label is.
    assert (frame == 72).all(axis=2).sum() > 10_000


def test_masks_outlines_boxes_and_part_names_are_drawn(loaded: Project) -> None:
    painter = _renderer(loaded, (640, 360)).painter
    palette = Palette.of([("Body", "#1f77b4"), ("Scroll_Wheel", "#ff7f0e")])
    grey = np.full((200, 300, 3), 100, np.uint8)
    image = grey.copy()
    labels = np.zeros((200, 300), np.uint8)
    labels[60:140, 50:150] = 1                       # Body
    labels[80:100, 90:110] = 2                       # Scroll wheel inside it
    draw_labels(image, labels, palette, opacity=0.45)
    body, wheel = np.array(bgr("#1f77b4")), np.array(bgr("#ff7f0e"))
    # Inside: the colour blended over the image; the edge in the full colour; outside untouched.
    assert np.abs(image[120, 70].astype(float) - (0.55 * 100 + 0.45 * body)).max() <= 1
    assert (image[60, 100] == body).all() and (image[139, 100] == body).all()
    assert (image[80, 100] == wheel).all()
    assert (image[20, 20] == 100).all() and (image[150, 200] == 100).all()
    # A box in its colour; its part name on a tag of that colour, in a readable ink.
    boxed = grey.copy()
    draw_boxes(boxed, [((50, 60, 100, 80), bgr("#1f77b4"))], thickness=2)
    assert (boxed[140, 100] == body).all() and (boxed[100, 50] == body).all()
    assert (boxed[100, 100] == 100).all()
    draw_tags(boxed, [(50, 60, "Body", bgr("#1f77b4"))], painter, size=16)
    tag = boxed[36:60, 50:90]
    assert (tag == body).all(axis=2).mean() > 0.5                # filled above the box
    assert (tag.astype(int).sum(axis=2) > 600).sum() > 20        # white letters on the blue


def test_grid_shows_every_worker_of_an_image_in_its_own_cell(loaded: Project,
                                                             files: Any) -> None:
    asset, group = next((a, g) for a, g in select_contributions(loaded).by_asset
                        if len(g) == 3)
    image = load_image(files.images_dir, asset)
    renderer = _renderer(loaded, (1920, 1080))
    a, b, c = group
    grid = renderer.frame(image, [a, b, c], "grid")
    rotated = renderer.frame(image, [b, c, a], "grid")
    # Three cells of 640 pixels: each shows its own worker, wherever it stands.
    assert (grid[:, 0:640] == rotated[:, 1280:1920]).all()
    assert (grid[:, 640:1280] == rotated[:, 0:640]).all()
    assert (grid[:, 0:640] != grid[:, 640:1280]).any(axis=2).sum() > 1_000
    blue = np.array(bgr("#1f77b4"))
    for k in range(3):
        cell = grid[:, 640 * k:640 * (k + 1)].astype(int)
        assert (np.abs(cell - blue).sum(axis=2) < 20).sum() > 50    # Body's outline
    # One frame per worker otherwise, each the full size.
    single = renderer.frame(image, [a, b, c], "per-worker")
    assert single.shape == (1080, 1920, 3)
    assert (single == renderer.frame(image, [a])).all()


def test_bundled_fonts_cover_latin_cyrillic_arabic_devanagari(loaded: Project) -> None:
    samples = {"Latin": "Ł", "Cyrillic": "Ж", "Arabic": "ق", "Devanagari": "क"}
    for weight in ("regular", "bold"):
        stack = font_stack(weight)  # type: ignore[arg-type]
        for script, ch in samples.items():
            face = stack.face_for(ch)
            assert face is not None, (weight, script)
            if not os.environ.get("TRACEWORK_FONT_DIRS"):
                assert face.path.parent == ASSET_FONTS, (weight, script, face.path)
    painter = _renderer(loaded, (640, 360)).painter
    for text in ("Москва, Россия", "नई दिल्ली", "القاهرة"):
        mask = painter.paragraph_mask(painter.layout(text, 400, 20), 400)
        assert (mask > 128).sum() > 100, text


def test_a_long_answer_shrinks_and_wraps_the_panel_never_cuts(loaded: Project,
                                                              files: Any) -> None:
    answer = " ".join(f"word{i:03d}" for i in range(160))
    c = _answers_contribution(loaded, [("What did your work set cost?", answer)])
    renderer = _renderer(loaded, (1280, 720))
    image = load_image(files.images_dir, c.asset)
    canvas = np.zeros((720, 1280, 3), np.uint8)
    _image_box, panel = renderer._split(canvas, image, (0, 0, 1280, 720))
    plain = _answers_contribution(loaded, [("What did your work set cost?", "a mouse")])
    base = renderer.style.text_size * renderer.style.scale(1280)
    assert renderer.text_size_for(plain, panel) == base
    size = renderer.text_size_for(c, panel)
    assert size < base
    pad = renderer._padding()
    placed = renderer._measure(panel_blocks(c, renderer.style), size, panel[2] - 2 * pad)
    block, para, top = next(p for p in placed if p[0].text == answer)
    assert [w for line in para.lines for w in line.text.split()] == answer.split()
    for line in para.lines:
        assert renderer.painter.width(line.text, para.size) <= panel[2] - 2 * pad + 1
    last = placed[-1]
    assert last[2] + last[1].height <= panel[3] - 2 * pad
    # What cannot fit even at the smallest size is refused, not cut.
    huge = _answers_contribution(loaded, [("Q", " ".join(["word"] * 6000))])
    with pytest.raises(InputError) as err:
        renderer.text_size_for(huge, panel)
    assert "does not fit" in str(err.value)


def test_a_reused_buffer_is_painted_over_everywhere(loaded: Project, files: Any) -> None:
    asset, group = next((a, g) for a, g in select_contributions(loaded).by_asset
                        if len(g) == 3)
    image = load_image(files.images_dir, asset)
    for size in ((1920, 1080), (1280, 1440)):         # panel beside, and panel below
        renderer = _renderer(loaded, size)
        for layout, shown in (("per-worker", group[:1]), ("grid", group)):
            frames = [renderer.frame(image, shown, layout,  # type: ignore[arg-type]
                                     out=np.full((size[1], size[0], 3), v, np.uint8))
                      for v in (0, 255)]
            assert (frames[0] == frames[1]).all(), (size, layout)
    # The fitted copy of an image is reused only for that very image.
    other = image.copy()
    other[:] = 0
    renderer = _renderer(loaded, (1280, 720))
    first = renderer.frame(image, group[:1])
    assert (renderer.frame(other, group[:1]) != first).any()
    assert (renderer.frame(image, group[:1]) == first).all()


@pytest.mark.parametrize("text,units", [
    ("🇩🇪🇫🇷", ["🇩🇪", "🇫🇷"]),                              # two flags, not four letters
    ("👍🏽ok", ["👍🏽", "o", "k"]),                              # a skin tone stays on its hand
    ("👨\u200d👩\u200d👧", ["👨\u200d👩\u200d👧"]),                 # a ZWJ family is one
    ("e\u0301te\u0301", ["e\u0301", "t", "e\u0301"]),         # letters keep their marks
    ("क्षि", ["क्षि"]),                                       # a Devanagari conjunct
])
def test_long_words_split_only_between_graphemes(text: str, units: list[str]) -> None:
    from tracework.render.text import graphemes

    assert graphemes(text) == units


def _intersect(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _crowded(c: Any, image: np.ndarray) -> Any:
    """``c`` with ten parts whose boxes start within a few pixels of each other (the mouse's
    buttons and wheel, twice over), drawn as boxes."""
    h, w = image.shape[:2]
    names = ["Right_Button", "Scroll_Wheel", "Left_Button", "Body", "Cable"] * 2
    shapes = tuple(Shape(name, ((0.40 + 0.006 * k) * w, (0.30 + 0.004 * (k % 3)) * h,
                                0.12 * w, 0.1 * h))
                   for k, name in enumerate(names))
    return dataclasses.replace(c, shapes=shapes, annotations=())


@pytest.mark.parametrize("layout", ["per-worker", "grid"])
def test_part_names_on_a_crowded_image_never_overlap(loaded: Project, files: Any,
                                                     layout: str) -> None:
    renderer = _renderer(loaded, (1280, 720) if layout == "per-worker" else (2560, 1080))
    asset, group = next((a, g) for a, g in select_contributions(loaded).by_asset
                        if len(g) >= 2)
    image = load_image(files.images_dir, asset)
    shown = [_crowded(c, image) for c in (group[:2] if layout == "grid" else group[:1])]
    frame = renderer.frame(image, shown, layout)  # type: ignore[arg-type]
    cells = renderer.tag_layout(image, shown, layout)  # type: ignore[arg-type]
    assert len(cells) == len(shown)
    for tags in cells:
        assert sorted(t.text for t in tags) == sorted(
            s.category.replace("_", " ") for s in shown[0].shapes)
        for a, b in itertools.combinations(tags, 2):
            assert not _intersect(a.box, b.box), (a.text, a.box, b.text, b.box)
        for t in tags:
            x, y, tw, th = t.box
            assert 0 <= x and x + tw <= frame.shape[1] and 0 <= y and y + th <= frame.shape[0]
            # Drawn where the layout says: the tag is filled with its part's colour.
            patch = frame[y:y + th, x:x + tw]
            assert (patch == np.array(t.colour)).all(axis=2).mean() > 0.4, t.text
        # Names pushed away from their box are joined to its corner by a leader line.
        led = [t for t in tags if t.led]
        assert led
        # (where no other tag is drawn over the corner)
        seen = [t for t in led if not any(_intersect((t.anchor[0] - 2, t.anchor[1] - 2, 5, 5),
                                                     o.box) for o in tags)]
        assert seen
        for t in seen:
            ax, ay = t.anchor
            dot = frame[ay - 1:ay + 2, ax - 1:ax + 2].reshape(-1, 3).astype(int)
            assert (np.abs(dot - np.array(t.colour)).sum(axis=1) < 40).any(), t.text


def test_place_tags_keeps_the_preferred_place_when_free(loaded: Project) -> None:
    painter = _renderer(loaded, (640, 360)).painter
    tags = place_tags([(50, 60, "Body", bgr("#1f77b4")), (50, 10, "Cable", bgr("#2ca02c")),
                       (52, 66, "Scroll Wheel", bgr("#ff7f0e"))], painter, size=16,
                      image_size=(300, 200))
    body, cable, wheel = tags
    assert body.box[:2] == (50, 60 - body.box[3]) and not body.led      # above its box
    assert cable.box[:2] == (50, 10) and not cable.led                   # inside: no room above
    # Above the wheel's corner is Body's tag: the wheel's name goes inside its box.
    assert wheel.box[:2] == (52, 66) and not wheel.led
    assert not _intersect(wheel.box, body.box) and not _intersect(wheel.box, cable.box)
