"""The overlay video's colours: converted by one matrix and tagged with it, read by ffprobe
and decoded by ffmpeg (which follows the tags) back to the colours drawn."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tracework.render.video import encode_frames, matrix_for

FFPROBE, FFMPEG = shutil.which("ffprobe"), shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFPROBE is None or FFMPEG is None,
                                  reason="ffprobe/ffmpeg not installed (Debian package ffmpeg)")

# Category colours of the demo taxonomy, BGR, as the overlay draws them.
COLOURS = [(180, 119, 31), (40, 39, 214), (189, 103, 148), (14, 127, 255), (44, 160, 44)]


def _stripes(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    frame = np.zeros((h, w, 3), dtype=np.uint8)
    band = w // len(COLOURS)
    for i, colour in enumerate(COLOURS):
        frame[:, i * band:(i + 1) * band] = colour
    return frame


def _probe(path: Path) -> dict[str, str]:
    run = subprocess.run([str(FFPROBE), "-v", "error", "-print_format", "json",
                          "-show_streams", "-show_format", str(path)],
                         capture_output=True, text=True, timeout=60, check=True)
    doc = json.loads(run.stdout)
    (stream,) = doc["streams"]
    return {**stream, "format_name": doc["format"]["format_name"]}


def _decoded_first_frame(path: Path, size: tuple[int, int]) -> np.ndarray:
    run = subprocess.run([str(FFMPEG), "-v", "error", "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         capture_output=True, timeout=60, check=True)
    w, h = size
    return np.frombuffer(run.stdout, dtype=np.uint8).reshape(h, w, 3)


@needs_ffmpeg
@pytest.mark.parametrize(("size", "matrix", "space"), [
    ((1280, 720), "bt709", "bt709"),
    ((1920, 1080), "bt709", "bt709"),
    ((640, 360), "bt601", "smpte170m"),
])
def test_video_signals_the_colours_it_holds(tmp_path: Path, size: tuple[int, int], matrix: str,
                                            space: str) -> None:
    assert matrix_for(size) == matrix
    out = tmp_path / "v.mp4"
    assert encode_frames([_stripes(size)] * 3, out, size, 10.0) == 3
    stream = _probe(out)
    assert (stream["codec_name"], stream["pix_fmt"]) == ("h264", "yuv420p")
    assert (stream["width"], stream["height"]) == size
    assert stream["color_space"] == space
    assert stream["color_primaries"] == "bt709"
    assert stream["color_transfer"] == "bt709"
    assert stream["color_range"] == "tv"
    assert "mp4" in stream["format_name"]
    head = out.read_bytes()
    assert 0 < head.find(b"moov") < head.find(b"mdat")       # +faststart
    # A decoder that follows the tags gets the category colours back (H.264 is lossy: a few
    # levels); the wrong matrix would shift some by more than ten.
    decoded = _decoded_first_frame(out, size).astype(int)
    band = size[0] // len(COLOURS)
    for i, colour in enumerate(COLOURS):
        middle = decoded[size[1] // 4: 3 * size[1] // 4, i * band + 8:(i + 1) * band - 8]
        assert np.abs(middle - np.array(colour)).max() <= 4, (i, middle.mean(axis=(0, 1)))
