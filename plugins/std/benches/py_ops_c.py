#!/usr/bin/env python3
"""Python counterpart of the Rust copy_move operator, written the usual way
(OpenCV's Harris corners, NumPy for descriptors, matching and grouping).

Same algorithm and constants as plugins/std/src/copy_move.rs: Harris corners of
luma blurred with sigma 1, 5x5 non-maximum suppression, the 3000 strongest; ring
descriptors (radius 2..8, 32 samples, mean and |first three angular DFT
coefficients| per ring, ring means centred, L2-normalised, flattest tenth
dropped), each candidate also described on rings x1.12 and /1.12 (the nearest
scale counts); nearest neighbour at least 30 px away with Lowe's ratio 0.6; the
largest group of matches sharing a displacement (10 px + 15 %). A significant
group (anomaly_z >= 3) is verified densely as in plugins/std/src/copy_move/verify.rs:
the affine map a -> b is fitted to the matches by least squares (three rounds,
dropping matches farther than max(3 px, 2.5 x median)), the image is warped by it
and by its inverse (``cv2.warpAffine``, bilinear), each 8-px block near each
side's keypoints is correlated with its warped counterpart (ZNCC >= 0.6, flat
blocks skipped), and the 4-connected passing blocks touching a keypoint's block
are the region; the side with the 1.5x smaller interpolation residual is the
copy. Returns the heat-map (1 on the copy's blocks, or on both regions when the
copy is not clear; grouped keypoints per block if nothing verifies) as float32;
``copy_move_stats`` also returns the group sizes, which is what eval/scripts and
the dev-set comparison in the Rust docs use, and ``copy_move_regions`` the
verification itself.
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


def _fit_affine(a, b):
    x = np.hstack([a, np.ones((len(a), 1))]).astype(np.float64)
    keep = np.ones(len(a), bool)
    m = None
    for _ in range(3):
        if keep.sum() < 3:
            return None
        sol, _, rank, _ = np.linalg.lstsq(x[keep], b[keep].astype(np.float64), rcond=None)
        if rank < 3:
            return None
        m = sol.T
        res = np.hypot(*(x @ sol - b).T)
        keep = res <= max(3.0, 2.5 * np.sort(res[keep])[keep.sum() // 2])
    return m


def _side(luma, warped, valid, ends, block):
    """Blocks near ``ends`` whose ZNCC with ``warped`` passes, connected to a keypoint's block."""
    h, w = luma.shape
    bh, bw = h // block, w // block
    x1, y1 = ends.min(0)
    x2, y2 = ends.max(0)
    pad = max(max(x2 - x1, y2 - y1) / 2, 2 * block)
    bx1, by1 = min(int(max(x1 - pad, 0)) // block, bw - 1), min(int(max(y1 - pad, 0)) // block, bh - 1)
    bx2, by2 = min(int(max(x2 + pad, 0)) // block, bw - 1) + 1, min(int(max(y2 + pad, 0)) // block, bh - 1) + 1
    sl = np.s_[by1 * block:by2 * block, bx1 * block:bx2 * block]
    shape = (by2 - by1, block, bx2 - bx1, block)
    i, v = luma[sl].astype(np.float64).reshape(shape), warped[sl].astype(np.float64).reshape(shape)
    ok = valid[sl].reshape(shape).all(axis=(1, 3))
    n = block * block
    mi, mv = i.mean((1, 3)), v.mean((1, 3))
    vi, vv = (i * i).mean((1, 3)) - mi * mi, (v * v).mean((1, 3)) - mv * mv
    cov = (i * v).mean((1, 3)) - mi * mv
    err = ((i - v) ** 2).sum((1, 3))
    ok &= (vi >= 1.0) & (vv >= 1.0)
    passing = ok & (cov / np.sqrt(np.maximum(vi * vv, 1e-30)) >= 0.6)
    _, labels = cv2.connectedComponents(passing.astype(np.uint8), connectivity=4)
    seeds = np.zeros_like(passing)
    for x, y in ends:
        bx, by = min(int(x) // block, bw - 1) - bx1, min(int(y) // block, bh - 1) - by1
        seeds[max(by - 1, 0):by + 2, max(bx - 1, 0):bx + 2] = True
    region = np.isin(labels, np.unique(labels[seeds & passing]))
    region &= passing
    inner = region.copy()
    inner[0, :] = inner[-1, :] = False
    inner[:, 0] = inner[:, -1] = False
    inner[1:-1, 1:-1] &= region[:-2, 1:-1] & region[2:, 1:-1] & region[1:-1, :-2] & region[1:-1, 2:]
    use = inner if inner.any() else region
    # The median block: a few blocks on strong edges, misaligned by a fraction of a pixel, would dominate a mean.
    residual = float(np.median(err[use])) / n if use.any() else 0.0
    blocks = np.zeros((bh, bw), bool)
    blocks[by1:by2, bx1:bx2] = region
    return blocks, residual


def copy_move_regions(luma, a, b, block=8):
    """(a-side blocks, b-side blocks, residual a, residual b), or None if no map fits."""
    m = _fit_affine(a, b)
    if m is None or abs(np.linalg.det(m[:, :2])) < 1e-6:
        return None
    h, w = luma.shape
    inv = cv2.invertAffineTransform(m)
    out = []
    for t, ends in ((m, a), (inv, b)):
        # dst(p) = luma(t p): pixels whose t p falls outside read -1e9 and are invalid.
        warped = cv2.warpAffine(luma, t.astype(np.float64), (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=-1e9)
        out.append(_side(luma, warped, warped > -1e8, ends, block))
    return out[0][0], out[1][0], out[0][1], out[1][1]


def copy_move_stats(rgb, keypoints=3000, ratio=0.6, min_shift=30, block=8, scale_step=1.12, min_z=3.0, details=None):
    """(heat-map, c1, c0); ``details``, a dict, receives the verification (``regions``: copy_move_regions's result)."""
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
    bh, bw = h // block, w // block
    if c1 < 3 or (c1 - c0) / np.sqrt(c0 + 1) < min_z:
        return np.zeros((bh, bw), np.float32), c1, c0
    # Oriented so that every member's b - a is the canonical shift.
    a, b = pts[i[group]], pts[j[group]]
    v = b - a
    flip = (v[:, 0] < 0) | ((v[:, 0] == 0) & (v[:, 1] < 0))
    a, b = np.where(flip[:, None], b, a), np.where(flip[:, None], a, b)
    found = copy_move_regions(luma, a, b, block)
    if details is not None:
        details["regions"] = found
        details["map"] = _fit_affine(a, b)
    # A duplication has two regions: one side alone falls back to the keypoints.
    if found is not None and found[0].any() and found[1].any():
        side_a, side_b, ra, rb = found
        lo, hi = min(ra, rb), max(ra, rb)
        if hi >= 1.3 * lo and hi > 0:
            return (side_a if ra < rb else side_b).astype(np.float32), c1, c0
        return (side_a | side_b).astype(np.float32), c1, c0
    counts = np.zeros((bh, bw), np.float32)
    for p in np.vstack([a, b]):
        counts[min(int(p[1]) // block, bh - 1), min(int(p[0]) // block, bw - 1)] += 1
    r = -(-32 // block)
    heat = cv2.boxFilter(counts, -1, (2 * r + 1, 2 * r + 1), normalize=False, borderType=cv2.BORDER_CONSTANT)
    return heat, c1, c0


def copy_move(rgb):
    return copy_move_stats(rgb)[0]
