//! Finds and loads operator plugins.
//!
//! Search order (first match of an operator name wins, see `docs/plugins.md`):
//! 1. each `--plugin-dir`, in the order given;
//! 2. each entry of `TRUTHEYE_PLUGIN_PATH` (`:`-separated; `;` on Windows);
//! 3. `<directory of the trutheye binary>/plugins`, then the binary's directory
//!    itself (so `cargo build` output works without copying).
//!
//! Within a directory, files are taken in name order. Only files named like
//! `libtrutheye_plugin_*.so` (`.dylib` on macOS, `trutheye_plugin_*.dll` on
//! Windows) are considered, as nushell does with `nu_plugin_*`, so a directory of
//! unrelated libraries is never loaded.
//!
//! Each library is opened through its `abi_stable` library header, not
//! `RootModule::load_from_file`, whose per-type cache would hand back the first
//! plugin for every later path. A library built against an incompatible interface
//! (layout or version) is refused with the checker's reason and loading goes on.
//!
//! Before `dlopen`, each file is checked so that a bad file is refused instead of
//! killing the host (see `docs/plugins.md`, "Files that are refused before
//! loading"): it must be a regular file (a FIFO is refused without blocking on
//! it), and on Linux a shared object for this machine whose program and section
//! headers all lie within the file. The dynamic loader `mmap`s each segment; a
//! segment that reaches past the end of a truncated file is mapped anyway and
//! the first access to it raises SIGBUS, which no Rust code can catch.

use crate::CoreError;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::library::lib_header_from_path;
use serde::Serialize;
use trutheye_plugin_api::abi::{AbiOperator, PluginModRef};
use trutheye_plugin_api::{Output, OperatorError};

use crate::image::ImageBuf;
use crate::registry::{run_abi, spec_from_abi, ForensicOperator, OperatorSpec, Registry};

/// Environment variable with extra plugin directories.
pub const PLUGIN_PATH_ENV: &str = "TRUTHEYE_PLUGIN_PATH";

/// A plugin that loaded.
#[derive(Clone, Debug, Serialize)]
pub struct LoadedPlugin {
    /// Name it reports.
    pub name: String,
    /// Version it reports.
    pub version: String,
    /// File it came from.
    pub path: PathBuf,
    /// Operators it provides (including ones shadowed by an earlier plugin).
    pub operators: Vec<String>,
}

/// A plugin that was refused, with the reason.
#[derive(Clone, Debug, Serialize)]
pub struct RefusedPlugin {
    /// File.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// What a load pass did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Directories searched, in order.
    pub searched: Vec<PathBuf>,
    /// Loaded plugins.
    pub loaded: Vec<LoadedPlugin>,
    /// Refused plugins.
    pub refused: Vec<RefusedPlugin>,
}

/// True for file names the loader considers.
pub fn is_plugin_file_name(name: &str) -> bool {
    let (prefix, ext) = if cfg!(windows) { ("trutheye_plugin_", "dll") } else { ("libtrutheye_plugin_", std::env::consts::DLL_EXTENSION) };
    name.starts_with(prefix) && name.rsplit('.').next() == Some(ext)
}

/// The directories to search, in priority order.
pub fn search_dirs(cli_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = cli_dirs.to_vec();
    if let Some(v) = std::env::var_os(PLUGIN_PATH_ENV) {
        dirs.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.join("plugins"));
        dirs.push(exe_dir.clone());
        // Test and bench executables live in target/<profile>/deps.
        if exe_dir.file_name().is_some_and(|n| n == "deps") {
            if let Some(p) = exe_dir.parent() {
                dirs.push(p.to_path_buf());
            }
        }
    }
    dirs
}

/// Loads every plugin from `extra_dirs` and the default places
/// ([`search_dirs`]) into a fresh registry, warning on stderr about each
/// refused plugin (with its reason) so no host drops them silently.
pub fn load_plugins(extra_dirs: &[PathBuf]) -> (Registry, LoadReport) {
    let mut registry = Registry::new();
    let report = load_dirs(&search_dirs(extra_dirs), &mut registry);
    for r in &report.refused {
        eprintln!("warning: plugin {} refused: {}", r.path.display(), r.reason);
    }
    (registry, report)
}

/// Loads every plugin found in `dirs` into `registry`.
pub fn load_dirs(dirs: &[PathBuf], registry: &mut Registry) -> LoadReport {
    let mut report = LoadReport { searched: dirs.to_vec(), ..Default::default() };
    let mut seen = HashSet::new();
    for dir in dirs {
        let Ok(read) = std::fs::read_dir(dir) else {
            tracing::debug!(dir = %dir.display(), "plugin directory not readable; skipped");
            continue;
        };
        let mut files: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(is_plugin_file_name))
            .collect();
        files.sort();
        for path in files {
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(key) {
                continue;
            }
            match load_file(&path, registry) {
                Ok(p) => report.loaded.push(p),
                Err(reason) => {
                    tracing::warn!(plugin = %path.display(), "plugin refused: {reason}");
                    report.refused.push(RefusedPlugin { path, reason: reason.to_string() });
                }
            }
        }
    }
    report
}

/// Loads one plugin file into `registry`.
pub fn load_file(path: &Path, registry: &mut Registry) -> Result<LoadedPlugin, CoreError> {
    check_file(path)?;
    let header = lib_header_from_path(path).map_err(|e| CoreError::Plugin(one_line(&e.to_string())))?;
    let module = header.init_root_module::<PluginModRef>().map_err(|e| CoreError::Plugin(one_line(&e.to_string())))?;
    let name = module.name()().into_string();
    let version = module.version()().into_string();
    let decls = module.operators()();
    let origin = format!("{name} {version} ({})", path.display());
    let mut operators = Vec::new();
    for decl in decls.into_iter() {
        operators.push(decl.name.to_string());
        registry.register(Arc::new(PluginOperator { spec: spec_from_abi(&decl, origin.clone()), decl }));
    }
    tracing::info!(plugin = %name, %version, operators = operators.len(), path = %path.display(), "plugin loaded");
    Ok(LoadedPlugin { name, version, path: path.to_path_buf(), operators })
}

/// Checks a plugin file before it is handed to the dynamic loader: a regular
/// file (without blocking on a FIFO) and, on Linux, a well-formed ELF shared
/// object for this machine whose headers and segments lie within the file.
/// The error is the reason, one line (the caller names the file).
pub fn check_file(path: &Path) -> Result<(), CoreError> {
    let (file, size) = crate::input::open_regular(path).map_err(|e| CoreError::Plugin(e.detail()))?;
    #[cfg(target_os = "linux")]
    check_elf(file, size).map_err(CoreError::Plugin)?;
    #[cfg(not(target_os = "linux"))]
    let _ = (file, size);
    Ok(())
}

/// The ELF machine this process runs on, when known.
#[cfg(target_os = "linux")]
fn host_machine() -> Option<object::elf::Machine> {
    use object::elf;
    if cfg!(target_arch = "x86_64") {
        Some(elf::EM_X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(elf::EM_AARCH64)
    } else if cfg!(target_arch = "x86") {
        Some(elf::EM_386)
    } else if cfg!(target_arch = "arm") {
        Some(elf::EM_ARM)
    } else if cfg!(any(target_arch = "riscv64", target_arch = "riscv32")) {
        Some(elf::EM_RISCV)
    } else if cfg!(target_arch = "powerpc64") {
        Some(elf::EM_PPC64)
    } else if cfg!(target_arch = "s390x") {
        Some(elf::EM_S390)
    } else if cfg!(target_arch = "loongarch64") {
        Some(elf::EM_LOONGARCH)
    } else {
        None
    }
}

/// Validates the ELF headers of an open plugin file of `size` bytes, reading
/// only the headers (not the segments).
#[cfg(target_os = "linux")]
fn check_elf(file: std::fs::File, size: u64) -> Result<(), String> {
    use object::read::ReadCache;

    let cache = ReadCache::new(file);
    let data = &cache;
    let ident = object::ReadRef::read_bytes_at(data, 0, 16).map_err(|_| format!("not an ELF shared library: the file has only {size} bytes"))?;
    if ident[..4] != object::elf::ELFMAG {
        return Err("not an ELF shared library (no ELF signature)".into());
    }
    let is_64 = ident[4] == object::elf::ELFCLASS64.0;
    if is_64 != cfg!(target_pointer_width = "64") {
        return Err(format!("{}-bit ELF file, but this program is {}-bit", if is_64 { 64 } else { 32 }, usize::BITS));
    }
    if is_64 {
        check_elf_headers::<object::elf::FileHeader64<object::Endianness>>(data, size)
    } else {
        check_elf_headers::<object::elf::FileHeader32<object::Endianness>>(data, size)
    }
}

#[cfg(target_os = "linux")]
fn check_elf_headers<'data, Elf: object::read::elf::FileHeader<Endian = object::Endianness>>(data: &'data object::read::ReadCache<std::fs::File>, size: u64) -> Result<(), String>
where
    &'data object::read::ReadCache<std::fs::File>: object::ReadRef<'data>,
{
    use object::read::elf::{ProgramHeader, SectionHeader};
    use object::{elf, Endian};

    let truncated = |what: String| format!("truncated or corrupt ELF file: {what} but the file has {size} bytes");
    let header = Elf::parse(data).map_err(|e| format!("not a valid ELF file: {e}"))?;
    let endian = header.endian().map_err(|e| format!("not a valid ELF file: {e}"))?;
    if endian.is_big_endian() != cfg!(target_endian = "big") {
        return Err("ELF file of the other byte order than this machine".into());
    }
    if header.e_type(endian) != elf::ET_DYN {
        return Err(format!("ELF file is not a shared library (e_type {})", header.e_type(endian).0));
    }
    if let Some(machine) = host_machine() {
        let m = header.e_machine(endian);
        if m != machine {
            return Err(format!("ELF shared library for another machine (e_machine {}, this machine is {})", m.0, machine.0));
        }
    }
    let phoff: u64 = header.e_phoff(endian).into();
    let phnum = u64::from(header.e_phnum(endian));
    let ph_end = phoff.saturating_add(phnum.saturating_mul(u64::from(header.e_phentsize(endian))));
    if ph_end > size {
        return Err(truncated(format!("the program header table ends at byte {ph_end}")));
    }
    let segments = header.program_headers(endian, data).map_err(|e| format!("corrupt ELF program headers: {e}"))?;
    if segments.is_empty() {
        return Err("ELF file has no program headers (not a loadable library)".into());
    }
    for (i, ph) in segments.iter().enumerate() {
        let (offset, filesz): (u64, u64) = (ph.p_offset(endian).into(), ph.p_filesz(endian).into());
        let end = offset.checked_add(filesz).ok_or_else(|| format!("corrupt ELF file: segment {i} has offset {offset} + size {filesz} beyond 2^64"))?;
        if end > size {
            return Err(truncated(format!("segment {i} ends at byte {end}")));
        }
    }
    let shoff: u64 = header.e_shoff(endian).into();
    if shoff != 0 {
        let shnum = u64::from(header.e_shnum(endian));
        let sh_end = shoff.saturating_add(shnum.saturating_mul(u64::from(header.e_shentsize(endian))));
        if sh_end > size {
            return Err(truncated(format!("the section header table ends at byte {sh_end}")));
        }
        let sections = header.section_headers(endian, data).map_err(|e| format!("corrupt ELF section headers: {e}"))?;
        for (i, sh) in sections.iter().enumerate() {
            let kind = sh.sh_type(endian);
            if kind == elf::SHT_NOBITS || kind == elf::SHT_NULL {
                continue;
            }
            let (offset, len): (u64, u64) = (sh.sh_offset(endian).into(), sh.sh_size(endian).into());
            let end = offset.checked_add(len).ok_or_else(|| format!("corrupt ELF file: section {i} has offset {offset} + size {len} beyond 2^64"))?;
            if end > size {
                return Err(truncated(format!("section {i} ends at byte {end}")));
            }
        }
    }
    Ok(())
}

/// Collapses abi_stable's multi-line diagnostics to one line a user can read.
fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.len() > 400 {
        let cut = (0..=400).rev().find(|i| joined.is_char_boundary(*i)).unwrap_or(0);
        format!("{}…", &joined[..cut])
    } else {
        joined
    }
}

/// An operator living in a loaded library. Libraries are never unloaded (the
/// header API leaks them on purpose), so the function pointer stays valid.
struct PluginOperator {
    spec: OperatorSpec,
    decl: AbiOperator,
}

impl ForensicOperator for PluginOperator {
    fn spec(&self) -> &OperatorSpec {
        &self.spec
    }
    fn run(&self, image: &ImageBuf, params: &serde_json::Value, wanted: trutheye_plugin_api::MapRoles) -> Result<Output, OperatorError> {
        run_abi(&self.decl, image, params, wanted)
    }
}
