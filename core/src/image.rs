//! Image handles: decoded RGB8 pixels, the untouched source file, and metadata.
//! Decoding is where hostile input arrives, so every limit is checked here.

use std::path::Path;
use std::sync::Arc;

use image::{GrayImage, ImageFormat, ImageReader, RgbImage};
use trutheye_imaging::CodecError;
use serde::{Deserialize, Serialize};
use trutheye_plugin_api::{jpeg, ImageRef};

use crate::input::{read_file_limited, InputError};
pub use crate::input::DEFAULT_MAX_FILE_BYTES;

/// Default cap on decoded pixels (64 MP): well above any camera photo in the
/// benchmarks, well below what would exhaust memory on a small machine.
pub const DEFAULT_MAX_PIXELS: u64 = 64_000_000;

/// Why an image could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read.
    #[error("{path}: cannot read file: {err}")]
    Io {
        /// The file.
        path: String,
        /// The OS error (not a `#[source]`: the message already carries it, and
        /// error chains would print it twice).
        err: std::io::Error,
    },
    /// Not a regular file, or larger than `images.max_file_bytes`: refused
    /// before reading (the message names the file).
    #[error("{0}")]
    Input(InputError),
    /// Not an image format we decode.
    #[error("{path}: not a supported image (no JPEG/PNG/TIFF/BMP/WebP signature)")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// Larger than the configured pixel cap (decompression-bomb guard).
    #[error("{path}: {width}x{height} = {mp:.1} megapixels exceeds the limit of {limit_mp:.1} MP (decompression-bomb guard; raise images.max_input_pixels in the config, or --max-pixels for `trutheye op`, if this is intended)")]
    TooLarge {
        /// The file.
        path: String,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Declared size in megapixels.
        mp: f64,
        /// Limit in megapixels.
        limit_mp: f64,
    },
    /// The decoder failed (truncated or corrupt data).
    #[error("{path}: corrupt or truncated {format} data: {detail}")]
    Decode {
        /// The file.
        path: String,
        /// Detected format.
        format: String,
        /// Decoder message.
        detail: String,
    },
    /// Zero width or height.
    #[error("{path}: image has zero width or height")]
    Empty {
        /// The file.
        path: String,
    },
}

/// Facts about an image that the prompt and the report show.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageMeta {
    /// Where it came from (a path, or a description such as `crop of image_clue_0`).
    pub origin: String,
    /// Source format (`jpeg`, `png`, ...) when it is a file.
    pub format: Option<String>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Colour layout of the file before conversion to RGB8 (`rgb8`, `l16`, `rgba8`, ...).
    pub color: Option<String>,
    /// File size in bytes.
    pub file_bytes: Option<u64>,
    /// Estimated IJG quality of a JPEG (from its luma table).
    pub jpeg_quality: Option<u8>,
    /// Chroma subsampling of a JPEG.
    pub jpeg_subsampling: Option<String>,
}

impl From<InputError> for ImageError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Io { path, err } => ImageError::Io { path, err },
            other => ImageError::Input(other),
        }
    }
}

/// How a file is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Cap on decoded pixels (decompression-bomb guard).
    pub max_pixels: u64,
    /// Apply the EXIF orientation of a JPEG as `ImageOps.exif_transpose` does.
    pub exif_transpose: bool,
    /// Cap on the file's size in bytes, checked before reading it
    /// (`images.max_file_bytes`).
    pub max_file_bytes: u64,
}

impl DecodeOptions {
    /// `Image.open(p).convert("RGB")`: no transpose, with a pixel cap and the
    /// default file-size cap.
    pub fn pillow(max_pixels: u64) -> Self {
        Self { max_pixels, exif_transpose: false, max_file_bytes: DEFAULT_MAX_FILE_BYTES }
    }
}

impl Default for DecodeOptions {
    /// The default limits: [`DEFAULT_MAX_PIXELS`], [`DEFAULT_MAX_FILE_BYTES`], no transpose.
    fn default() -> Self {
        Self::pillow(DEFAULT_MAX_PIXELS)
    }
}

/// Reads an image file under `opts.max_file_bytes`: a FIFO, device or
/// directory is refused without blocking, an oversized file before reading.
pub fn read_image_file(path: &Path, opts: &DecodeOptions) -> Result<Vec<u8>, ImageError> {
    Ok(read_file_limited(path, opts.max_file_bytes, "images.max_file_bytes")?)
}

/// Reads and decodes a mask or heat-map file as 8-bit grey (`Image.open(p).convert("L")`
/// for grey files; colour files go through RGB first), under the same file-size
/// and pixel limits as input images.
pub fn open_gray(path: &Path, opts: DecodeOptions) -> Result<GrayImage, ImageError> {
    let p = path.display().to_string();
    let bytes = read_image_file(path, &opts)?;
    decode_gray(&bytes, &p, opts)
}

/// Decodes bytes as 8-bit grey with the pixel limit checked from the header
/// before any pixel is allocated.
pub fn decode_gray(bytes: &[u8], origin: &str, opts: DecodeOptions) -> Result<GrayImage, ImageError> {
    let checked = check_header(bytes, origin, opts.max_pixels)?;
    if checked.format == ImageFormat::Jpeg {
        let codec_err = |e: CodecError| ImageError::Decode { path: origin.into(), format: checked.fmt_name.clone(), detail: e.to_string() };
        let (px, w, h, _) = trutheye_imaging::jpeg_to_rgb(bytes, opts.max_pixels, opts.exif_transpose).map_err(codec_err)?;
        let rgb = RgbImage::from_raw(w, h, px).ok_or_else(|| codec_err(CodecError::Jpeg("decoded buffer has the wrong size".into())))?;
        return Ok(image::imageops::grayscale(&rgb));
    }
    Ok(decode_other(bytes, origin, &checked)?.to_luma8())
}

/// What [`check_header`] found: the format and the declared size, within limits.
struct Checked {
    format: ImageFormat,
    fmt_name: String,
    width: u32,
    height: u32,
}

/// Reads the format and declared size without decoding pixels and refuses an
/// unknown format, an empty image, one over `max_pixels`, or a truncated JPEG.
fn check_header(bytes: &[u8], origin: &str, max_pixels: u64) -> Result<Checked, ImageError> {
    let format = image::guess_format(bytes).map_err(|_| ImageError::UnknownFormat { path: origin.into() })?;
    let fmt_name = format_name(format);
    // Read the declared size first so a bomb is refused before any allocation.
    let (w, h) = if format == ImageFormat::Jpeg {
        // libjpeg's header reader: the decoder that will decode it (it also
        // takes arithmetic-coded files, which the `image` crate refuses).
        let header = trutheye_imaging::read_jpeg_header(bytes)
            .map_err(|e| ImageError::Decode { path: origin.into(), format: fmt_name.clone(), detail: e.to_string() })?;
        (header.width, header.height)
    } else {
        ImageReader::with_format(std::io::Cursor::new(bytes), format)
            .into_dimensions()
            .map_err(|e| ImageError::Decode { path: origin.into(), format: fmt_name.clone(), detail: e.to_string() })?
    };
    if w == 0 || h == 0 {
        return Err(ImageError::Empty { path: origin.into() });
    }
    let pixels = w as u64 * h as u64;
    if pixels > max_pixels {
        return Err(ImageError::TooLarge {
            path: origin.into(),
            width: w,
            height: h,
            mp: pixels as f64 / 1e6,
            limit_mp: max_pixels as f64 / 1e6,
        });
    }
    if format == ImageFormat::Jpeg && !has_end_marker_after_scan(bytes) {
        // Decoders pad a cut-off scan with grey; analysing that would report
        // the padding as a manipulation, so a truncated file is refused.
        return Err(ImageError::Decode {
            path: origin.into(),
            format: fmt_name,
            detail: "truncated JPEG: no end-of-image marker after the scan data".into(),
        });
    }
    Ok(Checked { format, fmt_name, width: w, height: h })
}

/// Decodes a non-JPEG file with the `image` crate, its allocations capped by
/// the checked size.
fn decode_other(bytes: &[u8], origin: &str, c: &Checked) -> Result<image::DynamicImage, ImageError> {
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), c.format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(c.width);
    limits.max_image_height = Some(c.height);
    // 16-bit RGBA plus a conversion copy is the worst case.
    let pixels = c.width as u64 * c.height as u64;
    limits.max_alloc = Some(pixels.saturating_mul(8 + 3).saturating_add(1 << 20));
    reader.limits(limits);
    reader.decode().map_err(|e| ImageError::Decode { path: origin.into(), format: c.fmt_name.clone(), detail: e.to_string() })
}

/// A decoded image: RGB8 pixels, plus the source file bytes when untouched.
#[derive(Clone, Debug)]
pub struct ImageBuf {
    /// The pixels.
    pub rgb: Arc<RgbImage>,
    /// The untouched source file, for operators that read JPEG internals.
    pub encoded: Option<Arc<Vec<u8>>>,
    /// Metadata.
    pub meta: ImageMeta,
}

impl ImageBuf {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.rgb.height()
    }

    /// Wraps derived pixels (a crop, an enhanced copy): no source file.
    pub fn derived(rgb: RgbImage, origin: impl Into<String>) -> Self {
        let meta = ImageMeta { origin: origin.into(), width: rgb.width(), height: rgb.height(), ..Default::default() };
        Self { rgb: Arc::new(rgb), encoded: None, meta }
    }

    /// The borrowed view operators receive.
    pub fn as_ref(&self) -> ImageRef<'_> {
        ImageRef {
            width: self.rgb.width() as usize,
            height: self.rgb.height() as usize,
            rgb: self.rgb.as_raw(),
            encoded: self.encoded.as_deref().map(|v| v.as_slice()),
            format: self.meta.format.as_deref(),
            wanted: trutheye_plugin_api::MapRoles::ALL,
        }
    }

    /// Loads and decodes a file with a pixel cap, as `Image.open(p).convert("RGB")` would.
    pub fn open(path: &Path, max_pixels: u64) -> Result<Self, ImageError> {
        Self::open_with(path, DecodeOptions::pillow(max_pixels))
    }

    /// Loads and decodes a file. The file is read only if it is a regular file
    /// of at most `opts.max_file_bytes` (a FIFO or device is refused at once).
    pub fn open_with(path: &Path, opts: DecodeOptions) -> Result<Self, ImageError> {
        let p = path.display().to_string();
        let bytes = read_image_file(path, &opts)?;
        Self::decode_with(bytes, &p, opts)
    }

    /// Decodes bytes (the origin names them in errors), as `Image.open(...).convert("RGB")` would.
    pub fn decode(bytes: Vec<u8>, origin: &str, max_pixels: u64) -> Result<Self, ImageError> {
        Self::decode_with(bytes, origin, DecodeOptions::pillow(max_pixels))
    }

    /// Decodes bytes. JPEG goes through libjpeg-turbo with Pillow's settings
    /// (`trutheye-imaging`), so the pixels are the ones the checkpoints and the
    /// Python references saw; other formats through the `image` crate.
    pub fn decode_with(bytes: Vec<u8>, origin: &str, opts: DecodeOptions) -> Result<Self, ImageError> {
        let max_pixels = opts.max_pixels;
        let checked = check_header(&bytes, origin, max_pixels)?;
        let format = checked.format;
        let fmt_name = checked.fmt_name.clone();
        let (rgb, color) = if format == ImageFormat::Jpeg {
            let codec_err = |e: CodecError| ImageError::Decode { path: origin.into(), format: fmt_name.clone(), detail: e.to_string() };
            let (px, w, h, header) = trutheye_imaging::jpeg_to_rgb(&bytes, max_pixels, opts.exif_transpose).map_err(codec_err)?;
            let color = match header.mode {
                trutheye_imaging::JpegMode::Gray => "l8",
                trutheye_imaging::JpegMode::Rgb => "rgb8",
                trutheye_imaging::JpegMode::Cmyk => "cmyk8",
            };
            let rgb = RgbImage::from_raw(w, h, px).ok_or_else(|| codec_err(CodecError::Jpeg("decoded buffer has the wrong size".into())))?;
            (rgb, color.to_string())
        } else {
            let dynimg = decode_other(&bytes, origin, &checked)?;
            (dynimg.to_rgb8(), format!("{:?}", dynimg.color()).to_lowercase())
        };
        let (jpeg_quality, jpeg_subsampling) = if format == ImageFormat::Jpeg {
            match jpeg::parse(&bytes) {
                Ok(info) => (info.estimate_quality().map(|q| q.0), Some(info.subsampling())),
                Err(_) => (None, None),
            }
        } else {
            (None, None)
        };
        let meta = ImageMeta {
            origin: origin.into(),
            format: Some(fmt_name),
            width: rgb.width(),
            height: rgb.height(),
            color: Some(color),
            file_bytes: Some(bytes.len() as u64),
            jpeg_quality,
            jpeg_subsampling,
        };
        Ok(Self { rgb: Arc::new(rgb), encoded: Some(Arc::new(bytes)), meta })
    }

    /// One line describing the image, as the prompt shows it.
    pub fn describe(&self) -> String {
        let mut s = format!("{}x{} px", self.width(), self.height());
        if let Some(f) = &self.meta.format {
            s += &format!(", {f}");
        }
        if let Some(q) = self.meta.jpeg_quality {
            s += &format!(", estimated JPEG quality {q}");
        }
        if let Some(ss) = &self.meta.jpeg_subsampling {
            s += &format!(", chroma {ss}");
        }
        s
    }
}

/// True when a JPEG has an EOI marker (FF D9) after its first start-of-scan.
fn has_end_marker_after_scan(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else { return false };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn format_name(f: ImageFormat) -> String {
    f.extensions_str().first().map(|e| if *e == "jpg" { "jpeg" } else { e }).unwrap_or("unknown").to_string()
}

/// Writes an 8-bit grey or RGB image as PNG with the fastest deflate level
/// (`fdeflate`) and the `Sub` filter. Maps are written for people and for
/// later reading, not archived: on a 12-megapixel grey map this is faster than
/// the adaptive filter for files about a sixth larger (OpenCV's `imwrite` also
/// defaults to a fast level).
pub fn save_png_fast(img: &image::DynamicImage, path: &Path) -> Result<(), image::ImageError> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::ImageEncoder;
    let file = std::io::BufWriter::new(std::fs::File::create(path).map_err(image::ImageError::IoError)?);
    let encoder = PngEncoder::new_with_quality(file, CompressionType::Fast, FilterType::Sub);
    match img {
        image::DynamicImage::ImageLuma8(g) => encoder.write_image(g.as_raw(), g.width(), g.height(), image::ExtendedColorType::L8),
        image::DynamicImage::ImageRgb8(c) => encoder.write_image(c.as_raw(), c.width(), c.height(), image::ExtendedColorType::Rgb8),
        other => {
            let c = other.to_rgb8();
            encoder.write_image(c.as_raw(), c.width(), c.height(), image::ExtendedColorType::Rgb8)
        }
    }
}
