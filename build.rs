//! Rebuilds when the web client changes: its files are embedded in the binary
//! (`src/http/web.rs`), and a file added to `web/` is not otherwise noticed.

fn main() {
    println!("cargo:rerun-if-changed=web");
    println!("cargo:rerun-if-changed=migrations");
}
