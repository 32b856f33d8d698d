"""Dependency-free line plots (OpenCV) of motion curves: training samples and the PreviewMotion node."""

from __future__ import annotations

import numpy as np

COLOURS = [(0, 0, 0), (200, 40, 40), (40, 40, 200), (30, 150, 30), (180, 120, 0), (130, 0, 160)]


def plot_curves(curves: list[tuple[str, np.ndarray]], height: int = 200, width: int | None = None) -> np.ndarray:
    """Curves (name, values [T]) on one shared scale -> RGB uint8 image [H, W, 3] with a legend."""
    import cv2
    n = max(len(c) for _, c in curves)
    w = width or max(400, min(2000, 4 * n))
    img = np.full((height + 20 * len(curves), w, 3), 255, np.uint8)
    allv = np.concatenate([np.asarray(c, np.float64) for _, c in curves])
    lo, hi = float(np.nanmin(allv)), float(np.nanmax(allv)) + 1e-9
    for k, (name, c) in enumerate(curves):
        col = COLOURS[k % len(COLOURS)]
        c = np.asarray(c, np.float64)
        pts = np.stack([np.arange(len(c)) * (w - 1) / max(1, n - 1), (height - 10) - (c - lo) / (hi - lo) * (height - 20)], 1)
        cv2.polylines(img, [pts.astype(np.int32)], False, col, 1, cv2.LINE_AA)
        cv2.putText(img, name, (5, height + 15 + 20 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45, col, 1, cv2.LINE_AA)
    return img


def save_png(path: str, img: np.ndarray) -> None:
    import os

    import cv2
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    cv2.imwrite(path, img[:, :, ::-1])


def motion_overview(latent: np.ndarray, parts: dict[str, tuple[int, int]], fps: float) -> np.ndarray:
    """Motion [T, D] -> image: per part, the distance of each frame from the sequence's mean (one curve each)."""
    latent = np.asarray(latent, np.float64)
    curves = []
    for name, (a, b) in parts.items():
        x = latent[:, a:b]
        sd = x.std(0) + 1e-6
        curves.append((f"{name} ({b - a} dims)", np.linalg.norm((x - x.mean(0)) / sd, axis=1) / np.sqrt(b - a)))
    img = plot_curves(curves, width=max(400, min(2000, 4 * len(latent))))
    import cv2
    cv2.putText(img, f"{len(latent)} frames @ {fps:g} fps", (img.shape[1] - 200, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (90, 90, 90), 1, cv2.LINE_AA)
    return img


# --- report figures (evaluation/report.py): axes with tick labels, reference lines, bars ----------

_FONT = 0.42


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About n round tick values covering [lo, hi]."""
    span = max(hi - lo, 1e-12)
    step = 10 ** np.floor(np.log10(span / n))
    step *= min((m for m in (1, 2, 5, 10) if span / (step * m) <= n), default=10)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-6, step)


def _label(v: float) -> str:
    v = 0.0 if abs(v) < 1e-12 else float(v)
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def xy_plot(series: list[tuple[str, np.ndarray, np.ndarray]], title: str, x_label: str, y_label: str,
            hlines: list[tuple[str, float]] = (), log_x: bool = False, markers: bool = False,
            size: tuple[int, int] = (760, 320)) -> np.ndarray:
    """Curves (name, x [N], y [N]) with axes, tick labels, legend and dashed reference lines
    (name, y) -> RGB uint8 image [H, W, 3]. NaN points break a curve."""
    import cv2
    w, h = size
    left, right, top, bottom = 62, 12, 28, 44
    legend = 18 * (len(series) + len(hlines))
    img = np.full((h + legend, w, 3), 255, np.uint8)
    xs = [np.log10(np.asarray(x, np.float64)) if log_x else np.asarray(x, np.float64) for _, x, _ in series]
    ys = [np.asarray(y, np.float64) for _, _, y in series]
    ally = np.concatenate(ys + [np.array([v for _, v in hlines], np.float64)])
    ally = ally[np.isfinite(ally)]
    y0, y1 = (float(ally.min()), float(ally.max())) if ally.size else (0.0, 1.0)
    pad = 0.05 * (y1 - y0) if y1 > y0 else max(abs(y0) * 0.1, 0.5)
    y0, y1 = y0 - pad, y1 + pad
    allx = np.concatenate(xs)
    x0, x1 = float(np.nanmin(allx)), float(np.nanmax(allx))
    x1 = x1 if x1 > x0 else x0 + 1.0
    px = lambda x: left + (x - x0) / (x1 - x0) * (w - left - right)  # noqa: E731
    py = lambda y: top + (y1 - y) / (y1 - y0) * (h - top - bottom)  # noqa: E731
    grey, dark = (215, 215, 215), (60, 60, 60)
    for t in _ticks(y0, y1):
        cv2.line(img, (left, int(py(t))), (w - right, int(py(t))), grey, 1)
        cv2.putText(img, _label(t), (4, int(py(t)) + 4), cv2.FONT_HERSHEY_SIMPLEX, _FONT, dark, 1, cv2.LINE_AA)
    xt = np.arange(np.floor(x0), np.ceil(x1) + 1e-9) if log_x else _ticks(x0, x1)
    for t in xt[(xt >= x0 - 1e-9) & (xt <= x1 + 1e-9)]:
        cv2.line(img, (int(px(t)), top), (int(px(t)), h - bottom), grey, 1)
        cv2.putText(img, _label(10 ** t if log_x else t), (int(px(t)) - 10, h - bottom + 16), cv2.FONT_HERSHEY_SIMPLEX,
                    _FONT, dark, 1, cv2.LINE_AA)
    cv2.rectangle(img, (left, top), (w - right, h - bottom), dark, 1)
    cv2.putText(img, title, (left, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, x_label + (" (log scale)" if log_x else ""), (left, h - 8), cv2.FONT_HERSHEY_SIMPLEX, _FONT, dark, 1,
                cv2.LINE_AA)
    cv2.putText(img, y_label, (w - right - 8 * len(y_label), 18), cv2.FONT_HERSHEY_SIMPLEX, _FONT, dark, 1, cv2.LINE_AA)
    for k, ((name, _, _), x, y) in enumerate(zip(series, xs, ys)):
        col = COLOURS[k % len(COLOURS)]
        ok = np.isfinite(x) & np.isfinite(y)
        pts = np.stack([px(x), py(y)], 1)
        for run in np.split(np.arange(len(x)), np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1):
            if ok[run[0]] and len(run) > 1:
                cv2.polylines(img, [pts[run].astype(np.int32)], False, col, 2, cv2.LINE_AA)
        if markers:
            for p in pts[ok]:
                cv2.circle(img, (int(p[0]), int(p[1])), 4, col, -1, cv2.LINE_AA)
        cv2.putText(img, name, (left, h + 14 + 18 * k), cv2.FONT_HERSHEY_SIMPLEX, _FONT, col, 1, cv2.LINE_AA)
    for j, (name, v) in enumerate(hlines):
        col = COLOURS[(len(series) + j) % len(COLOURS)]
        for xa in range(left, w - right, 12):
            cv2.line(img, (xa, int(py(v))), (min(xa + 6, w - right), int(py(v))), col, 1)
        cv2.putText(img, f"- - {name}", (left, h + 14 + 18 * (len(series) + j)), cv2.FONT_HERSHEY_SIMPLEX, _FONT, col, 1,
                    cv2.LINE_AA)
    return img


def bar_panel(title: str, labels: list[str], values: list[float], fmt: str = "{:.3f}",
              size: tuple[int, int] = (250, 260)) -> np.ndarray:
    """One bar per label (own scale from 0, value printed on each bar) -> RGB uint8 image [H, W, 3]."""
    import cv2
    w, h = size
    top, bottom = 44, 20 + 16 * len(labels)
    img = np.full((h, w, 3), 255, np.uint8)
    vals = np.asarray(values, np.float64)
    finite = vals[np.isfinite(vals)]
    lo, hi = min(0.0, float(finite.min())) if finite.size else 0.0, max(0.0, float(finite.max())) if finite.size else 1.0
    hi = hi if hi > lo else lo + 1.0
    lo, hi = lo - 0.08 * (hi - lo) * (lo < 0), hi + 0.08 * (hi - lo) * (hi > 0)  # room for the value labels
    py = lambda y: top + (hi - y) / (hi - lo) * (h - top - bottom)  # noqa: E731
    cv2.putText(img, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    slot = (w - 20) / max(1, len(vals))
    for k, v in enumerate(vals):
        col = COLOURS[(k + 1) % len(COLOURS)]
        xa, xb = int(10 + k * slot + slot * 0.15), int(10 + (k + 1) * slot - slot * 0.15)
        if np.isfinite(v):
            cv2.rectangle(img, (xa, int(py(max(v, 0)))), (xb, int(py(min(v, 0)))), col, -1)
            cv2.putText(img, fmt.format(v), (xa, int(py(max(v, 0))) - 4), cv2.FONT_HERSHEY_SIMPLEX, _FONT, (0, 0, 0), 1,
                        cv2.LINE_AA)
        cv2.putText(img, labels[k], (8, h - bottom + 18 + 16 * k), cv2.FONT_HERSHEY_SIMPLEX, _FONT, col, 1, cv2.LINE_AA)
    cv2.line(img, (8, int(py(0))), (w - 8, int(py(0))), (60, 60, 60), 1)
    return img
