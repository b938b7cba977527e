//! Development tasks for the Weir workspace.
//!
//! `cargo xtask codegen [SPEC_DIR]` regenerates `crates/weir-protocol/src/messages/*.rs`
//! and `crates/weir-protocol/src/api.rs` from Kafka's JSON message specs
//! (default `../shared/kafka-messages`, relative to the workspace root).
//! See `xtask/README.md`.

mod emit;
mod spec;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => {
            let root = workspace_root();
            let specs = match args.get(1) {
                Some(p) => PathBuf::from(p),
                None => root.join("../shared/kafka-messages"),
            };
            codegen(&specs, &root.join("crates/weir-protocol/src"))
        }
        _ => bail!("usage: cargo xtask codegen [SPEC_DIR]"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn codegen(spec_dir: &Path, out_dir: &Path) -> Result<()> {
    let mut specs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(spec_dir)
        .with_context(|| format!("reading {}", spec_dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let src = std::fs::read_to_string(&path)?;
        let spec = spec::parse_spec(&src).with_context(|| path.display().to_string())?;
        specs.push(spec);
    }
    let files = emit::emit_all(&specs)?;
    let messages_dir = out_dir.join("messages");
    std::fs::create_dir_all(&messages_dir)?;
    // Remove stale generated files (those carrying the generated banner).
    for e in std::fs::read_dir(&messages_dir)?.filter_map(|e| e.ok()) {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            if text.starts_with(emit::BANNER) {
                std::fs::remove_file(&p)?;
            }
        }
    }
    let mut written = Vec::new();
    for (rel, text) in files {
        let path = out_dir.join(rel);
        std::fs::write(&path, text)?;
        written.push(path);
    }
    let status = std::process::Command::new("rustfmt")
        .arg("--edition")
        .arg("2024")
        .args(&written)
        .status();
    match status {
        Ok(s) if s.success() => {}
        _ => eprintln!("warning: rustfmt failed; generated files are unformatted"),
    }
    println!(
        "generated {} files from {} specs",
        written.len(),
        specs.len()
    );
    Ok(())
}
