//! The hostile corpus (`tests/hostile_python/*.py`, one attack per file, see its
//! README) against the python backend. Each program must be contained: host
//! canaries intact, nothing written outside the jail, no process left behind,
//! the action back within its time limit with an error in the observation, and
//! the jail still serving the next episode.

mod python_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;
use trutheye_core::{ImageBuf, Registry};

const CANARY_TEXT: &str = "TRUTHEYE-CANARY do not modify\n";
const TIMEOUT: Duration = Duration::from_secs(3);

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_file() {
            m.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
        } else {
            m.insert(p, b"<dir>".to_vec());
        }
    }
    m
}

#[test]
fn hostile_python_programs_are_contained() {
    let Some(py) = python_support::python() else { return };
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hostile_python");
    let host_canary_dir = PathBuf::from("/tmp/trutheye-canary");
    std::fs::create_dir_all(&host_canary_dir).unwrap();
    std::fs::write(host_canary_dir.join("canary.txt"), CANARY_TEXT).unwrap();
    let repo_canary = corpus.join("CANARY");
    std::fs::write(&repo_canary, CANARY_TEXT).unwrap();
    // An image that exists on the host, so path-based attacks have a target.
    let src = host_canary_dir.join("source.png");
    RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 7])).save(&src).unwrap();
    let before_canary = snapshot(&host_canary_dir);
    let before_corpus = snapshot(&corpus);

    let backend = python_support::backend(&py, TIMEOUT);
    backend.start().expect("jail starts");
    let jail_pid = backend.jail_pid().expect("jail pid");
    let mut programs: Vec<PathBuf> = std::fs::read_dir(&corpus).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "py")).collect();
    programs.sort();
    assert!(programs.len() >= 40, "hostile corpus has {} programs", programs.len());
    let mut failures = Vec::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for prog in &programs {
        let name = prog.file_name().unwrap().to_string_lossy().to_string();
        let code = std::fs::read_to_string(prog).unwrap();
        let mut state = python_support::state(ImageBuf::open(&src, 1 << 24).unwrap(), Registry::new());
        let mut exec = backend.executor();
        let t = Instant::now();
        let obs = exec.run_code(&code, None, &mut state);
        let took = t.elapsed();
        // A follow-up action in the same episode: a tampered interpreter must not
        // carry the tampering over (it either works pristine or was replaced).
        // A program that forges protocol frames desynchronises its own channel:
        // the host stops that interpreter, so allow one failed follow-up.
        let probe = "import builtins\nprint('alive', getattr(builtins, '_trutheye_tampered', False))";
        let mut again = exec.run_code(probe, None, &mut state);
        if again.error.is_some() {
            again = exec.run_code(probe, None, &mut state);
        }
        drop(exec);
        let kind = obs.error.as_deref().and_then(|e| e.split(':').next()).unwrap_or("none").to_string();
        *outcomes.entry(kind).or_default() += 1;
        if obs.text.contains("ESCAPED") || again.text.contains("ESCAPED") {
            failures.push(format!("{name}: escaped: {}", obs.text));
        }
        if obs.error.is_none() {
            failures.push(format!("{name}: no error in the observation: {}", obs.text.chars().take(300).collect::<String>()));
        }
        if took > TIMEOUT + Duration::from_secs(4) {
            failures.push(format!("{name}: took {took:?} (limit {TIMEOUT:?})"));
        }
        // Tampering with its own interpreter (builtins, sys.modules) may persist
        // into the model's next turn, like any variable; the harness must survive it.
        if !again.text.trim().starts_with("alive ") {
            failures.push(format!("{name}: the next action did not run pristine: {}", again.text.chars().take(200).collect::<String>()));
        }
        if snapshot(&host_canary_dir) != before_canary || snapshot(&corpus) != before_corpus {
            failures.push(format!("{name}: host files changed"));
        }
        // No process of the episode is left: only the template remains in the jail.
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut left = python_support::descendants(jail_pid);
        while left.iter().filter(|(_, c)| c.starts_with("python")).count() > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = python_support::descendants(jail_pid);
        }
        let pythons = left.iter().filter(|(_, c)| c.starts_with("python")).count();
        if backend.jail_pid() == Some(jail_pid) && pythons > 1 {
            failures.push(format!("{name}: {pythons} python processes in the jail after the episode ended: {left:?}"));
        }
        eprintln!("{name:38} {:>7.0} ms  {}", took.as_secs_f64() * 1000.0, obs.error.as_deref().unwrap_or("(no error)").chars().take(110).collect::<String>());
    }
    // The jail still serves a new episode.
    let mut state = python_support::state(ImageBuf::open(&src, 1 << 24).unwrap(), Registry::new());
    let obs = python_support::run_once(&backend, &mut state, "print(2 + 2, image_clue_0.size)");
    assert_eq!(obs.text, "4 (64, 48)", "jail broken after the corpus: {}", obs.text);
    let pid = backend.jail_pid().unwrap();
    drop(backend);
    std::thread::sleep(Duration::from_millis(200));
    assert!(python_support::descendants(pid).is_empty(), "processes left after the jail ended: {:?}", python_support::descendants(pid));
    let _ = std::fs::remove_file(&repo_canary);
    eprintln!("{} programs; outcomes: {outcomes:?}", programs.len());
    assert!(failures.is_empty(), "{} of {} not contained:\n{}", failures.len(), programs.len(), failures.join("\n"));
}

/// The value of the Rust string literal whose body starts at `s` (just after
/// its opening quote); `None` if it is not a plain literal this parser knows.
fn rust_literal(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'x' => {
                    let h: String = [chars.next()?, chars.next()?].iter().collect();
                    out.push(u8::from_str_radix(&h, 16).ok()? as char);
                }
                'u' => {
                    chars.next()?; // {
                    let h: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                }
                '\n' => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// The embedded interpreter's hostile corpus (`tests/hostile.rs`, `tests/hostile/*.rs`:
/// every `fails("...")` program) on the python backend. Real CPython runs much of
/// it without a Python-level error (`import os` works there; the jail is the
/// boundary), so what must hold is containment: back within the time limit, host
/// files untouched, the jail still serving, no process left behind.
#[test]
fn interpreter_hostile_corpus_is_contained_on_python() {
    let Some(py) = python_support::python() else { return };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut programs = Vec::new();
    for file in ["hostile.rs", "hostile/surface.rs", "hostile/functions.rs"] {
        let src = std::fs::read_to_string(dir.join(file)).unwrap();
        for (at, _) in src.match_indices("fails(\"") {
            if let Some(code) = rust_literal(&src[at + 7..]) {
                programs.push(code);
            }
        }
    }
    assert!(programs.len() >= 200, "found {} programs", programs.len());
    let canary_dir = PathBuf::from("/tmp/trutheye-canary-interp");
    std::fs::create_dir_all(&canary_dir).unwrap();
    std::fs::write(canary_dir.join("canary.txt"), CANARY_TEXT).unwrap();
    let before = snapshot(&canary_dir);
    let limit = Duration::from_secs(2);
    let backend = python_support::backend(&py, limit);
    backend.start().expect("jail");
    let img = || ImageBuf::derived(RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 9])), "hostile");
    let (mut errors, mut slow) = (0usize, Vec::new());
    for code in &programs {
        let mut state = python_support::state(img(), Registry::new());
        let t = Instant::now();
        let obs = backend.executor().run_code(code, None, &mut state);
        if t.elapsed() > limit + Duration::from_secs(4) {
            slow.push(format!("{:?} took {:?}", code.chars().take(60).collect::<String>(), t.elapsed()));
        }
        errors += obs.error.is_some() as usize;
        assert!(!obs.text.contains("TRUTHEYE-CANARY"), "{code}: read a host file");
    }
    assert!(slow.is_empty(), "{slow:?}");
    assert_eq!(snapshot(&canary_dir), before, "host files changed");
    let jail_pid = backend.jail_pid().expect("jail still running");
    let mut state = python_support::state(img(), Registry::new());
    assert_eq!(python_support::run_once(&backend, &mut state, "print(6 * 7)").text, "42");
    std::thread::sleep(Duration::from_millis(300));
    let pythons = python_support::descendants(jail_pid).iter().filter(|(_, c)| c.starts_with("python")).count();
    assert_eq!(pythons, 1, "only the template is left: {:?}", python_support::descendants(jail_pid));
    eprintln!("{} interpreter-hostile programs on the python backend: {errors} ended in an error, all contained", programs.len());
}
