//! Our JPEG decode against Pillow's, bit for bit, on the corpus that
//! `jpeg_corpus/make_corpus.py` saved and decoded with Pillow (see its header
//! for the variants: baseline/progressive, 4:2:0/4:2:2/4:4:4, grayscale,
//! Adobe CMYK, restart markers, RGB without transform, odd sizes, all eight
//! EXIF orientations), and on the repo's sample photos.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use trutheye_imaging::{decode_jpeg, jpeg_to_rgb, read_jpeg_header, to_rgb};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jpeg_corpus")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(corpus().join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest json")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn differing(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count() + a.len().abs_diff(b.len())
}

#[test]
fn every_corpus_variant_decodes_bit_identically_to_pillow() {
    let m = manifest();
    let cases = m["cases"].as_array().expect("cases");
    assert!(cases.len() >= 12, "the corpus must hold at least 12 variants");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let jpg = std::fs::read(corpus().join(format!("{name}.jpg"))).expect("jpg");
        let reference = std::fs::read(corpus().join(format!("{name}.ref"))).expect("ref");
        let header = read_jpeg_header(&jpg).expect("header");
        assert_eq!(header.mode.pil_name(), case["mode"].as_str().unwrap(), "{name}: mode");
        assert_eq!((header.width as u64, header.height as u64), (case["width"].as_u64().unwrap(), case["height"].as_u64().unwrap()), "{name}: size");
        assert_eq!(header.orientation.map(u64::from), case["orientation"].as_u64(), "{name}: EXIF orientation");
        let decoded = decode_jpeg(&jpg, u64::MAX).expect("decode");
        let n = differing(&decoded.pixels, &reference);
        if n != 0 {
            failures.push(format!("{name}: {n} of {} decoded bytes differ from Pillow's", reference.len()));
            continue;
        }
        let rgb = to_rgb(decoded.header.mode, &decoded.pixels);
        if sha256(&rgb) != case["sha256_rgb"].as_str().unwrap() {
            failures.push(format!("{name}: convert(\"RGB\") differs from Pillow's"));
        }
        if let Some(want) = case["sha256_transposed_rgb"].as_str() {
            let (t, w, h, _) = jpeg_to_rgb(&jpg, u64::MAX, true).expect("transposed");
            let size = case["transposed_size"].as_array().unwrap();
            assert_eq!((w as u64, h as u64), (size[0].as_u64().unwrap(), size[1].as_u64().unwrap()), "{name}: transposed size");
            if sha256(&t) != want {
                failures.push(format!("{name}: exif_transpose differs from Pillow's"));
            }
            // Not asked: the file's own orientation, as Image.open gives it.
            let (plain, pw, ph, _) = jpeg_to_rgb(&jpg, u64::MAX, false).expect("plain");
            assert_eq!((pw, ph), (header.width, header.height));
            assert_eq!(sha256(&plain), case["sha256_rgb"].as_str().unwrap(), "{name}: untransposed");
        }
    }
    assert!(failures.is_empty(), "{} of {} variants differ from Pillow:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn sample_photos_decode_to_pillows_rgb() {
    let m = manifest();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for s in m["samples"].as_array().expect("samples") {
        let rel = s["path"].as_str().unwrap();
        let jpg = std::fs::read(root.join(rel)).expect("sample");
        let (rgb, w, h, _) = jpeg_to_rgb(&jpg, u64::MAX, false).expect("decode");
        assert_eq!((w as u64, h as u64), (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()), "{rel}");
        assert_eq!(sha256(&rgb), s["sha256_rgb"].as_str().unwrap(), "{rel}: RGB differs from Pillow's");
    }
}

#[test]
fn the_previous_decoder_did_differ_on_the_sample_photo() {
    // Why this crate exists: zune-jpeg (the `image` crate's decoder) rounds
    // differently. If this ever passes with equality, the dependency is moot.
    let rel = "samples/tampered-dev-033.jpg";
    let jpg = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)).expect("sample");
    let ours = jpeg_to_rgb(&jpg, u64::MAX, false).expect("decode").0;
    let zune = image::load_from_memory_with_format(&jpg, image::ImageFormat::Jpeg).expect("zune").to_rgb8().into_raw();
    let n = differing(&ours, &zune);
    let max = ours.iter().zip(&zune).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
    eprintln!("{rel}: zune-jpeg differs from libjpeg-turbo (= Pillow) on {n} of {} bytes ({:.1}%), by up to {max} levels", ours.len(), 100.0 * n as f64 / ours.len() as f64);
    assert!(n > 0);
}

#[test]
fn hostile_bytes_give_one_line_errors() {
    let good = std::fs::read(corpus().join("baseline_q90_420.jpg")).expect("jpg");
    for (what, bytes) in [
        ("empty", Vec::new()),
        ("not a jpeg", b"GIF89a....".to_vec()),
        ("header only", good[..40].to_vec()),
        ("no SOF", vec![0xFF, 0xD8, 0xFF, 0xD9]),
    ] {
        let e = decode_jpeg(&bytes, u64::MAX).expect_err(what).to_string();
        assert!(!e.is_empty() && !e.contains('\n'), "{what}: {e:?}");
    }
    let e = decode_jpeg(&good, 100).expect_err("cap").to_string();
    assert!(e.contains("exceeds the limit of 100 pixels"), "{e}");
    // Every truncation point either decodes (libjpeg pads, as Pillow with
    // LOAD_TRUNCATED_IMAGES) or errors; none crashes.
    for cut in (2..good.len()).step_by(37) {
        let _ = decode_jpeg(&good[..cut], u64::MAX);
    }
    // Bit flips across the whole file.
    for i in (0..good.len()).step_by(11) {
        let mut b = good.clone();
        b[i] ^= 0x5A;
        let _ = decode_jpeg(&b, u64::MAX);
    }
}
