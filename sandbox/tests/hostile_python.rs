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
