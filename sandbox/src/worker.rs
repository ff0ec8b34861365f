//! Worker-process isolation for PVR code actions.
//!
//! [`WorkerExecutor`] runs each code action in a child process, the `trutheye`
//! binary re-executed as the hidden `trutheye pvr-worker` subcommand, which
//! holds a [`crate::PvrExecutor`] and its own copy of the episode's images and
//! operator registry ([`serve`]). The host talks to it over stdin/stdout with
//! the length-prefixed JSON protocol of [`protocol`], applies OS limits to it
//! ([`OsLimits`]), and kills and replaces it when an action overruns its wall
//! time or the worker dies. Native operator code cannot be interrupted inside
//! one process; a process can be killed.

mod host;
mod os;
pub mod protocol;
mod serve;

use std::sync::Arc;

use image::RgbImage;
use trutheye_core::{ImageBuf, NamedImage};

pub use host::{kill_grace, WorkerConfig, WorkerExecutor};
pub use os::OsLimits;
pub use serve::{serve, TEST_HOOKS_ENV, TEST_VERSION_ENV};

use protocol::WireImage;

/// Describes an image for the wire and appends its raw frames to `blobs`.
fn to_wire<'a>(named: &'a NamedImage, blobs: &mut Vec<&'a [u8]>) -> WireImage {
    let img = &named.image;
    blobs.push(img.rgb.as_raw().as_slice());
    if let Some(enc) = &img.encoded {
        blobs.push(enc.as_slice());
    }
    WireImage {
        name: named.name.clone(),
        width: img.width(),
        height: img.height(),
        meta: img.meta.clone(),
        region_in_root: named.region_in_root,
        encoded_len: img.encoded.as_ref().map(|e| e.len()),
    }
}

/// Rebuilds an image from its description and the next raw frames.
fn from_wire(w: &WireImage, blobs: &mut impl Iterator<Item = Vec<u8>>) -> Result<ImageBuf, String> {
    let rgb = blobs.next().ok_or_else(|| format!("{}: pixel frame missing", w.name))?;
    let expected = w.width as u64 * w.height as u64 * 3;
    if rgb.len() as u64 != expected {
        return Err(format!("{}: {} pixel bytes for {}x{} (expected {expected})", w.name, rgb.len(), w.width, w.height));
    }
    let rgb = RgbImage::from_raw(w.width, w.height, rgb).ok_or_else(|| format!("{}: bad pixel buffer", w.name))?;
    let encoded = match w.encoded_len {
        Some(n) => {
            let e = blobs.next().ok_or_else(|| format!("{}: source-file frame missing", w.name))?;
            if e.len() != n {
                return Err(format!("{}: source file of {} bytes, announced {n}", w.name, e.len()));
            }
            Some(Arc::new(e))
        }
        None => None,
    };
    Ok(ImageBuf { rgb: Arc::new(rgb), encoded, meta: w.meta.clone() })
}
