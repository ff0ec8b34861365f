//! JPEG encoding through libjpeg-turbo's compressor, set up as Pillow's
//! `Image.save(..., "JPEG", quality=q)` sets it up, so a re-save (error level
//! analysis, JPEG ghosts) gives Pillow's pixels once decoded.
//!
//! Pillow (`libImaging/JpegEncode.c`) calls `jpeg_set_defaults`, then
//! `jpeg_set_quality(q, TRUE)` and sets the luma sampling factors for the
//! requested subsampling; everything else is libjpeg's default (islow DCT, no
//! smoothing, plain box downsampling). The C library here is mozjpeg's build of
//! libjpeg-turbo, so its "fastest" profile is selected first: that is
//! libjpeg-turbo's behaviour (Annex K tables, no trellis quantisation), which
//! mozjpeg's default profile would change.

use std::ffi::{c_int, c_ulong};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use mozjpeg_sys as ffi;

use crate::jpeg::{emit_message, error_exit, LibjpegFatal};
use crate::CodecError;

/// Colour layout of the encoded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JpegLayout {
    /// One grey component (Pillow's mode `L`), from the red channel of the input.
    Gray,
    /// YCbCr with the luma sampled `h`×`v` times as often as chroma (2×2 is 4:2:0,
    /// 2×1 is 4:2:2, 1×1 is 4:4:4), as Pillow's `subsampling` option sets it.
    Color(u8, u8),
}

/// Encodes interleaved RGB8 (`width * height * 3` bytes) as a baseline JPEG.
pub fn encode_rgb(rgb: &[u8], width: u32, height: u32, quality: u8, layout: JpegLayout) -> Result<Vec<u8>, CodecError> {
    if width == 0 || height == 0 || width > 65_500 || height > 65_500 {
        return Err(CodecError::Jpeg(format!("cannot JPEG-encode a {width}x{height} image (each side must be 1..=65500)")));
    }
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(CodecError::Jpeg(format!("{} bytes of RGB for a {width}x{height} image", rgb.len())));
    }
    if let JpegLayout::Color(h, v) = layout {
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(CodecError::Jpeg(format!("sampling factors {h}x{v} are outside 1..=4")));
        }
    }
    // Grey output takes one channel per pixel, as Pillow's `L` holds it.
    let grey: Vec<u8>;
    let (pixels, components, space) = match layout {
        JpegLayout::Gray => {
            grey = rgb.chunks_exact(3).map(|p| p[0]).collect();
            (&grey[..], 1usize, ffi::J_COLOR_SPACE::JCS_GRAYSCALE)
        }
        JpegLayout::Color(..) => (rgb, 3usize, ffi::J_COLOR_SPACE::JCS_RGB),
    };
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { compress(pixels, width, height, components, space, quality, layout) }));
    match result {
        Ok(bytes) => Ok(bytes),
        Err(payload) => match payload.downcast::<LibjpegFatal>() {
            Ok(fatal) => Err(CodecError::Jpeg(fatal.0)),
            Err(other) => resume_unwind(other),
        },
    }
}

/// Frees libjpeg's state and its output buffer on every path, unwinding included.
struct Compressor {
    cinfo: Box<ffi::jpeg_compress_struct>,
    _err: Box<ffi::jpeg_error_mgr>,
    out: *mut u8,
    out_len: c_ulong,
}

impl Drop for Compressor {
    fn drop(&mut self) {
        unsafe {
            ffi::jpeg_destroy_compress(&mut self.cinfo);
            if !self.out.is_null() {
                // jpeg_mem_dest allocates (and grows) the buffer with malloc.
                libc::free(self.out as *mut libc::c_void);
            }
        }
    }
}

unsafe fn compress(pixels: &[u8], width: u32, height: u32, components: usize, space: ffi::J_COLOR_SPACE, quality: u8, layout: JpegLayout) -> Vec<u8> {
    let mut err: Box<ffi::jpeg_error_mgr> = Box::new(std::mem::zeroed());
    ffi::jpeg_std_error(&mut err);
    err.error_exit = Some(error_exit);
    err.emit_message = Some(emit_message);
    let mut cinfo: Box<ffi::jpeg_compress_struct> = Box::new(std::mem::zeroed());
    cinfo.common.err = &mut *err;
    ffi::jpeg_create_compress(&mut *cinfo);
    let mut c = Compressor { cinfo, _err: err, out: std::ptr::null_mut(), out_len: 0 };
    ffi::jpeg_mem_dest(&mut c.cinfo, &mut c.out, &mut c.out_len);
    c.cinfo.image_width = width;
    c.cinfo.image_height = height;
    c.cinfo.input_components = components as c_int;
    c.cinfo.in_color_space = space;
    ffi::jpeg_c_set_int_param(&mut c.cinfo, ffi::J_INT_PARAM::JINT_COMPRESS_PROFILE, ffi::JCP_FASTEST as c_int);
    ffi::jpeg_set_defaults(&mut c.cinfo);
    ffi::jpeg_set_quality(&mut c.cinfo, quality.clamp(1, 100) as c_int, 1);
    if let JpegLayout::Color(h, v) = layout {
        let comps = std::slice::from_raw_parts_mut(c.cinfo.comp_info, 3);
        comps[0].h_samp_factor = h as c_int;
        comps[0].v_samp_factor = v as c_int;
        for chroma in &mut comps[1..] {
            chroma.h_samp_factor = 1;
            chroma.v_samp_factor = 1;
        }
    }
    ffi::jpeg_start_compress(&mut c.cinfo, 1);
    let stride = width as usize * components;
    while c.cinfo.next_scanline < height {
        let row = pixels[c.cinfo.next_scanline as usize * stride..].as_ptr();
        let rows = [row];
        ffi::jpeg_write_scanlines(&mut c.cinfo, rows.as_ptr() as ffi::JSAMPARRAY, 1);
    }
    ffi::jpeg_finish_compress(&mut c.cinfo);
    std::slice::from_raw_parts(c.out, c.out_len as usize).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_what_the_decoder_reads_back_and_refuses_bad_shapes() {
        let (w, h) = (37u32, 29u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7) % 251) as u8).collect();
        for layout in [JpegLayout::Color(2, 2), JpegLayout::Color(1, 1), JpegLayout::Gray] {
            let bytes = encode_rgb(&rgb, w, h, 90, layout).expect("encodes");
            let d = crate::jpeg::decode(&bytes, 1 << 20).expect("decodes");
            assert_eq!((d.header.width, d.header.height), (w, h));
            let channels = if layout == JpegLayout::Gray { 1 } else { 3 };
            assert_eq!(d.pixels.len(), (w * h) as usize * channels);
        }
        assert!(encode_rgb(&rgb[1..], w, h, 90, JpegLayout::Color(2, 2)).is_err());
        assert!(encode_rgb(&rgb, w, h, 90, JpegLayout::Color(5, 1)).is_err());
        assert!(encode_rgb(&[], 0, 0, 90, JpegLayout::Gray).is_err());
    }
}
