//! The python backend's conventions and failure handling, on real CPython in
//! the jail: every peer's names in scope, variables across turns, every image
//! channel, operators called from Python, the original file opened by path,
//! and interpreters replaced (with a message) after a timeout or a crash.

mod common;
mod python_support;

use std::time::Duration;

use image::RgbImage;
use trutheye_core::{ImageBuf, Registry};
use trutheye_plugin_api::RawOperator;

fn registry() -> Registry {
    let mut r = Registry::new();
    assert!(r.register_native::<common::Blocky>());
    r
}

fn photo() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("photo.png");
    common::gradient().save(&p).unwrap();
    (dir, p)
}

#[test]
fn conventions_channels_and_persistence() {
    let Some(py) = python_support::python() else { return };
    let b = python_support::backend(&py, Duration::from_secs(20));
    let (_dir, path) = photo();
    let mut st = python_support::state(ImageBuf::open(&path, 1 << 24).unwrap(), registry());
    let mut ex = b.executor();

    // Names every peer's harness provides.
    let o = ex.run_code(
        "print(image_clue_0.size, image.size, img.size, image_1.size, type(draw).__name__)\n\
         print(np.__name__, cv2.__name__, cv.__name__, plt.__name__.split('.')[-1], ImageChops.__name__, round(PI, 3))\n\
         x = 41",
        None,
        &mut st,
    );
    assert_eq!(o.error, None, "{}", o.text);
    assert_eq!(o.text, "(64, 48) (64, 48) (64, 48) (64, 48) ImageDraw\nnumpy cv2 cv2 pyplot PIL.ImageChops 3.142");
    // Variables persist across turns.
    let o = ex.run_code("x += 1\nprint(x)", None, &mut st);
    assert_eq!(o.text, "42");

    // plt.subplots figure shown once, with its pixel size (dpi 100 x figsize).
    let o = ex.run_code("fig, ax = plt.subplots(1, 2, figsize=(4, 2))\nax[0].imshow(image_clue_0)\nax[1].hist(np.array(image).ravel(), bins=8)\nplt.show()", None, &mut st);
    assert_eq!(o.error, None, "{}", o.text);
    assert_eq!(o.images.len(), 1);
    assert_eq!((o.images[0].image.width(), o.images[0].image.height()), (400, 200));

    // A crop assigned to `result` is shown and is the localization candidate.
    let o = ex.run_code("result = image_clue_0.crop((8, 4, 40, 36)).resize((64, 64))", None, &mut st);
    assert_eq!(o.error, None, "{}", o.text);
    assert_eq!(o.images.len(), 1);
    assert_eq!(o.bbox_candidate, Some([8, 4, 40, 36]));
    let crop_name = o.images[0].name.clone();
    // ... and is a variable under its episode name in the next turn.
    let o = ex.run_code(&format!("print({crop_name}.size)"), None, &mut st);
    assert_eq!(o.text, "(64, 64)");

    // Thyme: a file saved under the scratch dir whose path is printed.
    let o = ex.run_code("p = os.path.join(temp_output_dir, 'zoom.png')\nimage_clue_0.crop((0, 0, 20, 10)).save(p)\nprint(p)", None, &mut st);
    assert_eq!(o.error, None, "{}", o.text);
    assert_eq!(o.images.len(), 1, "{}", o.text);
    assert_eq!((o.images[0].image.width(), o.images[0].image.height()), (20, 10));

    // The original file opens read-only by its own path, with Pillow and OpenCV.
    let p = path.display();
    let o = ex.run_code(&format!("im = Image.open('{p}')\nprint(im.size, im.mode)\nprint(cv2.imread('{p}').shape)"), None, &mut st);
    assert_eq!(o.text, "(64, 48) RGB\n(48, 64, 3)", "{}", o.text);
    let o = ex.run_code(&format!("open('{p}', 'ab')"), None, &mut st);
    assert!(o.error.as_deref().is_some_and(|e| e.starts_with("OSError") || e.starts_with("PermissionError") || e.starts_with("FileNotFoundError")), "{:?}", o.error);

    // Pixels are Pillow's: the same statistic as the fixture's formula.
    let o = ex.run_code("a = np.asarray(image_clue_0)\nprint(int(a[10, 20, 0]), int(a[10, 20, 1]), int(a[10, 20, 2]))", None, &mut st);
    assert_eq!(o.text, "80 50 30");

    // Errors: CPython's type, message and line.
    let o = ex.run_code("a = 1\nb = [1, 2][5]", None, &mut st);
    assert_eq!(o.error.as_deref(), Some("IndexError: list index out of range (line 2)"));
    assert_eq!(trutheye_core::Executor::backend(&ex), Some("python"));
}

#[test]
fn operators_are_callable_from_python() {
    let Some(py) = python_support::python() else { return };
    let b = python_support::backend(&py, Duration::from_secs(20));
    let (_dir, path) = photo();
    let mut st = python_support::state(ImageBuf::open(&path, 1 << 24).unwrap(), registry());
    let mut ex = b.executor();
    let o = ex.run_code(
        "r = blocky(image_clue_0.crop((16, 8, 48, 40)), scale=2.0)\n\
         print(sorted(r))\nprint(r['stats']['n'], r['regions'], r['map'].size)\n\
         m = np.asarray(r['map'])\nprint(int(m.mean()))",
        None,
        &mut st,
    );
    assert_eq!(o.error, None, "{}", o.text);
    // The operator saw exactly the crop (32x32 pixels), regions come back in image_clue_0 pixels.
    assert!(o.text.contains("['map', 'regions', 'stats', 'summary']"), "{}", o.text);
    assert!(o.text.contains("1024 [[18, 11, 26, 20]] (32, 32)"), "{}", o.text);
    assert_eq!(o.tools.iter().filter(|t| t.name == "blocky" && t.ok).count(), 1);
    assert_eq!(o.images.len(), 1, "the operator's visual map is shown");
    // The host records the run as data too.
    assert_eq!(o.evidence.len(), 1);
    assert_eq!((o.evidence[0].number("n"), o.evidence[0].root_regions()[0].bbox), (Some(1024.0), [18, 11, 26, 20]));
    // A bad parameter is the operator's schema error, as a TypeError.
    let o = ex.run_code("blocky(image_clue_0, nope=1)", None, &mut st);
    assert!(o.error.as_deref().is_some_and(|e| e.starts_with("TypeError")), "{:?}", o.error);
    let _ = common::Blocky::NAME;
}

#[test]
fn timeouts_and_crashes_replace_the_interpreter() {
    let Some(py) = python_support::python() else { return };
    let b = python_support::backend(&py, Duration::from_secs(2));
    let img = ImageBuf::derived(RgbImage::new(8, 8), "black");
    let mut st = python_support::state(img, Registry::new());
    let mut ex = b.executor();
    assert_eq!(ex.run_code("v = 7\nprint(v)", None, &mut st).text, "7");
    let pid = ex.interpreter_pid();
    let t = std::time::Instant::now();
    let o = ex.run_code("while True:\n    pass", None, &mut st);
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    assert_eq!(o.error.as_deref(), Some("TimeoutError: the action ran past its 2 s limit and was stopped"));
    assert!(o.text.contains("variables from earlier turns are gone"), "{}", o.text);
    let o = ex.run_code("print(v)", None, &mut st);
    assert_eq!(o.error.as_deref(), Some("NameError: name 'v' is not defined (line 1)"));
    assert_ne!(ex.interpreter_pid(), pid);
    // A native crash.
    let o = ex.run_code("import ctypes\nctypes.string_at(0)", None, &mut st);
    assert!(o.error.as_deref().is_some_and(|e| e.contains("SIGSEGV")), "{:?}", o.error);
    assert_eq!(ex.run_code("print('back')", None, &mut st).text, "back");
    // Too much memory for the address-space limit is Python's MemoryError, and the interpreter lives on.
    let o = ex.run_code("w = 3\nb = bytearray(64 << 30)", None, &mut st);
    assert!(o.error.as_deref().is_some_and(|e| e.starts_with("MemoryError")), "{:?}", o.error);
    assert_eq!(ex.run_code("print(w)", None, &mut st).text, "3");
}

#[test]
fn missing_interpreter_is_one_clear_line() {
    let err = trutheye_sandbox::python::PythonBackend::new(trutheye_sandbox::python::PythonConfig::new("/nonexistent/python3")).err().expect("must fail").to_string();
    assert!(err.starts_with("python backend: cannot run /nonexistent/python3"), "{err}");
    assert!(err.contains("trutheye pvr setup"), "{err}");
    assert!(!err.contains('\n'));
}

#[test]
fn prepare_starts_the_interpreter_before_the_first_action() {
    let Some(py) = python_support::python() else { return };
    let b = python_support::backend(&py, Duration::from_secs(20));
    let (_dir, path) = photo();
    let mut st = python_support::state(ImageBuf::open(&path, 1 << 24).unwrap(), Registry::new());
    let mut ex = b.executor();
    trutheye_core::Executor::prepare(&mut ex, &st);
    let pid = ex.interpreter_pid();
    assert!(pid.is_some(), "prepare forks the episode's interpreter");
    let o = ex.run_code("print(image_clue_0.size, image_path.endswith('photo.png'))", None, &mut st);
    assert_eq!(o.text, "(64, 48) True");
    assert_eq!(ex.interpreter_pid(), pid, "the prepared interpreter runs the first action");
}
