// SPDX-License-Identifier: MIT OR Apache-2.0
//! Bundles the dashboard's charting library (uPlot, from npm, pinned by web/package-lock.json)
//! into the binary at build time: the page needs nothing from the network at run time.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let web = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("web");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("web");
    for f in ["package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed={}", web.join(f).display());
    }
    let bundle = out.join("node_modules/uplot/dist/uPlot.iife.min.js");
    let lock = std::fs::read(web.join("package-lock.json")).expect("web/package-lock.json");
    // Installed once per lock file: a rebuild does not call npm again.
    if bundle.exists() && std::fs::read(out.join("package-lock.json")).ok() == Some(lock.clone()) {
        return;
    }
    std::fs::create_dir_all(&out).expect("OUT_DIR/web");
    std::fs::copy(web.join("package.json"), out.join("package.json")).unwrap();
    std::fs::write(out.join("package-lock.json"), &lock).unwrap();
    let status = Command::new("npm")
        .args(["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefix"])
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() && bundle.exists() => {}
        Ok(s) => panic!("npm ci for the dashboard's charting library failed ({s})"),
        Err(e) => panic!(
            "the dashboard bundles its charting library from npm at build time, and npm could \
             not be run ({e}): install Node.js and npm (setup.sh does)"
        ),
    }
}
