//! Hostile input paths (issue 15): a FIFO named like an image, a character
//! device, a sparse file far over the size limit, a mask whose header claims
//! more pixels than the limit. Each is refused with one line naming the file,
//! quickly, without reading it whole (or at all).

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use trutheye_core::image::{open_gray, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_PIXELS};
use trutheye_core::input::{read_file_bounded, read_text_bounded, InputError};
use trutheye_core::{DecodeOptions, ImageBuf, ImageError};

/// Runs `f` on a thread and fails the test if it has not returned within `secs`
/// (a FIFO open blocks forever; the stuck thread is left behind, the test fails).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs)).unwrap_or_else(|_| panic!("{what} did not return within {secs} s (blocked on the file?)"))
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

#[test]
fn fifo_named_like_an_image_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("x.jpg");
    mkfifo(&fifo);
    let p = fifo.clone();
    let err = within(5, "ImageBuf::open on a FIFO", move || ImageBuf::open(&p, DEFAULT_MAX_PIXELS).map(|_| ()).unwrap_err());
    let msg = err.to_string();
    assert!(matches!(err, ImageError::Input(InputError::NotRegular { .. })), "{msg}");
    assert_eq!(msg, format!("{}: not a regular file (a FIFO)", fifo.display()));

    let p = fifo.clone();
    let err = within(5, "open_gray on a FIFO", move || open_gray(&p, DecodeOptions::default()).map(|_| ()).unwrap_err());
    assert!(err.to_string().ends_with("not a regular file (a FIFO)"), "{err}");

    let p = fifo.clone();
    let err = within(5, "read_text_bounded on a FIFO", move || read_text_bounded(&p, 1 << 20).map(|_| ()).unwrap_err());
    assert!(err.to_string().ends_with("not a regular file (a FIFO)"), "{err}");
}

#[test]
fn character_device_is_refused() {
    // /dev/null first: without the check it reads as an empty file, so this
    // fails safely before /dev/zero (which would be read until memory runs out).
    let err = ImageBuf::open(Path::new("/dev/null"), DEFAULT_MAX_PIXELS).map(|_| ()).unwrap_err();
    assert_eq!(err.to_string(), "/dev/null: not a regular file (a character device)");
    let dev = Path::new("/dev/zero");
    if !dev.exists() {
        return;
    }
    let err = within(5, "ImageBuf::open(/dev/zero)", move || ImageBuf::open(Path::new("/dev/zero"), DEFAULT_MAX_PIXELS).map(|_| ()).unwrap_err());
    assert_eq!(err.to_string(), "/dev/zero: not a regular file (a character device)");
    let err = read_file_bounded(dev, 1024).unwrap_err();
    assert_eq!(err.to_string(), "/dev/zero: not a regular file (a character device)");
}

/// A sparse file: `len` bytes on paper, no disk blocks beyond the header.
fn sparse_jpeg(dir: &Path, name: &str, len: u64) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, [0xFF, 0xD8, 0xFF, 0xE0]).expect("write header");
    std::fs::OpenOptions::new().write(true).open(&p).expect("open").set_len(len).expect("set_len");
    p
}

#[test]
fn file_over_the_size_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = sparse_jpeg(dir.path(), "big.jpg", 1500 << 20);
    let t = Instant::now();
    let err = ImageBuf::open(&big, DEFAULT_MAX_PIXELS).map(|_| ()).unwrap_err();
    let took = t.elapsed();
    assert_eq!(
        err.to_string(),
        format!("{}: 1.5 GiB (1572864000 bytes) is larger than the input limit of 256 MiB (images.max_file_bytes)", big.display())
    );
    // Reading 1.5 GB of zeros takes seconds; a stat takes microseconds.
    assert!(took < Duration::from_millis(500), "took {took:?}: was the file read?");

    // The configured limit applies: a 2 MiB file under a 1 MiB limit.
    let small = sparse_jpeg(dir.path(), "small.jpg", 2 << 20);
    let opts = DecodeOptions { max_file_bytes: 1 << 20, ..DecodeOptions::default() };
    let err = ImageBuf::open_with(&small, opts).map(|_| ()).unwrap_err();
    assert!(err.to_string().ends_with("2 MiB (2097152 bytes) is larger than the input limit of 1 MiB (images.max_file_bytes)"), "{err}");
    // ... and the default one lets it through to the decoder (which refuses the zeros).
    assert_eq!(DecodeOptions::default().max_file_bytes, DEFAULT_MAX_FILE_BYTES);
    let err = ImageBuf::open(&small, DEFAULT_MAX_PIXELS).map(|_| ()).unwrap_err();
    assert!(matches!(err, ImageError::Decode { .. }), "{err}");
}

#[test]
fn config_limit_reaches_decode_options() {
    let cfg = trutheye_core::AgentConfig::default_config();
    assert_eq!(cfg.images.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
    assert_eq!(cfg.images.decode_options().max_file_bytes, DEFAULT_MAX_FILE_BYTES);
    let custom = trutheye_core::config::DEFAULT_CONFIG.replacen("max_file_bytes = 268435456", "max_file_bytes = 1000", 1);
    let cfg = trutheye_core::AgentConfig::from_toml(&custom, "x.toml").expect("parses");
    assert_eq!(cfg.images.decode_options().max_file_bytes, 1000);
    // Older configs without the key keep loading, with the default.
    let old = trutheye_core::config::DEFAULT_CONFIG.replacen("max_file_bytes = 268435456", "", 1);
    let cfg = trutheye_core::AgentConfig::from_toml(&old, "old.toml").expect("parses");
    assert_eq!(cfg.images.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
    let zero = trutheye_core::config::DEFAULT_CONFIG.replacen("max_file_bytes = 268435456", "max_file_bytes = 0", 1);
    assert!(trutheye_core::AgentConfig::from_toml(&zero, "z.toml").is_err());
}

#[test]
fn config_path_that_is_a_fifo_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("cfg.toml");
    mkfifo(&fifo);
    let p = fifo.clone();
    let err = within(5, "AgentConfig::load on a FIFO", move || trutheye_core::AgentConfig::load(&p).map(|_| ()).unwrap_err().to_string());
    assert_eq!(err, format!("{}: cannot read config: not a regular file (a FIFO)", fifo.display()));
}

/// A PNG whose IHDR claims `w`×`h`, followed by a tiny IDAT and IEND (the
/// dimensions are read from the header, and that is where the limit must stop it).
fn png_header_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

#[test]
fn mask_over_the_pixel_limit_is_refused_before_decoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mask = dir.path().join("mask.png");
    std::fs::write(&mask, png_header_claiming(20_000, 20_000)).expect("write");
    let err = open_gray(&mask, DecodeOptions::default()).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { width: 20_000, height: 20_000, .. }), "{err}");
    assert!(err.to_string().contains("mask.png") && err.to_string().contains("400.0 megapixels"), "{err}");

    // A real mask decodes to grey, and a tight pixel limit refuses it too.
    let real = dir.path().join("real.png");
    let mut img = image::GrayImage::new(40, 30);
    img.put_pixel(5, 7, image::Luma([255]));
    img.save(&real).expect("write mask");
    let g = open_gray(&real, DecodeOptions::default()).expect("decodes");
    assert_eq!((g.width(), g.height(), g.get_pixel(5, 7).0[0], g.get_pixel(0, 0).0[0]), (40, 30, 255, 0));
    let err = open_gray(&real, DecodeOptions::pillow(1000)).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
}
