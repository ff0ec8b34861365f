//! Experiment: gemm crate cost of x[m,k] @ W^T with W stored [n,k] (as
//! checkpoints store it) vs stored transposed [k,n]. BENCH: 1 thread CPU time.
use std::time::Instant;
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let a = s.rsplit(')').next().unwrap_or("");
    a.split_whitespace().skip(11).take(2).filter_map(|x| x.parse::<f64>().ok()).sum::<f64>() / 100.0
}
fn run(m: usize, n: usize, k: usize, transposed: bool) -> f64 {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let w: Vec<f32> = (0..n * k).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0f32; m * n];
    let (rcs, rrs) = if transposed { (1isize, n as isize) } else { (k as isize, 1isize) };
    let mut go = || unsafe { gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize, w.as_ptr(), rcs, rrs, 0.0f32, 1.0f32, false, false, false, gemm::Parallelism::None) };
    go();
    let (c0, t0, mut it) = (cpu(), Instant::now(), 0);
    while cpu() - c0 < 1.0 { go(); it += 1; }
    let _ = t0;
    (cpu() - c0) / it as f64 * 1e3
}
fn main() {
    for (k, n) in [(896, 896), (896, 128), (896, 4864), (4864, 896)] {
        let (a, b) = (run(256, n, k, false), run(256, n, k, true));
        let g = |t: f64| 2.0 * (256 * n * k) as f64 / t / 1e6;
        println!("{k}->{n}: W[n,k] {a:.2} ms ({:.0} GFLOP/s)   W^T[k,n] {b:.2} ms ({:.0} GFLOP/s)", g(a), g(b));
    }
}
