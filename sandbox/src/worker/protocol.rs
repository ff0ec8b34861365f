//! The host/worker wire protocol (`trutheye-pvr`, version 1).
//!
//! Every message is one frame: a `u32` little-endian byte length followed by
//! that many bytes of JSON (a [`Msg`], tagged by `"type"`). Pixel data does not
//! go through JSON: a message that carries images is followed by one raw frame
//! per image with its RGB8 pixels (`width * height * 3` bytes, row-major), and
//! one more raw frame with the untouched source file when `encoded_len` is set.
//! Both sides send a [`Msg::Hello`] first and refuse a different protocol name
//! or version.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use trutheye_core::{BBox, Evidence, ExecLimits, ImageMeta, ToolUse};

use crate::PvrLimits;

/// Protocol name both hellos carry.
pub const PROTOCOL: &str = "trutheye-pvr";
/// Protocol version this build speaks.
pub const VERSION: u32 = 1;
/// Largest frame accepted (an image of `ExecLimits::max_pixels` is 120 MB of RGB).
pub const MAX_FRAME: usize = 512 << 20;

/// One protocol message.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    /// First frame of each side.
    Hello {
        /// Always [`PROTOCOL`].
        protocol: String,
        /// [`VERSION`] of the sender.
        version: u32,
        /// Worker: the operators its registry holds.
        #[serde(default)]
        operators: Vec<String>,
        /// Host: the interpreter budgets the worker must use.
        #[serde(default)]
        limits: Option<WireLimits>,
    },
    /// Host: keep the worker's first `start` images and append these (pixels follow).
    LoadImages {
        /// Images kept from before.
        start: usize,
        /// The episode's limits.
        limits: WireExecLimits,
        /// The images, in order.
        images: Vec<WireImage>,
    },
    /// Worker: the episode now holds `count` images.
    Loaded {
        /// Images held.
        count: usize,
    },
    /// Host: run one code action.
    Run {
        /// The snippet.
        code: String,
        /// The image `image`/`img` refer to.
        image_index: Option<usize>,
    },
    /// Worker: what the action produced (pixels of `images` then `artifacts` follow).
    Result {
        /// Text shown to the model.
        text: String,
        /// The error line, if the action failed.
        error: Option<String>,
        /// Localization candidate in `image_clue_0` pixels.
        bbox_candidate: Option<BBox>,
        /// Tools used.
        tools: Vec<ToolUse>,
        /// Images the action added to the episode.
        images: Vec<WireImage>,
        /// Images saved but not shown.
        artifacts: Vec<WireImage>,
        /// The operator runs `text` shows, as data (absent when none ran).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        evidence: Vec<Evidence>,
    },
    /// Either side: the request could not be served.
    Error {
        /// Why.
        message: String,
    },
}

impl Msg {
    /// The hello this build sends.
    pub fn hello(operators: Vec<String>, limits: Option<WireLimits>) -> Self {
        Msg::Hello { protocol: PROTOCOL.into(), version: VERSION, operators, limits }
    }

    /// Raw frames that follow this message.
    pub fn blob_count(&self) -> usize {
        let count = |v: &[WireImage]| v.iter().map(|i| 1 + usize::from(i.encoded_len.is_some())).sum::<usize>();
        match self {
            Msg::LoadImages { images, .. } => count(images),
            Msg::Result { images, artifacts, .. } => count(images) + count(artifacts),
            _ => 0,
        }
    }
}

/// Checks a peer's hello; the error says what each side speaks.
pub fn check_hello(msg: &Msg, peer: &str) -> Result<(), crate::SandboxError> {
    match msg {
        Msg::Hello { protocol, version, .. } if protocol == PROTOCOL && *version == VERSION => Ok(()),
        Msg::Hello { protocol, version, .. } => Err(crate::SandboxError::Worker(format!(
            "protocol mismatch: the {peer} speaks `{protocol}` version {version}, this side speaks `{PROTOCOL}` version {VERSION} \
             (host and worker must be the same trutheye build)"
        ))),
        other => Err(crate::SandboxError::Worker(format!("protocol error: the {peer} did not start with a hello (got {})", kind(other)))),
    }
}

/// The message's `type`, for error messages.
pub fn kind(msg: &Msg) -> &'static str {
    match msg {
        Msg::Hello { .. } => "hello",
        Msg::LoadImages { .. } => "load_images",
        Msg::Loaded { .. } => "loaded",
        Msg::Run { .. } => "run",
        Msg::Result { .. } => "result",
        Msg::Error { .. } => "error",
    }
}

/// An image on the wire (its pixels travel as raw frames).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireImage {
    /// `image_clue_k`.
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Metadata.
    pub meta: ImageMeta,
    /// Place in `image_clue_0`.
    pub region_in_root: Option<BBox>,
    /// Length of the source-file frame, when one follows the pixels.
    pub encoded_len: Option<usize>,
}

/// [`PvrLimits`] on the wire.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct WireLimits {
    /// Steps per action.
    pub max_steps: u64,
    /// Interpreter wall time per action, milliseconds.
    pub max_wall_ms: u64,
    /// Elements of a container.
    pub max_seq_len: usize,
    /// Printed output bytes.
    pub max_output_bytes: usize,
    /// Bytes of a string.
    pub max_str_bytes: usize,
    /// Bytes of source code.
    pub max_code_bytes: usize,
    /// Pixels created per action.
    pub max_created_pixels: u64,
}

impl From<PvrLimits> for WireLimits {
    fn from(l: PvrLimits) -> Self {
        Self {
            max_steps: l.max_steps,
            max_wall_ms: u64::try_from(l.max_wall.as_millis()).unwrap_or(u64::MAX),
            max_seq_len: l.max_seq_len,
            max_output_bytes: l.max_output_bytes,
            max_str_bytes: l.max_str_bytes,
            max_code_bytes: l.max_code_bytes,
            max_created_pixels: l.max_created_pixels,
        }
    }
}

impl From<WireLimits> for PvrLimits {
    fn from(l: WireLimits) -> Self {
        Self {
            max_steps: l.max_steps,
            max_wall: std::time::Duration::from_millis(l.max_wall_ms),
            max_seq_len: l.max_seq_len,
            max_output_bytes: l.max_output_bytes,
            max_str_bytes: l.max_str_bytes,
            max_code_bytes: l.max_code_bytes,
            max_created_pixels: l.max_created_pixels,
            // The memory budgets are not on the wire yet: a worker uses the defaults.
            ..PvrLimits::default()
        }
    }
}

/// [`ExecLimits`] on the wire.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct WireExecLimits {
    /// Largest image side.
    pub max_side: u32,
    /// Most pixels of an image.
    pub max_pixels: u64,
    /// Most images per episode.
    pub max_images: usize,
}

impl From<ExecLimits> for WireExecLimits {
    fn from(l: ExecLimits) -> Self {
        Self { max_side: l.max_side, max_pixels: l.max_pixels, max_images: l.max_images }
    }
}

impl From<WireExecLimits> for ExecLimits {
    fn from(l: WireExecLimits) -> Self {
        Self { max_side: l.max_side, max_pixels: l.max_pixels, max_images: l.max_images }
    }
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len()).ok().filter(|n| *n as usize <= MAX_FRAME).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("frame of {} bytes exceeds the {MAX_FRAME}-byte limit", bytes.len()))
    })?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended inside a frame header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes exceeds the {MAX_FRAME}-byte limit")));
    }
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    r.take(len as u64).read_to_end(&mut buf)?;
    if buf.len() != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended inside a frame"));
    }
    Ok(Some(buf))
}

/// Writes a message and the raw frames that follow it, then flushes.
pub fn send(w: &mut impl Write, msg: &Msg, blobs: &[&[u8]]) -> io::Result<()> {
    let json = serde_json::to_vec(msg).map_err(io::Error::other)?;
    write_frame(w, &json)?;
    for b in blobs {
        write_frame(w, b)?;
    }
    w.flush()
}

/// Encodes a message and its raw frames into one buffer (for a writer thread).
pub fn encode(msg: &Msg, blobs: &[&[u8]]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(blobs.iter().map(|b| b.len() + 4).sum::<usize>() + 256);
    let json = serde_json::to_vec(msg).map_err(io::Error::other)?;
    write_frame(&mut out, &json)?;
    for b in blobs {
        write_frame(&mut out, b)?;
    }
    Ok(out)
}

/// Reads a message and its raw frames; `Ok(None)` on a clean end of stream.
pub fn recv(r: &mut impl Read) -> io::Result<Option<(Msg, Vec<Vec<u8>>)>> {
    let Some(frame) = read_frame(r)? else { return Ok(None) };
    let msg: Msg = serde_json::from_slice(&frame).map_err(|e| {
        let head = String::from_utf8_lossy(&frame[..frame.len().min(120)]).into_owned();
        io::Error::new(io::ErrorKind::InvalidData, format!("malformed message ({e}): {head}"))
    })?;
    let mut blobs = Vec::with_capacity(msg.blob_count());
    for _ in 0..msg.blob_count() {
        blobs.push(read_frame(r)?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended before a pixel frame"))?);
    }
    Ok(Some((msg, blobs)))
}
