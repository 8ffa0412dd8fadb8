//! Build script: three jobs, all about knowing *which* Python and Rust we run on.
//!
//! 1. Benches and the embedded-interpreter tests link libpython. This machine has
//!    two (pyenv's, which we build against, and Debian's older one in a system
//!    directory), so the binaries get an rpath to the one pyo3 configured. The
//!    extension module built by maturin does not link libpython and gets nothing.
//! 2. The code asks which interpreter it is built for: `Py_GIL_DISABLED` (a
//!    free-threaded build) chooses `state_lock`'s kind of lock, so pyo3's cfgs
//!    are set here too.
//! 3. `coroscope.build_info()` reports the versions it was built with; they are
//!    read here, once, and baked in as compile-time environment variables.

use std::process::Command;

fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    pyo3_build_config::use_pyo3_cfgs();

    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (package, var) in [
        ("pyo3", "COROSCOPE_PYO3_VERSION"),
        (
            "pyo3-async-runtimes",
            "COROSCOPE_PYO3_ASYNC_RUNTIMES_VERSION",
        ),
        ("tokio", "COROSCOPE_TOKIO_VERSION"),
    ] {
        let version = locked_version(&lock, package).unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env={var}={version}");
    }

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=COROSCOPE_RUSTC_VERSION={rustc_version}");

    let config = pyo3_build_config::get();
    let version = config.version();
    println!(
        "cargo:rustc-env=COROSCOPE_PYTHON_BUILT_FOR={:?} {}.{}",
        config.implementation(),
        version.major,
        version.minor
    );

    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=build.rs");
}

/// The version of `package` in a Cargo.lock, found without a TOML parser: each
/// `[[package]]` entry starts with `name = "..."` followed by `version = "..."`.
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == name_line {
            let version = lines.next()?.trim();
            return Some(
                version
                    .strip_prefix("version = \"")?
                    .trim_end_matches('"')
                    .to_owned(),
            );
        }
    }
    None
}
