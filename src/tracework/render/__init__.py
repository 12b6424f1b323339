"""Seeing the labour: overlay frames, an H.264 video, a contact sheet and a self-contained HTML
report, each label shown with the person who made it.

Every command of ``tracework render`` and ``tracework report`` is a function here::

    from tracework.render import render_frames, render_video, render_sheet, report
    render_video(project, "labour.mp4", images_dir="frames/")
    report(project, "report.html")
"""

from __future__ import annotations

from tracework.render.html_report import ReportResult, report, report_html
from tracework.render.pipeline import RenderReport, parse_size, render_frames
from tracework.render.sheet import render_sheet
from tracework.render.video import render_video

__all__ = ["RenderReport", "ReportResult", "parse_size", "render_frames", "render_sheet",
           "render_video", "report", "report_html"]
