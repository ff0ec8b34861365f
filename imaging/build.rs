//! Reads whether mozjpeg-sys built libjpeg-turbo with its SIMD paths (the
//! `WITH_SIMD` its `jconfig.h` defines), hands that to the crate
//! (`jpeg::SIMD_BUILT`), and warns when it did not: on x86 mozjpeg-sys builds
//! them only when `nasm` is on the PATH, and cargo does not show a registry
//! crate's build warnings, so a fresh machine would otherwise get JPEG decoding
//! and encoding at about half speed, silently.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(jpeg_simd_built)");
    // Set for a crate that depends on the `links = "jpeg"` package, i.e. only with feature `decode`.
    let Some(include) = std::env::var_os("DEP_JPEG_INCLUDE") else { return };
    let jconfig: Option<PathBuf> = std::env::split_paths(&include).map(|d| d.join("jconfig.h")).find(|p| p.is_file());
    let simd = match &jconfig {
        Some(p) => {
            println!("cargo:rerun-if-changed={}", p.display());
            std::fs::read_to_string(p).is_ok_and(|s| s.lines().any(|l| l.split_whitespace().eq(["#define", "WITH_SIMD", "1"])))
        }
        None => false,
    };
    if simd {
        println!("cargo:rustc-cfg=jpeg_simd_built");
    }
    if !simd {
        let x86 = matches!(std::env::var("CARGO_CFG_TARGET_ARCH").as_deref(), Ok("x86_64" | "x86"));
        let why = if jconfig.is_none() {
            "mozjpeg-sys's jconfig.h was not found, so libjpeg-turbo's SIMD paths are reported off".to_string()
        } else if x86 {
            "libjpeg-turbo (mozjpeg-sys) was built without its SIMD paths because nasm was not on the PATH: JPEG decoding and encoding run about 2x slower (same pixels). \
             Install nasm, then `cargo clean -p mozjpeg-sys` (add `--release` for benches)"
                .to_string()
        } else {
            "libjpeg-turbo (mozjpeg-sys) was built without its SIMD paths: JPEG decoding and encoding run slower (same pixels)".to_string()
        };
        println!("cargo:warning={why}; imaging/README.md");
    }
}
