//! Hostile and unusual image files: each gives a clear, one-line error naming the
//! file, or decodes to RGB8 with the right metadata. Files are made by the test.

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage, Rgba};
use trutheye_core::image::{ImageBuf, ImageError, DEFAULT_MAX_PIXELS};

fn encode(img: DynamicImage, fmt: ImageFormat) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, fmt).expect("encode");
    buf.into_inner()
}

fn textured(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([((x * 7 + y * 3) % 251) as u8, ((x * x + y) % 253) as u8, ((y * 5) % 255) as u8]))
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

/// A PNG whose header claims `w x h` but carries almost no data.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut png = encode(DynamicImage::ImageRgb8(RgbImage::new(1, 1)), ImageFormat::Png);
    // IHDR data starts at byte 16 (8 signature + 4 length + 4 type).
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn decompression_bomb_is_refused_before_decoding() {
    let err = ImageBuf::decode(png_bomb(10_000, 10_000), "bomb.png", DEFAULT_MAX_PIXELS).unwrap_err();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("bomb.png:") && msg.contains("100.0 megapixels") && msg.contains("limit"), "{msg}");
    // The same guard for a JPEG header claiming 60000x60000.
    let mut jpeg = encode(DynamicImage::ImageRgb8(textured(16, 16)), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline SOF");
    jpeg[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
    let msg = ImageBuf::decode(jpeg, "bomb.jpg", DEFAULT_MAX_PIXELS).unwrap_err().to_string();
    assert!(msg.contains("3600.0 megapixels"), "{msg}");
}

#[test]
fn truncated_and_corrupt_files_name_the_problem() {
    let jpeg = encode(DynamicImage::ImageRgb8(textured(64, 48)), ImageFormat::Jpeg);
    let cut = jpeg[..jpeg.len() / 3].to_vec();
    let m = ImageBuf::decode(cut, "cut.jpg", DEFAULT_MAX_PIXELS).unwrap_err().to_string();
    assert!(m.starts_with("cut.jpg:") && m.contains("truncated JPEG") && !m.contains('\n'), "{m}");
    let e = ImageBuf::decode(b"hello, I am a text file".to_vec(), "notes.jpg", DEFAULT_MAX_PIXELS).unwrap_err();
    assert!(matches!(e, ImageError::UnknownFormat { .. }) && e.to_string().contains("notes.jpg"), "{e}");
    let e = ImageBuf::decode(Vec::new(), "empty.png", DEFAULT_MAX_PIXELS).unwrap_err();
    assert!(e.to_string().contains("empty.png"));
    let e = ImageBuf::open(std::path::Path::new("/definitely/not/here.jpg"), DEFAULT_MAX_PIXELS).unwrap_err();
    assert!(e.to_string().contains("/definitely/not/here.jpg") && e.to_string().contains("cannot read"), "{e}");
}

#[test]
fn gray_sixteen_bit_and_alpha_become_rgb8_with_metadata() {
    let g16: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_fn(9, 7, |x, _| Luma([(x * 7000) as u16]));
    let img = ImageBuf::decode(encode(DynamicImage::ImageLuma16(g16), ImageFormat::Png), "g16.png", DEFAULT_MAX_PIXELS).expect("16-bit gray");
    assert_eq!((img.width(), img.height()), (9, 7));
    assert_eq!(img.meta.color.as_deref(), Some("l16"));
    assert_eq!(img.rgb.get_pixel(1, 0)[0], (7000.0f64 * 255.0 / 65535.0).round() as u8, "16-bit scaled to 8-bit");
    let la: ImageBuffer<LumaA<u8>, Vec<u8>> = ImageBuffer::from_pixel(3, 3, LumaA([80, 10]));
    let img = ImageBuf::decode(encode(DynamicImage::ImageLumaA8(la), ImageFormat::Png), "la.png", DEFAULT_MAX_PIXELS).expect("gray+alpha");
    assert_eq!(img.rgb.get_pixel(0, 0), &Rgb([80, 80, 80]));
    let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> = ImageBuffer::from_pixel(1, 1, Rgba([1, 2, 3, 0]));
    let img = ImageBuf::decode(encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png), "px.png", DEFAULT_MAX_PIXELS).expect("1x1 rgba");
    assert_eq!((img.width(), img.height(), img.meta.format.as_deref()), (1, 1, Some("png")));
}

#[test]
fn jpeg_metadata_reports_quality_and_subsampling() {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 75);
    DynamicImage::ImageRgb8(textured(64, 64)).write_with_encoder(enc).expect("encode");
    let img = ImageBuf::decode(buf, "q75.jpg", DEFAULT_MAX_PIXELS).expect("decodes");
    assert_eq!(img.meta.format.as_deref(), Some("jpeg"));
    assert_eq!(img.meta.jpeg_quality, Some(75), "image's encoder writes IJG tables");
    assert!(img.meta.jpeg_subsampling.is_some());
    assert!(img.encoded.is_some(), "the source bytes travel with the image for JPEG operators");
    assert!(img.describe().contains("quality 75"));
}

#[test]
fn cmyk_jpeg_decodes_to_rgb_and_runs_through_an_operator() {
    let (w, h) = (24u16, 16u16);
    // Pure cyan in CMYK (C=255, M=Y=K=0), as print workflows save it.
    let cmyk: Vec<u8> = (0..w as usize * h as usize).flat_map(|_| [255u8, 0, 0, 0]).collect();
    let mut buf = Vec::new();
    jpeg_encoder::Encoder::new(&mut buf, 95).encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk).expect("encode CMYK");
    match ImageBuf::decode(buf, "cmyk.jpg", DEFAULT_MAX_PIXELS) {
        Ok(img) => {
            assert_eq!((img.width(), img.height()), (24, 16));
            let p = img.rgb.get_pixel(12, 8);
            eprintln!("CMYK cyan decoded to RGB {p:?}");
            // Whatever the Adobe inversion convention, the result is a cyan-ish or its complement: R differs from G/B.
            assert!(p[1].abs_diff(p[2]) < 40 && p[0].abs_diff(p[1]) > 100, "CMYK cyan decoded to {p:?}");
        }
        Err(e) => {
            let m = e.to_string();
            assert!(m.starts_with("cmyk.jpg:") && !m.contains('\n'), "{m}");
        }
    }
}
