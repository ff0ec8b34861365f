#!/usr/bin/env python3
"""Python counterpart of the Rust copy_move operator, written the usual way
(OpenCV's Harris corners, NumPy for descriptors, matching and grouping).

Same algorithm and constants as plugins/std/src/copy_move.rs: Harris corners of
luma blurred with sigma 1, 5x5 non-maximum suppression, the 3000 strongest; ring
descriptors (radius 2..8, 32 samples, mean and |first three angular DFT
coefficients| per ring, ring means centred, L2-normalised, flattest tenth
dropped), each candidate also described on rings x1.12 and /1.12 (the nearest
scale counts); nearest neighbour at least 30 px away with Lowe's ratio 0.6; the
largest group of matches sharing a displacement (10 px + 15 %). Returns the
heat-map (grouped keypoints per 32-px block, summed over the 3x3 blocks around)
as float32; ``copy_move_stats`` also returns the group sizes, which is what
eval/scripts and the dev-set comparison in the Rust docs use.
"""
import cv2
import numpy as np

_BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
RINGS = np.arange(2, 9)
ANGLES = 32
HARMONICS = 3
OUTER = 8


def _ring_offsets(scale):
    t = 2 * np.pi * np.arange(ANGLES, dtype=np.float32) / ANGLES
    r = RINGS.astype(np.float32)[:, None] * np.float32(scale)
    dx = np.rint(r * np.cos(t)[None, :]).astype(np.int64)
    dy = np.rint(r * np.sin(t)[None, :]).astype(np.int64)
    return dx, dy


def _describe(blur, xs, ys, scale):
    dx, dy = _ring_offsets(scale)
    samples = blur[ys[:, None, None] + dy[None], xs[:, None, None] + dx[None]]  # N x rings x angles
    f = np.fft.rfft(samples, axis=2)[:, :, : HARMONICS + 1] / ANGLES
    desc = np.concatenate([f[:, :, :1].real, np.abs(f[:, :, 1:])], axis=2)
    desc[:, :, 0] -= desc[:, :, 0].mean(1, keepdims=True)
    return desc.reshape(len(xs), -1)


def _shift(v):
    flip = (v[:, 0] < 0) | ((v[:, 0] == 0) & (v[:, 1] < 0))
    return np.where(flip[:, None], -v, v)


def _largest_group(shifts, allowed):
    idx = np.flatnonzero(allowed)
    if idx.size == 0:
        return np.array([], dtype=np.int64)
    s = shifts[idx]
    tol = 10 + 0.15 * np.hypot(s[:, 0], s[:, 1])
    d = np.hypot(s[None, :, 0] - s[:, None, 0], s[None, :, 1] - s[:, None, 1])
    same = d < tol[:, None]  # row i: members of the group seeded at i
    best = int(np.argmax(same.sum(1)))
    return idx[same[best]]


def copy_move_stats(rgb, keypoints=3000, ratio=0.6, min_shift=30, block=32, scale_step=1.12):
    luma = rgb.astype(np.float32) @ _BT601
    h, w = luma.shape
    blur = cv2.GaussianBlur(luma, (9, 9), 1.0)
    r = cv2.cornerHarris(blur, 3, 3, 0.04)
    scales = [1.0, scale_step, 1.0 / scale_step] if scale_step > 1 else [1.0]
    margin = int(np.ceil(np.float32(OUTER) * np.float32(max(scales))))
    peak = (r == cv2.dilate(r, np.ones((5, 5), np.uint8))) & (r > 0)
    peak[:margin] = peak[h - margin:] = False
    peak[:, :margin] = peak[:, w - margin:] = False
    ys, xs = np.nonzero(peak)
    order = np.argsort(-r[ys, xs], kind="stable")[:keypoints]
    ys, xs = ys[order], xs[order]
    desc = _describe(blur, xs, ys, 1.0)
    norm = np.linalg.norm(desc, axis=1)
    keep = norm > (np.sort(norm)[len(norm) // 10] if len(norm) else 0)
    desc, pts = desc[keep] / norm[keep, None], np.stack([xs[keep], ys[keep]], 1).astype(np.float32)
    sim = desc @ desc.T
    for sc in scales[1:]:
        other = _describe(blur, xs[keep], ys[keep], sc)
        other /= np.maximum(np.linalg.norm(other, axis=1), 1e-30)[:, None]
        np.maximum(sim, desc @ other.T, out=sim)
    d2 = 2 - 2 * sim
    near = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1]) < min_shift
    d2[near] = np.inf
    if len(pts) < 3:
        return np.zeros((h // block, w // block), np.float32), 0, 0
    two = np.argpartition(d2, 1, axis=1)[:, :2]
    two_d = np.take_along_axis(d2, two, 1)
    swap = two_d[:, 1] < two_d[:, 0]
    best = np.where(swap, two[:, 1], two[:, 0])
    b, s = np.minimum(two_d[:, 0], two_d[:, 1]), np.maximum(two_d[:, 0], two_d[:, 1])
    good = np.isfinite(b) & (b < ratio * ratio * s)
    i = np.flatnonzero(good)
    j = best[i]
    mutual_dup = (i > j) & good[j] & (best[j] == i)
    i, j = i[~mutual_dup], j[~mutual_dup]
    shifts = _shift(pts[j] - pts[i])
    group = _largest_group(shifts, np.ones(len(i), bool))
    c1 = len(group)
    c0 = 0
    if c1:
        lead = shifts[group[0]]
        far = np.hypot(*(shifts - lead).T) >= 2 * (10 + 0.15 * np.hypot(*lead))
        c0 = len(_largest_group(shifts, far))
    counts = np.zeros((h // block, w // block), np.float32)
    for k in group:
        for p in (pts[i[k]], pts[j[k]]):
            counts[min(int(p[1]) // block, counts.shape[0] - 1), min(int(p[0]) // block, counts.shape[1] - 1)] += 1
    heat = cv2.boxFilter(counts, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return heat, c1, c0


def copy_move(rgb):
    return copy_move_stats(rgb)[0]
