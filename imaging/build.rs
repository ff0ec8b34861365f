//! Says at build time when libjpeg-turbo will be built without its SIMD paths:
//! mozjpeg-sys builds them only when `nasm` is on the PATH (x86), and cargo
//! does not show a registry crate's build warnings, so without this a fresh
//! machine gets JPEG decoding and encoding at about half speed, silently.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PATH");
    let x86 = matches!(std::env::var("CARGO_CFG_TARGET_ARCH").as_deref(), Ok("x86_64" | "x86"));
    let decode = std::env::var_os("CARGO_FEATURE_DECODE").is_some();
    if x86 && decode && std::process::Command::new("nasm").arg("-v").output().is_err() {
        println!(
            "cargo:warning=nasm not found: libjpeg-turbo (mozjpeg-sys) is built without its SIMD paths, so JPEG decoding and encoding run about 2x slower (same pixels). \
             Install nasm, then `cargo clean -p mozjpeg-sys` (add `--release` for benches); imaging/README.md"
        );
    }
}
