"""Python counterparts of the Rust frequency/noise operators, for timing.

Each function takes an HxWx3 uint8 RGB array and returns the operator's heat-map
(block-level robust z, larger = more suspicious), doing the same computation the
usual vectorised NumPy / SciPy / OpenCV / PyWavelets way.
Requires: numpy, scipy, opencv-python(-headless), PyWavelets.
"""
import cv2
import numpy as np
import pywt
import scipy.fft
import scipy.signal

BLOCK = 32


def _luma(rgb):
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def _block_means(m, b):
    h, w = m.shape
    bh, bw = h // b, w // b
    return m[: bh * b, : bw * b].reshape(bh, b, bw, b).mean(axis=(1, 3))


def _robust_z(v):
    med = np.median(v)
    dev = np.abs(v - med)
    floor = 1e-6 * max(abs(med), 1.0)
    sigma = 1.4826 * np.median(dev)
    if not sigma > floor:  # MAD 0: the modified z-score's 1.253314 * MeanAD, as trutheye does
        sigma = max(1.253314 * float(np.mean(dev, dtype=np.float64)), floor)
    return (v - med) / sigma


def _log_energy_z(energy, b=BLOCK):
    return _robust_z(np.log(_block_means(energy, b) + 1e-3))


def fft_residual(rgb, radius=0.1):
    """High-pass (ρ >= radius x Nyquist) of the periodic component; block energy z."""
    u = _luma(rgb).astype(np.float64)
    h, w = u.shape
    v = np.zeros_like(u)
    v[0, :] = u[-1, :] - u[0, :]
    v[-1, :] = -v[0, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] -= u[:, -1] - u[:, 0]
    cx = np.cos(2 * np.pi * np.arange(w) / w)
    cy = np.cos(2 * np.pi * np.arange(h) / h)
    den = 2 * cx[None, :] + 2 * cy[:, None] - 4
    den[0, 0] = 1.0
    F = scipy.fft.fft2(u, workers=1) - scipy.fft.fft2(v, workers=1) / den
    fy = scipy.fft.fftfreq(h)[:, None]
    fx = scipy.fft.fftfreq(w)[None, :]
    F[4 * (fx ** 2 + fy ** 2) < radius ** 2] = 0
    F[0, 0] = 0
    res = scipy.fft.ifft2(F, workers=1).real
    return _log_energy_z(res * res)


def dwt_subbands(rgb, levels=1):
    """Haar DWT (mode 'symmetric'); block z of level-1 HH energy."""
    coeffs = pywt.wavedec2(_luma(rgb), "haar", mode="symmetric", level=levels)
    cD = coeffs[-1][2]
    return _log_energy_z(cD * cD, BLOCK // 2)


def resampling(rgb, block=BLOCK):
    """Kirchner p-map; per-block log(peak/median) of the windowed power spectrum, robust z."""
    x = _luma(rgb)
    alpha = np.array([[-0.25, 0.5, -0.25], [0.5, 0.0, 0.5], [-0.25, 0.5, -0.25]], np.float32)
    k = -alpha
    k[1, 1] = 1.0
    e = cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REFLECT_101)
    p = np.exp(-e * e)
    h, w = p.shape
    bh, bw = h // block, w // block
    tiles = p[: bh * block, : bw * block].reshape(bh, block, bw, block).transpose(0, 2, 1, 3)
    tiles = tiles - tiles.mean(axis=(2, 3), keepdims=True)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(block) + 0.5) / block)
    spec = np.abs(scipy.fft.fft2(tiles * np.outer(win, win), axes=(2, 3), workers=1)) ** 2
    spec = spec.reshape(bh, bw, -1)
    mask = np.ones((block, block), bool)
    for i in (0, 1, block - 1):
        for j in (0, 1, block - 1):
            mask[i, j] = False
    s = spec[..., mask.ravel()]
    score = np.log((s.max(axis=2) + 1e-12) / (np.median(s, axis=2) + 1e-12))
    return _robust_z(score)


def dct_highpass(rgb, cutoff=4):
    """8x8 block DCT-II (ortho), drop u+v < cutoff, inverse; block energy z."""
    x = _luma(rgb)
    h, w = x.shape
    bh, bw = h // 8, w // 8
    blocks = x[: bh * 8, : bw * 8].reshape(bh, 8, bw, 8).transpose(0, 2, 1, 3)
    c = scipy.fft.dctn(blocks, axes=(2, 3), norm="ortho", workers=1)
    u = np.arange(8)
    c[..., (u[:, None] + u[None, :]) < cutoff] = 0
    r = scipy.fft.idctn(c, axes=(2, 3), norm="ortho", workers=1)
    res = r.transpose(0, 2, 1, 3).reshape(bh * 8, bw * 8)
    return _log_energy_z(res * res)


SRM_KERNELS = [
    np.array([[-1, 2, -2, 2, -1], [2, -6, 8, -6, 2], [-2, 8, -12, 8, -2],
              [2, -6, 8, -6, 2], [-1, 2, -2, 2, -1]], np.float32) / 12.0,
    np.array([[0, 0, 0, 0, 0], [0, -1, 2, -1, 0], [0, 2, -4, 2, 0],
              [0, -1, 2, -1, 0], [0, 0, 0, 0, 0]], np.float32) / 4.0,
    np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0],
              [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32) / 2.0,
]


def srm(rgb, truncate=3.0):
    """3 SRM kernels, residuals clipped to ±truncate; |z| of block log energy."""
    x = _luma(rgb)
    e = np.zeros_like(x)
    for k in SRM_KERNELS:
        r = np.clip(cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REFLECT_101), -truncate, truncate)
        e += r * r
    return np.abs(_log_energy_z(e / len(SRM_KERNELS)))


def bayar(rgb):
    """Fixed constrained kernel (centre -1, others 1/24); |z| of block log energy."""
    k = np.full((5, 5), 1.0 / 24.0, np.float32)
    k[2, 2] = -1.0
    r = cv2.filter2D(_luma(rgb), -1, k, borderType=cv2.BORDER_REFLECT_101)
    return np.abs(_log_energy_z(r * r))


def prnu(rgb, block=64):
    """Wiener(3x3) residual, row/col means removed; leave-block-out gain correlation
    and noise-level z combined as in the Rust operator."""
    x = _luma(rgb).astype(np.float32)
    w_res = x - scipy.signal.wiener(x, 3).astype(np.float32)
    w_res -= w_res.mean(axis=1, keepdims=True)
    w_res -= w_res.mean(axis=0, keepdims=True)
    hp = x - cv2.blur(x, (3, 3), borderType=cv2.BORDER_REFLECT_101)
    s_wi = _block_means(w_res * x, block)
    s_ii = _block_means(x * x, block)
    s_ww = _block_means(w_res * w_res, block)
    k = (s_wi.sum() - s_wi) / np.maximum(s_ii.sum() - s_ii, 1e-12)
    corr = np.sign(k) * s_wi / np.maximum(np.sqrt(s_ww * s_ii), 1e-12)
    ze = _robust_z(np.log(_block_means(hp * hp, block) + 1e-3))
    return np.maximum(-_robust_z(corr), np.abs(ze))


if __name__ == "__main__":
    import time

    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(128, 4, (3000, 4000, 1)), 0, 255).astype(np.uint8).repeat(3, axis=2)
    for f in (fft_residual, dwt_subbands, resampling, dct_highpass, srm, bayar, prnu):
        t = time.perf_counter()
        z = f(img)
        print(f"{f.__name__:>14}: {time.perf_counter() - t:.3f} s  max z {float(np.max(z)):.2f}  map {z.shape}")
