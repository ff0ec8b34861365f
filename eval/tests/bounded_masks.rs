//! Masks and heat-maps are read under the same limits as input images (issue
//! 15): a FIFO does not block, a header claiming more pixels than the limit is
//! refused before decoding, a manifest that is a FIFO is refused.

#![cfg(unix)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use trutheye_eval::{heatmap, Dataset, GtMask};

fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs)).unwrap_or_else(|_| panic!("{what} did not return within {secs} s (blocked on a FIFO?)"))
}

fn mkfifo(path: &Path) {
    let st = std::process::Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// An 8-bit grey PNG whose header claims `w`×`h`, with a token IDAT and IEND.
fn png_header_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr.as_slice()), (b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01][..]), (b"IEND", &[][..])] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        let mut c = 0xFFFF_FFFFu32;
        for &b in &body {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        out.extend_from_slice(&body);
        out.extend_from_slice(&(!c).to_be_bytes());
    }
    out
}

#[test]
fn masks_and_heatmaps_that_are_fifos_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("mask.png");
    mkfifo(&fifo);
    let p = fifo.clone();
    let e = within(5, "GtMask::open", move || GtMask::open(&p).unwrap_err().to_string());
    assert_eq!(e, format!("mask {}: not a regular file (a FIFO)", fifo.display()));
    let d = dir.path().to_path_buf();
    let e = within(5, "heatmap::load", move || heatmap::load(&d, "mask.png", 8, 8).unwrap_err().to_string());
    assert!(e.starts_with("heat-map ") && e.ends_with("mask.png: not a regular file (a FIFO)"), "{e}");

    let manifest = dir.path().join("manifest.jsonl");
    mkfifo(&manifest);
    let p = manifest.clone();
    let e = within(5, "Dataset::from_manifest", move || Dataset::from_manifest(&p).map(|_| ()).unwrap_err().to_string());
    assert!(e.ends_with("cannot read manifest: not a regular file (a FIFO)"), "{e}");
}

#[test]
fn mask_over_the_pixel_limit_is_refused_before_decoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bomb = dir.path().join("bomb.png");
    // 20000x20000: 400 MP of mask would be 400 MB as luma, more as RGBA.
    std::fs::write(&bomb, png_header_claiming(20_000, 20_000)).expect("write");
    let e = GtMask::open(&bomb).unwrap_err().to_string();
    assert!(e.contains("bomb.png") && e.contains("20000x20000") && e.contains("exceeds the limit"), "{e}");
    let e = heatmap::load(dir.path(), "bomb.png", 8, 8).unwrap_err().to_string();
    assert!(e.contains("exceeds the limit"), "{e}");

    // A real mask still loads.
    let real = dir.path().join("real.png");
    let mut img = image::GrayImage::new(10, 6);
    img.put_pixel(3, 2, image::Luma([255]));
    img.save(&real).expect("save");
    let m = GtMask::open(&real).expect("loads");
    assert_eq!((m.width, m.height, m.area()), (10, 6, 1));
}
