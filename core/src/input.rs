//! Bounded reading of files a user names: images, masks, configs, scripts,
//! manifests, trajectories.
//!
//! `std::fs::read` trusts the path: a FIFO named `x.jpg` blocks the open (and then
//! the read) forever, `/dev/zero` is read until memory runs out, and a 1.5 GB file
//! with a JPEG signature is held whole (plus a copy) before the decoder says it is
//! corrupt. Every user-supplied file therefore goes through [`read_file_bounded`]:
//!
//! 1. `stat` the path and refuse anything but a regular file, so a device is not
//!    even opened (opening some devices has side effects);
//! 2. open it with `O_NONBLOCK` (a FIFO swapped in after the `stat` does not block
//!    the open) and `fstat` the descriptor: what is checked is what is read;
//! 3. refuse a file larger than the limit before reading a byte;
//! 4. read at most limit + 1 bytes, since a file can grow while it is read.
//!
//! Errors are one line naming the file and what was wrong with it.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

const MIB: u64 = 1 << 20;

/// Default cap on an input image or mask file (`images.max_file_bytes`): 256 MiB.
/// The largest image the pixel limit admits (64 MP) is about 190 MB as an 8-bit
/// RGB TIFF or BMP and well under that as PNG/JPEG/WebP, so no image the decoder
/// would accept is refused, while a junk file costs at most this much memory
/// (plus the decoder's working set) instead of its whole size, twice.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 * MIB;

/// Cap on small text inputs a user names (configs, presets, reward weights,
/// replay scripts, prompt-id files): 64 MiB, far above any real one.
pub const MAX_TEXT_BYTES: u64 = 64 * MIB;

/// Cap on line-oriented data files (dataset manifests, trajectories,
/// predictions, chat samples): 1 GiB. They grow with a run, so the cap is
/// generous; its job is refusing devices and runaway files, not real data.
pub const MAX_DATA_BYTES: u64 = 1024 * MIB;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The OS refused (missing file, permissions, ...).
    #[error("{path}: cannot read file: {err}")]
    Io {
        /// The file.
        path: String,
        /// The OS error (not a `#[source]`: the message already carries it).
        err: std::io::Error,
    },
    /// A FIFO, device, socket or directory.
    #[error("{path}: not a regular file ({kind})")]
    NotRegular {
        /// The file.
        path: String,
        /// What it is instead, e.g. `a FIFO`, `a character device`.
        kind: &'static str,
    },
    /// Larger than the limit (checked before reading).
    #[error("{path}: {} is larger than the input limit of {}{}", size_text(*size), human_bytes(*limit), setting_hint(setting))]
    TooLarge {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
        /// The setting that raises the limit (may be empty).
        setting: &'static str,
    },
    /// Grew past the limit while it was being read.
    #[error("{path}: grew past the input limit of {} while being read{}", human_bytes(*limit), setting_hint(setting))]
    Grew {
        /// The file.
        path: String,
        /// The limit in bytes.
        limit: u64,
        /// The setting that raises the limit (may be empty).
        setting: &'static str,
    },
    /// A text file that is not UTF-8.
    #[error("{path}: not UTF-8 text (invalid byte at offset {offset})")]
    NotText {
        /// The file.
        path: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },
}

impl InputError {
    /// The file the error is about.
    pub fn path(&self) -> &str {
        match self {
            InputError::Io { path, .. }
            | InputError::NotRegular { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::Grew { path, .. }
            | InputError::NotText { path, .. } => path,
        }
    }

    /// The message without the leading `path: `, for callers that word the
    /// file themselves (`--config x.toml: cannot read config: <detail>`).
    pub fn detail(&self) -> String {
        if let InputError::Io { err, .. } = self {
            return err.to_string();
        }
        let full = self.to_string();
        let prefix = format!("{}: ", self.path());
        full.strip_prefix(&prefix).map(str::to_string).unwrap_or(full)
    }

    /// The underlying OS error kind, when there is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            InputError::Io { err, .. } => Some(err.kind()),
            _ => None,
        }
    }
}

fn setting_hint(setting: &str) -> String {
    if setting.is_empty() {
        String::new()
    } else {
        format!(" ({setting})")
    }
}

fn size_text(size: u64) -> String {
    if size < 1024 {
        human_bytes(size)
    } else {
        format!("{} ({size} bytes)", human_bytes(size))
    }
}

/// `1.5 GiB`, `256 MiB`, `900 bytes`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            return if n.is_multiple_of(size) { format!("{} {unit}", n / size) } else { format!("{:.1} {unit}", n as f64 / size as f64) };
        }
    }
    format!("{n} bytes")
}

/// What a non-regular file is, in words.
fn kind_of(meta: &Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// Opens `path` for reading if it is a regular file, without blocking on a FIFO.
/// Returns the open file and its size (from the descriptor, so the file that was
/// checked is the one that will be read).
pub fn open_regular(path: &Path) -> Result<(File, u64), InputError> {
    let p = || path.display().to_string();
    // Follows symlinks, as opening does; refuses devices before opening them.
    let meta = std::fs::metadata(path).map_err(|err| InputError::Io { path: p(), err })?;
    if !meta.is_file() {
        return Err(InputError::NotRegular { path: p(), kind: kind_of(&meta) });
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO swapped in after the stat must not block the open. On a
        // regular file O_NONBLOCK changes nothing. O_NOCTTY: never acquire a
        // controlling terminal by opening one.
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts.open(path).map_err(|err| InputError::Io { path: p(), err })?;
    let meta = file.metadata().map_err(|err| InputError::Io { path: p(), err })?;
    if !meta.is_file() {
        return Err(InputError::NotRegular { path: p(), kind: kind_of(&meta) });
    }
    Ok((file, meta.len()))
}

/// Reads a whole regular file of at most `max_bytes` bytes (see the module docs).
pub fn read_file_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>, InputError> {
    read_file_limited(path, max_bytes, "")
}

/// [`read_file_bounded`], naming the `setting` that raises the limit in the error.
pub fn read_file_limited(path: &Path, max_bytes: u64, setting: &'static str) -> Result<Vec<u8>, InputError> {
    let p = || path.display().to_string();
    let (file, size) = open_regular(path)?;
    if size > max_bytes {
        return Err(InputError::TooLarge { path: p(), size, limit: max_bytes, setting });
    }
    // `size` is at most `max_bytes` here; one extra byte tells growth apart.
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut buf).map_err(|err| InputError::Io { path: p(), err })?;
    if buf.len() as u64 > max_bytes {
        return Err(InputError::Grew { path: p(), limit: max_bytes, setting });
    }
    Ok(buf)
}

/// Reads a UTF-8 text file of at most `max_bytes` bytes.
pub fn read_text_bounded(path: &Path, max_bytes: u64) -> Result<String, InputError> {
    let bytes = read_file_bounded(path, max_bytes)?;
    String::from_utf8(bytes).map_err(|e| InputError::NotText { path: path.display().to_string(), offset: e.utf8_error().valid_up_to() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(256 * MIB), "256 MiB");
        assert_eq!(human_bytes(1500 * MIB), "1.5 GiB");
        assert_eq!(human_bytes(900), "900 bytes");
    }

    #[test]
    fn small_file_reads_and_limit_is_inclusive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.txt");
        std::fs::write(&p, b"hello").expect("write");
        assert_eq!(read_file_bounded(&p, 5).expect("read"), b"hello");
        let e = read_file_bounded(&p, 4).unwrap_err();
        assert!(matches!(e, InputError::TooLarge { size: 5, limit: 4, .. }), "{e}");
        assert_eq!(read_text_bounded(&p, 64).expect("text"), "hello");
    }

    #[test]
    fn missing_file_names_it_once() {
        let e = read_file_bounded(Path::new("/nonexistent/x.jpg"), 10).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("/nonexistent/x.jpg: cannot read file:") && s.matches("os error").count() == 1, "{s}");
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::NotFound));
        assert!(e.detail().contains("os error") && !e.detail().contains("x.jpg"), "{}", e.detail());
    }

    #[test]
    fn directory_is_not_a_regular_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = read_file_bounded(dir.path(), 10).unwrap_err();
        assert!(e.to_string().ends_with("not a regular file (a directory)"), "{e}");
    }
}
