//! Percentile-stretched 8-bit rendering of scalar maps, shared by the operators'
//! `visual` outputs.
//!
//! Rendering needs two exact order statistics (1st and 99th percentile) of a
//! full-resolution map. Sorting, selecting or even histogramming every value
//! costs more than the filter that produced the map, so the percentiles are
//! found by bracketing: a sparse pilot sample guesses a narrow key range around
//! each wanted rank, one pass counts the values below and at the ends of each range
//! and gathers the few strictly inside it, and the exact answer is selected among those. When a
//! guess misses (the pass proves it), an exhaustive selection gives the answer,
//! so the result never depends on the guess.

use rayon::prelude::*;

/// `f32::total_cmp` order as an unsigned key.
#[inline(always)]
fn order_key(v: f32) -> u32 {
    let b = v.to_bits();
    b ^ ((((b as i32) >> 31) as u32) >> 1) ^ 0x8000_0000
}

/// Inverse of [`order_key`].
fn from_order_key(k: u32) -> f32 {
    let t = k ^ 0x8000_0000;
    f32::from_bits(if t & 0x8000_0000 != 0 { t ^ 0x7fff_ffff } else { t })
}

/// Pilot sample size: the bracket around a rank is a few standard deviations of
/// the pilot's rank error wide, so the gathered share of the map is ~1%.
const PILOT: usize = 16_384;

/// Below this many subsample values an exhaustive selection is as cheap as the
/// pilot, and cannot miss.
const EXHAUSTIVE_BELOW: usize = 1 << 16;

/// What one chunk's pass found, per bracket `(lo, hi)`: values below `lo`, equal
/// to `lo`, and at most `hi`, plus the keys strictly between `lo` and `hi`. Ties at
/// the bracket ends are only counted, so a map with many equal values (flat areas
/// give runs of exact zeros) gathers no more than any other.
#[derive(Default)]
struct Scan {
    total: usize,
    lt_lo: [usize; 2],
    eq_lo: [usize; 2],
    le_hi: [usize; 2],
    inside: [Vec<u32>; 2],
}

/// Counters of [`Scan`] for a short block, in `u32` so they vectorise.
#[derive(Default, Clone, Copy)]
struct Counts {
    total: u32,
    lt_lo: [u32; 2],
    eq_lo: [u32; 2],
    le_hi: [u32; 2],
}

impl Scan {
    fn absorb(&mut self, c: Counts) {
        self.total += c.total as usize;
        for t in 0..2 {
            self.lt_lo[t] += c.lt_lo[t] as usize;
            self.eq_lo[t] += c.eq_lo[t] as usize;
            self.le_hi[t] += c.le_hi[t] as usize;
        }
    }

    /// Keeps `k` for each bracket that holds it strictly inside.
    #[inline(always)]
    fn gather(&mut self, k: Option<u32>, brackets: &[(u32, u32); 2]) {
        if let Some(k) = k {
            for (t, &(lo, hi)) in brackets.iter().enumerate() {
                if k > lo && k < hi {
                    self.inside[t].push(k);
                }
            }
        }
    }

    fn merge(mut self, o: Scan) -> Scan {
        self.total += o.total;
        for t in 0..2 {
            self.lt_lo[t] += o.lt_lo[t];
            self.eq_lo[t] += o.eq_lo[t];
            self.le_hi[t] += o.le_hi[t];
            self.inside[t].extend(o.inside[t].iter());
        }
        self
    }

    /// The rank-`r` key for bracket `t`, or `None` when it lies outside the bracket.
    fn pick(&mut self, t: usize, r: usize, (lo, hi): (u32, u32)) -> Option<u32> {
        let (lt, eq, le) = (self.lt_lo[t], self.eq_lo[t], self.le_hi[t]);
        let inside = &mut self.inside[t];
        if r < lt || r >= le {
            return None;
        }
        if r < lt + eq {
            return Some(lo);
        }
        match r - lt - eq {
            i if i < inside.len() => Some(*inside.select_nth_unstable(i).1),
            _ => Some(hi), // the rest up to `le` equals `hi`
        }
    }
}

/// Parallel chunk length for a pass over `len` values: large enough that rayon's
/// per-task cost vanishes, a few chunks per thread for balance.
fn chunk_len(len: usize) -> usize {
    (1usize << 16).max(len.div_ceil(rayon::current_num_threads().max(1) * 4))
}

/// Exact order statistics, by `total_cmp`, of the subsample
/// `map.iter().step_by(step).filter_map(key)` (keys from [`order_key`]): for the
/// subsample's size `n`, returns the `ranks(n)[t]`-th smallest (0-based), or `None`
/// for an empty subsample. Identical to sorting the subsample and indexing it.
fn select2(
    map: &[f32],
    step: usize,
    key: impl Fn(f32) -> Option<u32> + Sync,
    ranks: impl Fn(usize) -> [usize; 2],
) -> Option<[u32; 2]> {
    let step = step.max(1);
    if map.len().div_ceil(step) >= EXHAUSTIVE_BELOW {
        let found = if step > 1 {
            // A strided scan cannot vectorise; a compact copy of the subsample is
            // cheap and makes the bracketing pass dense.
            let sample: Vec<f32> = map.iter().step_by(step).copied().collect();
            select2_bracketed(&sample, &key, &ranks)
        } else {
            select2_bracketed(map, &key, &ranks)
        };
        if let Some(found) = found {
            return found;
        }
    }
    let mut all: Vec<u32> = map.iter().step_by(step).filter_map(|&v| key(v)).collect();
    if all.is_empty() {
        return None;
    }
    let last = all.len() - 1;
    Some(ranks(all.len()).map(|r| *all.select_nth_unstable(r.min(last)).1))
}

/// The bracketing search of [`select2`] over every value of `map`; `None` when a
/// bracket missed its rank.
fn select2_bracketed(
    map: &[f32],
    key: &(impl Fn(f32) -> Option<u32> + Sync),
    ranks: &impl Fn(usize) -> [usize; 2],
) -> Option<Option<[u32; 2]>> {
    let ns = map.len();
    let q = (ns / PILOT).max(1);
    let mut pilot: Vec<u32> = map.iter().step_by(q).filter_map(|&v| key(v)).collect();
    let m = pilot.len();
    if m == 0 {
        return None;
    }
    pilot.sort_unstable();
    // Expected subsample size, scaled from the pilot's share of kept values.
    let n_est = (ns as f64 * m as f64 / ns.div_ceil(q) as f64).round().max(1.0) as usize;
    let brackets = ranks(n_est).map(|r| {
        let p = (r as f64 + 0.5) / n_est as f64;
        let pos = (p * m as f64) as isize;
        // Six standard deviations of the binomial rank error, plus slack for ties.
        let d = (6.0 * (m as f64 * p * (1.0 - p)).sqrt()) as isize + 16;
        let lo = if pos - d <= 0 { 0 } else { pilot[(pos - d) as usize] };
        let hi = if pos + d >= m as isize - 1 { u32::MAX } else { pilot[(pos + d) as usize] };
        (lo, hi)
    });
    let mut scan = map
        .par_chunks(chunk_len(ns))
        .map(|c| pulp::Arch::new().dispatch(ScanChunk { c, key, brackets }))
        .reduce(Scan::default, Scan::merge);
    if scan.total == 0 {
        return Some(None);
    }
    let r = ranks(scan.total);
    let mut out = [0u32; 2];
    for t in 0..2 {
        out[t] = scan.pick(t, r[t], brackets[t])?;
    }
    Some(Some(out))
}

/// One chunk's bracketing pass. A [`pulp::WithSimd`] rather than a closure so that
/// the loop itself is compiled into the AVX2 copy (see [`crate::common::simd`]);
/// LLVM may keep a large closure out of line, in baseline code.
struct ScanChunk<'a, K> {
    c: &'a [f32],
    key: &'a K,
    brackets: [(u32, u32); 2],
}

impl<K: Fn(f32) -> Option<u32>> pulp::WithSimd for ScanChunk<'_, K> {
    type Output = Scan;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Scan {
        let (key, brackets) = (self.key, self.brackets);
        let [(lo0, hi0), (lo1, hi1)] = brackets;
        let mut s = Scan::default();
        // Blocks of 16: branch-free counting that vectorises, and a scalar gather
        // only for the rare blocks with a value strictly inside a bracket.
        for blk in self.c.chunks(16) {
            // Plain locals, not arrays: LLVM vectorises these reductions.
            let (mut total, mut lt0, mut eq0, mut le0, mut lt1, mut eq1, mut le1) = (0u32, 0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
            let mut hit = false;
            for &v in blk {
                let (k, ok) = key(v).map_or((0, false), |k| (k, true));
                total += ok as u32;
                lt0 += (ok & (k < lo0)) as u32;
                eq0 += (ok & (k == lo0)) as u32;
                le0 += (ok & (k <= hi0)) as u32;
                lt1 += (ok & (k < lo1)) as u32;
                eq1 += (ok & (k == lo1)) as u32;
                le1 += (ok & (k <= hi1)) as u32;
                hit |= ok & ((k > lo0) & (k < hi0) | (k > lo1) & (k < hi1));
            }
            s.absorb(Counts { total, lt_lo: [lt0, lt1], eq_lo: [eq0, eq1], le_hi: [le0, le1] });
            if hit {
                blk.iter().for_each(|&v| s.gather(key(v), &brackets));
            }
        }
        s
    }
}

/// [`crate::sobel::round_u8`] for `y` in `[0, 255]` or NaN, with no float-to-int conversion:
/// baseline x86-64 cannot vectorise Rust's saturating casts, this compiles to a
/// handful of SIMD adds, compares and bit operations. Adding 2^23 rounds `y` to the
/// nearest integer, ties to even, exactly (the spacing there is 1), and leaves that
/// integer in the low mantissa bits; `y - t` is exact (both below 2^8 and within
/// 0.5 of each other), and is 0.5 only where ties-to-even went down but
/// `round_u8` rounds up.
#[inline(always)]
fn round_unit_u8(y: f32) -> u8 {
    const MAGIC: f32 = 8_388_608.0;
    let y = if y >= 0.0 { y.min(255.0) } else { 0.0 };
    let big = y + MAGIC;
    let t = big - MAGIC;
    (big.to_bits().wrapping_sub(MAGIC.to_bits()) + (y - t >= 0.5) as u32) as u8
}

/// `round(clamp((f(v) - lo) / span, 0, 1) * 255)` for every value, in parallel.
fn render(map: &[f32], lo: f32, hi: f32, f: impl Fn(f32) -> f32 + Sync) -> Vec<u8> {
    let span = (hi - lo).max(1e-12);
    let mut out = vec![0u8; map.len()];
    out.par_chunks_mut(1 << 16).zip(map.par_chunks(1 << 16)).for_each(|(o, m)| {
        pulp::Arch::new().dispatch(RenderChunk { o, m, lo, span, f: &f });
    });
    out
}

/// One chunk of [`render`], a [`pulp::WithSimd`] for the reason given at [`ScanChunk`].
struct RenderChunk<'a, F> {
    o: &'a mut [u8],
    m: &'a [f32],
    lo: f32,
    span: f32,
    f: &'a F,
}

impl<F: Fn(f32) -> f32> pulp::WithSimd for RenderChunk<'_, F> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let (lo, span, f) = (self.lo, self.span, self.f);
        for (o, &v) in self.o.iter_mut().zip(self.m) {
            *o = round_unit_u8(((f(v) - lo) / span).clamp(0.0, 1.0) * 255.0);
        }
    }
}

/// [`crate::common::to_visual`] (linear between the 1st and 99th percentiles of the
/// whole map, by `total_cmp`), with the percentiles taken over every `step`-th
/// value, `step = len / 1M` (so identical to `to_visual` up to 2M samples).
pub(crate) fn percentile_visual(map: &[f32]) -> Vec<u8> {
    if map.is_empty() {
        return Vec::new();
    }
    let step = (map.len() / 1_000_000).max(1);
    let [lo, hi] = select2(map, step, |v| Some(order_key(v)), |n| [(n - 1) / 100, (n - 1) * 99 / 100])
        .map_or([0.0; 2], |k| k.map(from_order_key));
    render(map, lo, hi, |v| v)
}

/// Rendering of `f(map)` linear between the 1st and 99th percentiles of the finite
/// values of `f` over every `len / 262144`-th sample (all zeros when none is finite).
pub(crate) fn strided_visual(map: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<u8> {
    if map.is_empty() {
        return Vec::new();
    }
    let stride = (map.len() / 262_144).max(1);
    let key = |v: f32| {
        let x = f(v);
        x.is_finite().then(|| order_key(x))
    };
    match select2(map, stride, key, |n| [(n - 1) / 100, (n - 1) * 99 / 100]) {
        None => vec![0; map.len()],
        Some(k) => {
            let [lo, hi] = k.map(from_order_key);
            render(map, lo, hi, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sobel::round_u8;

    /// Sort-based reference of [`select2`].
    fn sorted_ranks(map: &[f32], step: usize, finite: bool) -> Option<[f32; 2]> {
        let mut s: Vec<f32> = map.iter().step_by(step).copied().filter(|v| !finite || v.is_finite()).collect();
        if s.is_empty() {
            return None;
        }
        s.sort_unstable_by(|a, b| a.total_cmp(b));
        let n = s.len();
        Some([s[(n - 1) / 100], s[(n - 1) * 99 / 100]])
    }

    fn check(map: &[f32], step: usize) {
        let ranks = |n: usize| [(n - 1) / 100, (n - 1) * 99 / 100];
        let got = select2(map, step, |v| Some(order_key(v)), ranks).map(|k| k.map(from_order_key));
        let want = sorted_ranks(map, step, false);
        assert_eq!(got.map(|a| a.map(f32::to_bits)), want.map(|a| a.map(f32::to_bits)), "step {step}");
        let got = select2(map, step, |v| v.is_finite().then(|| order_key(v)), ranks).map(|k| k.map(from_order_key));
        let want = sorted_ranks(map, step, true);
        assert_eq!(got.map(|a| a.map(f32::to_bits)), want.map(|a| a.map(f32::to_bits)), "finite, step {step}");
    }

    #[test]
    fn bracketed_selection_is_exact() {
        // Smooth, heavy-tailed, tied, and adversarially periodic maps, above the
        // exhaustive threshold so the bracketing path runs.
        let n = 300_000u32;
        let hashed: Vec<f32> = (0..n).map(|i| ((i.wrapping_mul(2654435761) >> 8) % 100_000) as f32 * 0.01).collect();
        let tails: Vec<f32> = hashed.iter().map(|v| (v - 500.0).powi(3)).collect();
        let ties: Vec<f32> = (0..n).map(|i| (i % 3) as f32).collect();
        let periodic: Vec<f32> = (0..n).map(|i| if i % 18 == 0 { 1e6 } else { (i % 7) as f32 }).collect();
        let mut specials = hashed.clone();
        for i in (0..specials.len()).step_by(97) {
            specials[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0][i % 4];
        }
        for m in [&hashed, &tails, &ties, &periodic, &specials] {
            for step in [1, 3, 18] {
                check(m, step);
            }
        }
        check(&vec![f32::NAN; 70_000], 1);
    }

    #[test]
    fn round_unit_matches_round_u8() {
        let near_half = (0..256u32).flat_map(|i| {
            let x = i as f32 + 0.5;
            [f32::from_bits(x.to_bits() - 1), x, f32::from_bits(x.to_bits() + 1), i as f32]
        });
        let steps = (0..=2_560_000).map(|i| i as f32 * 0.0001);
        for y in near_half.chain(steps).chain([f32::NAN, 0.0, -0.0, 255.0, 1e-40]) {
            if y <= 255.0 || y.is_nan() {
                assert_eq!(round_unit_u8(y), round_u8(y), "{y}");
            }
        }
    }

    #[test]
    fn order_key_round_trips_and_orders() {
        let v = [f32::NEG_INFINITY, -3.0, -0.0, 0.0, 1e-30, 2.0, f32::INFINITY, f32::NAN];
        for w in v.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]));
        }
        for x in v {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
        }
    }
}
