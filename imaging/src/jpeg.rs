//! JPEG decoding through libjpeg-turbo's decoder, set up as Pillow sets it up.
//!
//! Pillow (`JpegImagePlugin` + `libImaging/JpegDecode.c`) opens a 1-component
//! file as `L`, 3 as `RGB` and 4 as `CMYK` with raw mode `CMYK;I` (Adobe's
//! inverted convention), and leaves every other decoder setting at libjpeg's
//! default: islow IDCT, fancy (triangle) upsampling, block smoothing. So does
//! this module, so the pixels are Pillow's to the bit.

use std::ffi::{c_int, c_ulong, CStr};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use mozjpeg_sys as ffi;

use crate::CodecError;

/// Most scans a progressive file may have. libjpeg-turbo's own advice against
/// scan-count denial of service (a crafted file with thousands of tiny scans
/// costs a full pass each); real encoders write at most a few dozen.
const MAX_SCANS: c_int = 500;

extern "C" {
    // libjpeg-turbo's own query, defined by `simd/<arch>/jsimd.c` when the
    // SIMD paths were built and by `jsimd_none.c` (always 0) when they were not.
    fn jsimd_can_idct_islow() -> c_int;
}

/// Whether mozjpeg-sys built libjpeg-turbo with its SIMD paths (`WITH_SIMD` in
/// its `jconfig.h`, read by this crate's `build.rs`). On x86 that needs `nasm`
/// on the PATH at build time; without them JPEG decoding and encoding give the
/// same pixels about half as fast (`.ci/run` installs nasm).
pub const SIMD_BUILT: bool = cfg!(jpeg_simd_built);

/// Whether the linked libjpeg-turbo decodes (and encodes) with its SIMD paths
/// on this CPU: [`SIMD_BUILT`], and the CPU has the instructions. Benchmarks
/// print it ([`simd_status`]), so a slow JPEG-bound figure is not read as the
/// operator's cost.
pub fn simd() -> bool {
    // SAFETY: `int jsimd_can_idct_islow(void)` has no preconditions; it caches
    // the CPU's features in thread-local state (`init_simd` in simd/*/jsimd.c).
    SIMD_BUILT && unsafe { jsimd_can_idct_islow() != 0 }
}

/// `on`, or `off` with the reason: the words `trutheye --version` and the
/// operator benches print after `libjpeg-turbo SIMD: `.
pub fn simd_status() -> &'static str {
    match (SIMD_BUILT, simd()) {
        (_, true) => "on",
        (true, false) => "off (this CPU lacks the instructions libjpeg-turbo's SIMD paths use)",
        (false, _) if cfg!(any(target_arch = "x86_64", target_arch = "x86")) => "off (built without nasm: JPEG decoding and encoding about 2x slower; imaging/README.md)",
        (false, _) => "off (libjpeg-turbo built without its SIMD paths: JPEG decoding and encoding slower; imaging/README.md)",
    }
}

/// Pixel layout of a decoded JPEG, named as Pillow names the mode it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JpegMode {
    /// One 8-bit channel (`L`).
    Gray,
    /// Three 8-bit channels (`RGB`), whatever the file's internal colour space (YCbCr or RGB).
    Rgb,
    /// Four 8-bit channels (`CMYK`) after Pillow's `CMYK;I` inversion (Adobe files store them inverted).
    Cmyk,
}

impl JpegMode {
    /// Channels per pixel.
    pub fn channels(self) -> usize {
        match self {
            JpegMode::Gray => 1,
            JpegMode::Rgb => 3,
            JpegMode::Cmyk => 4,
        }
    }

    /// Pillow's mode string.
    pub fn pil_name(self) -> &'static str {
        match self {
            JpegMode::Gray => "L",
            JpegMode::Rgb => "RGB",
            JpegMode::Cmyk => "CMYK",
        }
    }
}

/// What the file's headers say, read without decoding any scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JpegHeader {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The mode Pillow opens it in.
    pub mode: JpegMode,
    /// The colour space libjpeg reads the file as (`grayscale`, `ycbcr`, `rgb`, `cmyk`, `ycck`).
    pub color_space: &'static str,
    /// EXIF orientation tag (1..=8) when the file has one.
    pub orientation: Option<u16>,
}

/// Decoded pixels in the file's own mode (interleaved, row-major).
#[derive(Clone, Debug)]
pub struct DecodedJpeg {
    /// Headers, including the EXIF orientation.
    pub header: JpegHeader,
    /// `width * height * mode.channels()` bytes.
    pub pixels: Vec<u8>,
}

/// Reads a JPEG's size, mode and orientation. Cheap: stops before the first scan.
pub fn read_header(bytes: &[u8]) -> Result<JpegHeader, CodecError> {
    with_decompressor(bytes, |d| d.header())
}

/// Decodes a whole JPEG, refusing files over `max_pixels` before allocating pixels.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<DecodedJpeg, CodecError> {
    with_decompressor(bytes, |d| {
        let header = d.header()?;
        let pixels = header.width as u64 * header.height as u64;
        if pixels > max_pixels {
            return Err(CodecError::TooLarge { width: header.width, height: header.height, limit: max_pixels });
        }
        let pixels = d.decode_pixels(&header)?;
        Ok(DecodedJpeg { header, pixels })
    })
}

/// The payload libjpeg's fatal-error callback unwinds with.
pub(crate) struct LibjpegFatal(pub(crate) String);

/// libjpeg's `error_exit` must not return: it unwinds to [`with_decompressor`]'s
/// `catch_unwind` (the C is built with `-fexceptions` for this). `resume_unwind`
/// skips the panic hook, so nothing is printed on the way.
pub(crate) unsafe extern "C-unwind" fn error_exit(cinfo: &mut ffi::jpeg_common_struct) {
    let msg = format_message(cinfo);
    resume_unwind(Box::new(LibjpegFatal(msg)));
}

/// Warnings (corrupt-data recoveries) are not printed: Pillow ignores them too,
/// and truncation is refused by the caller before decoding.
pub(crate) unsafe extern "C-unwind" fn emit_message(_cinfo: &mut ffi::jpeg_common_struct, _level: c_int) {}

/// Stops a progressive file with an absurd number of scans.
unsafe extern "C-unwind" fn progress_monitor(cinfo: &mut ffi::jpeg_common_struct) {
    if cinfo.is_decompressor != 0 {
        let d = &*(cinfo as *mut ffi::jpeg_common_struct as *const ffi::jpeg_decompress_struct);
        if d.input_scan_number > MAX_SCANS {
            resume_unwind(Box::new(LibjpegFatal(format!("more than {MAX_SCANS} progressive scans (refused: scan-count denial of service)"))));
        }
    }
}

/// libjpeg's message text for the pending error.
unsafe fn format_message(cinfo: &mut ffi::jpeg_common_struct) -> String {
    // JMSG_LENGTH_MAX is 200; the binding types the buffer as 80 bytes, so pass a
    // larger buffer through a cast rather than let the C overrun a short one.
    let mut buf = [0u8; 256];
    let err = cinfo.err;
    if let Some(fmt) = err.as_ref().and_then(|e| e.format_message) {
        fmt(cinfo, &*(buf.as_mut_ptr() as *const [u8; 80]));
    }
    CStr::from_bytes_until_nul(&buf).map(|c| c.to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown libjpeg error".into())
}

/// A decompressor reading `bytes`, destroyed on every path.
struct Decompressor<'a> {
    cinfo: Box<ffi::jpeg_decompress_struct>,
    // Boxed so their addresses stay put while libjpeg holds pointers to them.
    _err: Box<ffi::jpeg_error_mgr>,
    _progress: Box<ffi::jpeg_progress_mgr>,
    _bytes: &'a [u8],
    header_read: bool,
}

fn with_decompressor<T>(bytes: &[u8], f: impl FnOnce(&mut Decompressor<'_>) -> Result<T, CodecError>) -> Result<T, CodecError> {
    if bytes.is_empty() {
        return Err(CodecError::Jpeg("empty input".into()));
    }
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<T, CodecError> {
        let mut d = unsafe { Decompressor::new(bytes) };
        let r = f(&mut d);
        drop(d);
        r
    }));
    match result {
        Ok(r) => r,
        Err(payload) => match payload.downcast::<LibjpegFatal>() {
            Ok(fatal) => Err(CodecError::Jpeg(fatal.0)),
            // A Rust panic in our own code: not ours to swallow.
            Err(other) => resume_unwind(other),
        },
    }
}

impl<'a> Decompressor<'a> {
    /// Sets up libjpeg on `bytes`. An error here unwinds through `with_decompressor`,
    /// where the boxes are dropped by the unwinding (libjpeg holds no heap of its
    /// own until `jpeg_create_decompress` has returned).
    unsafe fn new(bytes: &'a [u8]) -> Self {
        let mut err: Box<ffi::jpeg_error_mgr> = Box::new(std::mem::zeroed());
        ffi::jpeg_std_error(&mut err);
        err.error_exit = Some(error_exit);
        err.emit_message = Some(emit_message);
        let mut progress: Box<ffi::jpeg_progress_mgr> = Box::new(std::mem::zeroed());
        progress.progress_monitor = Some(progress_monitor);
        let mut cinfo: Box<ffi::jpeg_decompress_struct> = Box::new(std::mem::zeroed());
        cinfo.common.err = &mut *err;
        ffi::jpeg_create_decompress(&mut *cinfo);
        let mut d = Self { cinfo, _err: err, _progress: progress, _bytes: bytes, header_read: false };
        d.cinfo.common.progress = &mut *d._progress;
        ffi::jpeg_mem_src(&mut d.cinfo, bytes.as_ptr(), bytes.len() as c_ulong);
        // Keep APP1 (EXIF) for the orientation tag.
        ffi::jpeg_save_markers(&mut d.cinfo, 0xE1, 0xFFFF);
        d
    }

    fn header(&mut self) -> Result<JpegHeader, CodecError> {
        let c = &mut *self.cinfo;
        if !self.header_read {
            unsafe { ffi::jpeg_read_header(c, 1) };
            self.header_read = true;
        }
        let mode = match c.num_components {
            1 => JpegMode::Gray,
            3 => JpegMode::Rgb,
            4 => JpegMode::Cmyk,
            n => return Err(CodecError::Jpeg(format!("{n}-component JPEG (Pillow opens only 1, 3 or 4)"))),
        };
        let color_space = match c.jpeg_color_space {
            ffi::J_COLOR_SPACE::JCS_GRAYSCALE => "grayscale",
            ffi::J_COLOR_SPACE::JCS_YCbCr => "ycbcr",
            ffi::J_COLOR_SPACE::JCS_RGB => "rgb",
            ffi::J_COLOR_SPACE::JCS_CMYK => "cmyk",
            ffi::J_COLOR_SPACE::JCS_YCCK => "ycck",
            _ => "other",
        };
        let orientation = unsafe { exif_orientation(c.marker_list) };
        if c.image_width == 0 || c.image_height == 0 {
            return Err(CodecError::Jpeg("zero width or height".into()));
        }
        Ok(JpegHeader { width: c.image_width, height: c.image_height, mode, color_space, orientation })
    }

    fn decode_pixels(&mut self, header: &JpegHeader) -> Result<Vec<u8>, CodecError> {
        let c = &mut *self.cinfo;
        c.out_color_space = match header.mode {
            JpegMode::Gray => ffi::J_COLOR_SPACE::JCS_GRAYSCALE,
            JpegMode::Rgb => ffi::J_COLOR_SPACE::JCS_RGB,
            JpegMode::Cmyk => ffi::J_COLOR_SPACE::JCS_CMYK,
        };
        unsafe { ffi::jpeg_start_decompress(c) };
        let channels = header.mode.channels();
        let (w, h) = (c.output_width as usize, c.output_height as usize);
        if c.output_components as usize != channels || (w, h) != (header.width as usize, header.height as usize) {
            return Err(CodecError::Jpeg(format!(
                "decoder produced {}x{}x{} for a {}x{}x{channels} image",
                w, h, c.output_components, header.width, header.height
            )));
        }
        let stride = w * channels;
        let mut pixels = vec![0u8; stride * h];
        while (c.output_scanline as usize) < h {
            let row = c.output_scanline as usize;
            let mut ptr = pixels[row * stride..].as_mut_ptr();
            let got = unsafe { ffi::jpeg_read_scanlines(c, &mut ptr, 1) };
            if got == 0 {
                return Err(CodecError::Jpeg(format!("decoder stopped at row {row} of {h}")));
            }
        }
        unsafe { ffi::jpeg_finish_decompress(c) };
        if header.mode == JpegMode::Cmyk {
            // Pillow's `CMYK;I` raw mode: Adobe writes CMYK inverted.
            for v in &mut pixels {
                *v = 255 - *v;
            }
        }
        Ok(pixels)
    }
}

impl Drop for Decompressor<'_> {
    fn drop(&mut self) {
        // Frees libjpeg's pools. Never errors.
        unsafe { ffi::jpeg_destroy_decompress(&mut self.cinfo) };
    }
}

/// The orientation tag of the first EXIF APP1 segment, as Pillow's `getexif()` reads IFD0.
unsafe fn exif_orientation(mut marker: *mut ffi::jpeg_marker_struct) -> Option<u16> {
    while let Some(m) = marker.as_ref() {
        if m.marker == 0xE1 && !m.data.is_null() {
            let data = std::slice::from_raw_parts(m.data, m.data_length as usize);
            if let Some(tiff) = data.strip_prefix(b"Exif\0\0") {
                return crate::exif::orientation(tiff);
            }
        }
        marker = m.next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_query_agrees_with_the_build() {
        // SAFETY: as in `simd`.
        let linked = unsafe { jsimd_can_idct_islow() != 0 };
        // The run-time query can only say yes where the header says the paths were
        // built, and every x86_64 CPU has SSE2, the least libjpeg-turbo's x86_64 paths need.
        assert!(!linked || SIMD_BUILT, "jsimd reports SIMD but jconfig.h has no WITH_SIMD");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(linked, SIMD_BUILT);
        }
        assert_eq!(simd_status() == "on", simd());
    }
}
