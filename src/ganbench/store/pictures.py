"""Pictures of generated samples as uint8 arrays and PNG files (no matplotlib: these are drawn
at every evaluation point and must cost next to nothing).

* :func:`annotate` and :func:`paths` — the labelled pictures of ``interpolate`` and
  ``arithmetic``: text drawn with Pillow's ImageDraw in strips around the cells (which keep
  their pixels), interpolation paths of 2-D data in a colour per pair with start and end
  markers.

* :func:`image_grid` — images in [-1, 1] ``(N, C, H, W)`` tiled into a grid. Pixel values are
  exactly :func:`to_uint8` of the samples (the mapping torch-fidelity's uint8 path uses:
  ``round((clamp(x, -1, 1) + 1) * 127.5)``); cells are separated by a 1-pixel grey border and
  the whole grid is enlarged by an integer factor (nearest neighbour) so that it is at least
  :data:`MIN_SIDE` pixels wide. The layout is stored in the PNG's ``ganbench`` text chunk.
* :func:`scatter` — 2-D points over a fixed window: samples as blue 2x2-pixel dots, and for a
  mixture dataset each mode's 3σ circle in red on top (the VEEGAN/PacGAN picture: a sample
  inside a circle is "high quality"; a 3-colour palette PNG, cheap to encode). The window is fixed per dataset, so pictures over time
  are comparable. Points outside it are not drawn (their count is in the PNG's text chunk).
"""

from __future__ import annotations

import io
import json
import math
from typing import Any, Optional, Sequence

import numpy as np

MIN_SIDE = 256  # grids are enlarged to at least this many pixels wide
PAD = 1
PAD_VALUE = 96
SCATTER_SIDE = 400
SCATTER_MARGIN = 1.0  # data units around the mode centres
SAMPLE_RGB = (31, 119, 180)
MODE_RGB = (214, 39, 40)
BACKGROUND = 255
GRID_COLUMNS = 8
GRID_ROWS = 8
MAX_PIXELS = 2**26  # of one grid before it is enlarged (64 Mpx: a 8k x 8k picture)


def to_uint8(x) -> np.ndarray:
    """Float images in [-1, 1] (N, C, H, W) -> uint8 numpy (N, C, H, W)."""
    import torch

    u = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u.numpy()


def grid_scale(cols: int, width: int) -> int:
    total = cols * (width + PAD) + PAD
    return max(1, math.ceil(MIN_SIDE / total))


def image_grid(images, rows: int, cols: int, cells: Optional[Sequence[Optional[int]]] = None,
               min_cell: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """``rows x cols`` grid of ``images``: cell i (row-major) holds ``images[cells[i]]`` (default
    ``images[i]``; None or a missing index leaves the cell empty). Returns ``(H, W)`` (grey)
    or ``(H, W, 3)`` uint8 and the layout."""
    n, c, h, w = images.shape
    size = (rows * (h + PAD) + PAD) * (cols * (w + PAD) + PAD)
    if size > MAX_PIXELS:
        from ganbench.api.errors import UsageError

        raise UsageError(f"a picture of {rows} x {cols} images of {h} x {w} pixels would have "
                         f"{size} pixels; at most {MAX_PIXELS}: ask for fewer samples")
    u = to_uint8(images)
    if cells is None:
        cells = list(range(min(n, rows * cols)))
    ch = 1 if c == 1 else 3
    canvas = np.full((rows * (h + PAD) + PAD, cols * (w + PAD) + PAD, ch), PAD_VALUE, np.uint8)
    for i, k in enumerate(cells[:rows * cols]):
        if k is None or k >= n:
            continue
        r, col = divmod(i, cols)
        y, x = r * (h + PAD) + PAD, col * (w + PAD) + PAD
        cell = u[k].transpose(1, 2, 0)
        canvas[y:y + h, x:x + w] = cell if c in (1, 3) else cell[..., :3]
    scale = max(grid_scale(cols, w), math.ceil(min_cell / (w + PAD)) if min_cell else 1)
    if scale > 1:
        canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    layout = {"kind": "grid", "rows": rows, "cols": cols, "cell_h": h, "cell_w": w,
              "pad": PAD, "scale": scale, "cells": [None if k is None else int(k)
                                                    for k in cells[:rows * cols]]}
    return (canvas[..., 0] if ch == 1 else canvas), layout


def grid_cell(picture: np.ndarray, layout: dict[str, Any], r: int, col: int) -> np.ndarray:
    """The pixels of cell (r, col) of a grid, at the images' native size: (h, w[, 3]); a
    grid with labels (:func:`annotate`) is read at the offsets of its label strips."""
    s = layout["scale"]
    h, w, p = layout["cell_h"], layout["cell_w"], layout["pad"]
    top, left = layout.get("label_top", 0), layout.get("label_left", 0)
    y = top + r * ((h + p) * s + layout.get("caption_h", 0)) + p * s
    x = left + col * (w + p) * s + p * s
    return picture[y:y + h * s:s, x:x + w * s:s]


def class_cells(labels, num_classes: int, cols: int = GRID_COLUMNS) -> list[Optional[int]]:
    """Cell indices of a grid with one row per class: row c holds the first ``cols`` samples
    whose label is c (fewer when there are fewer)."""
    lab = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels)
    cells: list[Optional[int]] = []
    for c in range(num_classes):
        idx = np.flatnonzero(lab == c)[:cols].tolist()
        cells.extend(idx + [None] * (cols - len(idx)))
    return cells


def window(modes=None, points=None) -> list[float]:
    """``[x_lo, x_hi, y_lo, y_hi]``, a square window around the mode centres (or the given
    points' first two coordinates) with a margin."""
    if modes is not None:
        c = np.asarray(modes.centers, dtype=float)[:, :2]
        lo, hi = c.min(0) - SCATTER_MARGIN, c.max(0) + SCATTER_MARGIN
    else:
        p = points.detach().float().cpu().numpy() if hasattr(points, "detach") else points
        p = np.asarray(p, dtype=float).reshape(len(p), -1)[:, :2]
        with np.errstate(invalid="ignore", over="ignore"):  # diverged samples: inf, NaN
            lo, hi = np.percentile(p, 0.5, axis=0), np.percentile(p, 99.5, axis=0)
            pad = 0.1 * (hi - lo).max()
            lo, hi = lo - pad, hi + pad
    with np.errstate(invalid="ignore", over="ignore"):
        mid, half = (lo + hi) / 2, float((hi - lo).max()) / 2
    if not (np.isfinite(mid).all() and math.isfinite(half)):  # diverged samples: NaN or inf
        mid, half = np.zeros(2), 1.0
    half = half or 1.0  # every point at one place
    return [float(mid[0] - half), float(mid[0] + half), float(mid[1] - half),
            float(mid[1] + half)]


def _pixels(xy: np.ndarray, win: Sequence[float], side: int) -> tuple[np.ndarray, np.ndarray]:
    px = (xy[:, 0] - win[0]) / (win[1] - win[0]) * (side - 1)
    py = (win[3] - xy[:, 1]) / (win[3] - win[2]) * (side - 1)
    return px, py


PALETTE = (BACKGROUND, BACKGROUND, BACKGROUND) + SAMPLE_RGB + MODE_RGB  # indices 0, 1, 2


def scatter(points, win: Sequence[float], modes=None, side: int = SCATTER_SIDE
            ) -> tuple[np.ndarray, dict[str, Any]]:
    """``(side, side)`` uint8 palette indices (0 background, 1 sample, 2 mode circle; colours
    in ``layout["palette"]``, :func:`rgb` expands them) of the first two coordinates of
    ``points``."""
    xy = np.asarray(points.detach().float().cpu() if hasattr(points, "detach") else points,
                    dtype=np.float64).reshape(len(points), -1)[:, :2]
    canvas = np.zeros((side, side), np.uint8)
    px, py = _pixels(xy, win, side)
    ok = np.isfinite(px) & np.isfinite(py) & (px >= 0) & (px <= side - 2) & (py >= 0) & \
        (py <= side - 2)
    ix, iy = np.round(px[ok]).astype(np.int64), np.round(py[ok]).astype(np.int64)
    for dy in (0, 1):
        for dx in (0, 1):
            canvas[iy + dy, ix + dx] = 1
    if modes is not None:
        cy, cx = _circles(tuple(map(tuple, modes.centers)), float(modes.std), tuple(win), side)
        canvas[cy, cx] = 2
    layout = {"kind": "scatter", "window": [float(v) for v in win], "side": side,
              "points": int(len(xy)), "outside": int(len(xy) - ok.sum()),
              "circle_sigma": 3 if modes is not None else None, "palette": list(PALETTE)}
    return canvas, layout


def rgb(picture: np.ndarray, layout: dict[str, Any]) -> np.ndarray:
    """``(H, W, 3)`` uint8 of a picture: palette indices expanded, grey repeated."""
    if layout.get("palette"):
        return np.asarray(layout["palette"], np.uint8).reshape(-1, 3)[picture]
    return np.repeat(picture[..., None], 3, axis=2) if picture.ndim == 2 else picture


_CIRCLES: dict = {}


def _circles(centers, std: float, win, side: int):
    """Pixel coordinates of every mode's 3σ circle (at least 2 pixels of radius), cached."""
    key = (centers, std, win, side)
    if key not in _CIRCLES:
        c = np.asarray(centers, dtype=float)[:, :2]
        px, py = _pixels(c, win, side)
        r = max(2.0, 3 * std / (win[1] - win[0]) * (side - 1))
        k = max(16, int(8 * r))
        t = np.linspace(0, 2 * np.pi, k, endpoint=False)
        xs = np.round(px[:, None] + r * np.cos(t)[None]).astype(np.int64).ravel()
        ys = np.round(py[:, None] + r * np.sin(t)[None]).astype(np.int64).ravel()
        ok = (xs >= 0) & (xs < side) & (ys >= 0) & (ys < side)
        _CIRCLES[key] = (ys[ok], xs[ok])
    return _CIRCLES[key]


def png_bytes(picture: np.ndarray, info: dict[str, Any], compress_level: int = 1) -> bytes:
    """PNG of a uint8 ``(H, W)`` or ``(H, W, 3)`` array, with ``info`` as JSON in a text
    chunk named ``ganbench``."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_text("ganbench", json.dumps(info, sort_keys=True))
    buf = io.BytesIO()
    if info.get("palette"):
        im = Image.fromarray(picture, mode="P")
        im.putpalette(list(info["palette"]))
    else:
        im = Image.fromarray(picture)
    im.save(buf, format="PNG", pnginfo=meta, compress_level=compress_level)
    return buf.getvalue()


def read_png(path) -> tuple[np.ndarray, dict[str, Any]]:
    """Pixels and the ``ganbench`` text chunk (``{}`` when absent) of a PNG file."""
    from PIL import Image

    with Image.open(path) as im:
        info = json.loads(im.text.get("ganbench", "{}")) if hasattr(im, "text") else {}
        return np.asarray(im), info


def picture_inputs(samples, labels, *, kind: str, num_classes: int = 0,
                   n: int = GRID_ROWS * GRID_COLUMNS):
    """What the picture of an evaluation point is drawn from, copied to the CPU (so it can be
    drawn on another thread while the samples' memory is reused): ``(subset, grid)`` where
    ``grid`` is ``(rows, cols, cells, cells_in_subset)`` for images and None for points."""
    if kind != "images":
        return samples.detach().to("cpu", copy=True), None
    if labels is not None and num_classes:
        rows, cols = num_classes, GRID_COLUMNS
        cells = class_cells(labels, num_classes)
    else:
        n = min(n, len(samples))
        cols = min(GRID_COLUMNS, n)
        rows, cells = math.ceil(n / cols), list(range(n))
    used = [k for k in cells if k is not None]
    where = {k: i for i, k in enumerate(used)}
    subset = samples[used].detach().to("cpu", copy=True)
    return subset, (rows, cols, cells, [None if k is None else where[k] for k in cells])


def draw(subset, grid, *, modes=None, win: Optional[Sequence[float]] = None
         ) -> tuple[np.ndarray, dict[str, Any]]:
    """The picture of :func:`picture_inputs`' output."""
    if grid is None:
        return scatter(subset, win if win is not None else window(modes, subset), modes)
    rows, cols, cells, local = grid
    picture, layout = image_grid(subset, rows, cols, local)
    layout["cells"] = cells  # indices into the evaluation samples
    return picture, layout


def eval_picture(samples, labels, *, kind: str, num_classes: int = 0, modes=None,
                 win: Optional[Sequence[float]] = None, n: int = GRID_ROWS * GRID_COLUMNS
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """The picture of one evaluation point: for images the first ``n`` samples in a grid of
    8 columns, or, given the labels a conditional G was asked for, one row per class (its
    first 8 samples); for points a scatter of every sample over the modes' 3σ circles."""
    subset, grid = picture_inputs(samples, labels, kind=kind, num_classes=num_classes, n=n)
    return draw(subset, grid, modes=modes, win=win)


# ------------------------------------------------------------------ labelled pictures
#
# Pictures that people read (interpolate, arithmetic) carry their labels in the picture: text
# drawn with Pillow's ImageDraw (bundled with torchvision's Pillow; its default font is a
# FreeType font at any size since Pillow 10.1) into strips around the grid, so that the cells
# keep exactly the pixels of G's samples (:func:`grid_cell` reads them back at their offsets)
# and no matplotlib figure is needed. Text is black on white in grey pictures, and the
# picture keeps its number of channels.

LABEL_PX = 13  # font size of labels, pixels
LABEL_MARGIN = 6
TEXT_RGB = (0, 0, 0)
PATH_RGB = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
MODE_LIGHT_RGB = (240, 170, 170)


def font(size: int = LABEL_PX):
    """Pillow's default font at ``size`` pixels (its bitmap font on a Pillow without
    FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _text_width(f, text: str) -> int:
    return int(math.ceil(f.getlength(text))) if text else 0


def annotate(picture: np.ndarray, layout: dict[str, Any], *,
             row_labels: Optional[Sequence[str]] = None,
             captions: Optional[Sequence[Optional[str]]] = None,
             title: Optional[str] = None) -> tuple[np.ndarray, dict[str, Any]]:
    """A grid of :func:`image_grid` with a label left of each row (``row_labels``), a caption
    under each cell (``captions``, row-major, None for none) and a ``title`` line on top. The
    cells keep their pixels; ``layout`` gains ``label_left``, ``label_top`` and ``caption_h``
    (pixels of the strips) that :func:`grid_cell` uses."""
    from PIL import Image, ImageDraw

    rows, cols, s = layout["rows"], layout["cols"], layout["scale"]
    row_h, col_w = (layout["cell_h"] + layout["pad"]) * s, (layout["cell_w"] + layout["pad"]) * s
    f = font()
    line = LABEL_PX + 4
    left = (max(_text_width(f, t) for t in row_labels) + 2 * LABEL_MARGIN
            if row_labels else 0)
    top = line + LABEL_MARGIN if title else 0
    cap = line + 2 if captions and any(captions) else 0
    if title:  # the title fits: the picture grows to its width
        left_w = picture.shape[1] + left
        extra = max(0, _text_width(f, title) + 2 * LABEL_MARGIN - left_w)
    else:
        extra = 0
    grey = picture.ndim == 2
    h = top + rows * (row_h + cap) + layout["pad"] * s
    w = left + picture.shape[1] + extra
    canvas = np.full((h, w) if grey else (h, w, 3), BACKGROUND, np.uint8)
    for r in range(rows):  # each row of cells with the pad above it
        src = picture[r * row_h:(r + 1) * row_h]
        y = top + r * (row_h + cap)
        canvas[y:y + row_h, left:left + picture.shape[1]] = src
    y_end = top + rows * (row_h + cap)  # the grid's last pad
    canvas[y_end:y_end + layout["pad"] * s, left:left + picture.shape[1]] = \
        picture[rows * row_h:rows * row_h + layout["pad"] * s]
    im = Image.fromarray(canvas)
    draw = ImageDraw.Draw(im)
    ink = 0 if grey else TEXT_RGB
    if title:
        draw.text((LABEL_MARGIN, LABEL_MARGIN // 2), title, fill=ink, font=f)
    for r, text in enumerate(row_labels or ()):
        y = top + r * (row_h + cap) + (row_h - LABEL_PX) // 2
        draw.text((LABEL_MARGIN, y), text, fill=ink, font=f)
    for i, text in enumerate(captions or ()):
        if not text:
            continue
        r, c = divmod(i, cols)
        x = left + c * col_w + (col_w - _text_width(f, text)) // 2
        y = top + r * (row_h + cap) + row_h  # the strip under the row's cells
        draw.text((x, y), text, fill=ink, font=f)
    out = np.asarray(im)
    layout = {**layout, "label_left": left, "label_top": top, "caption_h": cap,
              "row_labels": list(row_labels or []), "captions": list(captions or []),
              "title": title}
    return out, layout


def paths(points, win: Sequence[float], modes=None, pairs: int = 1,
          side: int = SCATTER_SIDE) -> tuple[np.ndarray, dict[str, Any]]:
    """Interpolation paths of 2-D data: ``points`` is ``(2 * pairs, steps, d)``, rows
    alternating a linear and a spherical path between the same two latents. Two panels side
    by side (linear, spherical) over the modes' 3σ circles (light red); each pair in its own
    colour, the points joined in order, the start a filled disc and the end a hollow square;
    a title over each panel and a key below. RGB uint8."""
    from PIL import Image, ImageDraw

    xy = np.asarray(points.detach().float().cpu() if hasattr(points, "detach") else points,
                    dtype=np.float64)
    xy = xy.reshape(xy.shape[0], xy.shape[1], -1)[..., :2]
    f = font()
    line = LABEL_PX + 4
    top, key = line + LABEL_MARGIN, 2 * line + LABEL_MARGIN
    gap = 10
    w, h = 2 * side + gap, top + side + key
    im = Image.new("RGB", (w, h), (BACKGROUND,) * 3)
    draw = ImageDraw.Draw(im)
    outside = 0
    for panel, name in enumerate(("linear (lerp)", "spherical (slerp)")):
        x0 = panel * (side + gap)
        draw.rectangle([x0, top, x0 + side - 1, top + side - 1], outline=(200, 200, 200))
        draw.text((x0 + LABEL_MARGIN, LABEL_MARGIN // 2), name, fill=TEXT_RGB, font=f)
        if modes is not None:
            cy, cx = _circles(tuple(map(tuple, modes.centers)), float(modes.std), tuple(win),
                              side)
            for yy, xx in zip(cy.tolist(), cx.tolist()):
                im.putpixel((x0 + xx, top + yy), MODE_LIGHT_RGB)
        for p in range(pairs):
            row = xy[2 * p + panel]
            colour = PATH_RGB[p % len(PATH_RGB)]
            px, py = _pixels(row, win, side)
            ok = np.isfinite(px) & np.isfinite(py) & (px >= 0) & (px <= side - 1) & \
                (py >= 0) & (py <= side - 1)
            outside += int((~ok).sum())
            pts = [(x0 + float(a), top + float(b)) for a, b, k in zip(px, py, ok) if k]
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=1)
            for a, b in pts:
                draw.rectangle([a - 1, b - 1, a + 1, b + 1], fill=colour)
            if ok[0]:
                a, b = x0 + px[0], top + py[0]
                draw.ellipse([a - 5, b - 5, a + 5, b + 5], fill=colour, outline=TEXT_RGB)
            if ok[-1]:
                a, b = x0 + px[-1], top + py[-1]
                draw.rectangle([a - 5, b - 5, a + 5, b + 5], outline=colour, width=2)
    y = top + side + LABEL_MARGIN // 2
    draw.ellipse([LABEL_MARGIN, y + 3, LABEL_MARGIN + 10, y + 13], fill=(90, 90, 90),
                 outline=TEXT_RGB)
    draw.text((LABEL_MARGIN + 16, y), "start", fill=TEXT_RGB, font=f)
    draw.rectangle([LABEL_MARGIN + 70, y + 3, LABEL_MARGIN + 80, y + 13], outline=(90, 90, 90),
                   width=2)
    draw.text((LABEL_MARGIN + 86, y), "end", fill=TEXT_RGB, font=f)
    x = LABEL_MARGIN + 130
    for p in range(pairs):
        colour = PATH_RGB[p % len(PATH_RGB)]
        text = f"pair {p + 1}"
        if x + 14 + _text_width(f, text) > w:
            y, x = y + line, LABEL_MARGIN
        draw.rectangle([x, y + 3, x + 10, y + 13], fill=colour)
        draw.text((x + 14, y), text, fill=TEXT_RGB, font=f)
        x += 14 + _text_width(f, text) + 14
    layout = {"kind": "paths", "window": [float(v) for v in win], "side": side,
              "pairs": int(pairs), "steps": int(xy.shape[1]), "panels": ["linear", "spherical"],
              "panel_left": [0, side + gap], "panel_top": top, "outside": outside,
              "pair_rgb": [list(PATH_RGB[p % len(PATH_RGB)]) for p in range(pairs)]}
    return np.asarray(im), layout
