//! Runs issue 15's in-process reproducers against the embedded interpreter and
//! prints, for each, the error (or the output), the elapsed time and the peak
//! RSS of the process that ran it.
//!
//! ```bash
//! cargo run --release -p trutheye-sandbox --example limits_bench            # every case, default limits
//! cargo run --release -p trutheye-sandbox --example limits_bench -- --wall-only   # no step budget: the clock alone
//! ```
//!
//! Each case runs in a child process of its own (this binary with `--case
//! NAME`), so the peak RSS (`VmHWM`) is that case's alone, and a case that
//! aborts or runs away is reported instead of taking the benchmark down. A
//! child is killed after `--kill-after` seconds (default 120). Only the
//! public API is used (`PvrExecutor`, `PvrLimits { max_wall, max_steps }`), so
//! the same file builds against the interpreter before the fix.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use trutheye_core::{Action, CodeSource, EpisodeState, ExecLimits, Executor, ImageBuf, Registry};
use trutheye_sandbox::{PvrExecutor, PvrLimits};

/// `(name, what the issue measured, the actions of one episode)`.
const CASES: [(&str, &str, &[&str]); 6] = [
    (
        "in_big_strings",
        "`b in L` over a 100k list of 1 MB strings: 104 s against 10 s",
        &["s = 'x' * 1000000\nL = [s] * 100000\nb = 'x' * 999999 + 'y'\nprint(b in L)"],
    ),
    (
        "in_big_strings_loop",
        "the same `in`, 100 times in a loop (one loop turn is a few steps, so the clock is read rarely)",
        &["s = 'x' * 1000000\nL = [s] * 100000\nb = 'x' * 999999 + 'y'\nfor i in range(100):\n    x = b in L\nprint(x)"],
    ),
    (
        "median_9_on_8000x5000",
        "MedianFilter(9) on an 8000x5000 resize: 58 s",
        &["from PIL import ImageFilter\nbig = image.resize((8000, 5000))\nout = big.filter(ImageFilter.MedianFilter(9))\nprint(out.size)"],
    ),
    (
        "nested_list_equality",
        "`M == M2` over nested 100k lists: practically forever",
        &["L = list(range(100000))\nL2 = list(range(100000))\nM = [L] * 100000\nM2 = [L2] * 100000\nprint(M == M2)"],
    ),
    (
        "string_append_loop",
        "a string-append loop: 2.88 GB in 4 s; another aborted the server",
        &["L = []\ns = 'x' * 1000000\nwhile True:\n    L.append(s + str(len(L)))"],
    ),
    (
        "session_variables",
        "variables persist between turns: two idle sessions held 3.95 GB",
        &[
            "s = 'x' * 1000000\nA = [s + str(i) for i in range(180)]\nprint(len(A))",
            "B = [s + str(i) for i in range(180)]\nprint(len(B))",
            "C = [s + str(i) for i in range(180)]\nprint(len(C))",
            "D = [s + str(i) for i in range(180)]\nprint(len(D))",
            "E = [s + str(i) for i in range(180)]\nprint(len(E))",
            "F = [s + str(i) for i in range(180)]\nprint(len(F))",
            "G = [s + str(i) for i in range(180)]\nprint(len(G))",
            "have = []\nfor n, f in [('A', lambda: A), ('B', lambda: B), ('C', lambda: C), ('D', lambda: D), ('E', lambda: E), ('F', lambda: F), ('G', lambda: G)]:\n    try:\n        f()\n        have.append(n)\n    except NameError:\n        pass\nprint('variables held:', have)",
        ],
    ),
];

/// Peak resident set of this process (`VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn state() -> EpisodeState {
    let img = RgbImage::from_fn(640, 480, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]));
    EpisodeState::new(vec![Arc::new(ImageBuf::derived(img, "bench"))], Arc::new(Registry::new()), ExecLimits::default())
}

/// Runs one case here and prints one line per action, then `peak_rss_mb=`.
fn run_case(name: &str, wall_only: bool) {
    let Some((_, _, actions)) = CASES.iter().find(|c| c.0 == name) else {
        eprintln!("unknown case {name}");
        std::process::exit(2);
    };
    let mut limits = PvrLimits { max_wall: Duration::from_secs(10), ..PvrLimits::default() };
    if wall_only {
        limits.max_steps = u64::MAX;
    }
    let mut ex = PvrExecutor::new(limits);
    let mut st = state();
    for (i, code) in actions.iter().enumerate() {
        let t = Instant::now();
        let obs = ex.execute(&Action::Code { code: code.to_string(), image_index: None, source: CodeSource::Tag }, &mut st);
        let shown = obs.error.clone().unwrap_or_else(|| obs.text.clone());
        let mut shown = shown.replace('\n', " | ");
        if shown.len() > 300 {
            let mut cut = 300;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            shown.truncate(cut);
            shown.push_str("...");
        }
        println!("action {}: {:.2} s: {shown}", i + 1, t.elapsed().as_secs_f64());
    }
    println!("peak_rss_mb={:.0}", peak_rss_mb());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let wall_only = args.iter().any(|a| a == "--wall-only");
    let kill_after = args
        .iter()
        .position(|a| a == "--kill-after")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(120);
    if let Some(i) = args.iter().position(|a| a == "--case") {
        run_case(args.get(i + 1).map(String::as_str).unwrap_or(""), wall_only);
        return;
    }
    let only: Vec<&String> = args.iter().skip(1).filter(|a| !a.starts_with("--") && a.parse::<u64>().is_err()).collect();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find this executable: {e}");
            std::process::exit(1);
        }
    };
    println!("limits: {}", if wall_only { "defaults, max_wall 10 s, no step budget" } else { "defaults, max_wall 10 s" });
    for (name, issue, _) in CASES.iter().filter(|c| only.is_empty() || only.iter().any(|o| *o == c.0)) {
        println!("== {name} (issue: {issue})");
        let t = Instant::now();
        let mut cmd = Command::new(&exe);
        cmd.args(["--case", name]).stdout(Stdio::piped()).stderr(Stdio::piped());
        if wall_only {
            cmd.arg("--wall-only");
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                println!("   could not start: {e}");
                continue;
            }
        };
        let pid = child.id();
        // A watchdog kills a runaway child (the interpreter before the fix).
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            if rx.recv_timeout(Duration::from_secs(kill_after)).is_err() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        });
        let out = child.wait_with_output();
        let _ = tx.send(());
        let _ = watchdog.join();
        let elapsed = t.elapsed().as_secs_f64();
        match out {
            Ok(o) => {
                for line in String::from_utf8_lossy(&o.stdout).lines() {
                    println!("   {line}");
                }
                let err = String::from_utf8_lossy(&o.stderr);
                if let Some(last) = err.lines().rev().find(|l| !l.trim().is_empty()) {
                    println!("   stderr: {last}");
                }
                println!("   exit: {}, {elapsed:.2} s in all", o.status);
            }
            Err(e) => println!("   failed: {e}"),
        }
    }
}
