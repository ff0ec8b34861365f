//! Our JPEG re-encoding against Pillow's: the same source saved by Pillow
//! (`jpeg_encode/make_fixtures.py`) and by `jpeg_encode::encode_rgb` decodes to
//! the same pixels, bit for bit (the decoder is Pillow's, `pillow_jpeg.rs`).
//! Error level analysis and JPEG ghosts re-save images this way, so their
//! residuals are the ones a Pillow script computes.

use std::path::{Path, PathBuf};

use trutheye_imaging::jpeg_encode::{encode_rgb, JpegLayout};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jpeg_encode")
}

fn rgb_of(name: &str) -> (Vec<u8>, u32, u32) {
    let img = image::open(dir().join(name)).expect("fixture opens").to_rgb8();
    let (w, h) = img.dimensions();
    (img.into_raw(), w, h)
}

#[test]
fn re_encoding_gives_pillows_pixels() {
    let cases = [
        ("q90_420", 90, JpegLayout::Color(2, 2), "source.png"),
        ("q75_422", 75, JpegLayout::Color(2, 1), "source.png"),
        ("q95_444", 95, JpegLayout::Color(1, 1), "source.png"),
        ("q50_420", 50, JpegLayout::Color(2, 2), "source.png"),
        ("q90_gray", 90, JpegLayout::Gray, "source_gray.png"),
    ];
    let mut failures = Vec::new();
    for (name, quality, layout, source) in cases {
        let (rgb, w, h) = rgb_of(source);
        let ours = encode_rgb(&rgb, w, h, quality, layout).expect("encodes");
        let pillow = std::fs::read(dir().join(format!("{name}.jpg"))).expect("fixture");
        let a = trutheye_imaging::decode_jpeg(&ours, 1 << 20).expect("ours decodes");
        let b = trutheye_imaging::decode_jpeg(&pillow, 1 << 20).expect("Pillow's decodes");
        assert_eq!((a.header.width, a.header.height, a.header.mode), (b.header.width, b.header.height, b.header.mode), "{name}");
        let differing = a.pixels.iter().zip(&b.pixels).filter(|(x, y)| x != y).count();
        if differing > 0 {
            failures.push(format!("{name}: {differing} of {} values differ", a.pixels.len()));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
