//! `cargo xtask codegen`: Rust messages from Kafka's JSON message specs.
//!
//! Reads every `*.json` in the spec directory (`$KAFKA_MESSAGE_SPEC_DIR`, default
//! `../shared/kafka-message-spec` beside the workspace), writes one module per spec into
//! `kafka-protocol/src/messages/` plus `mod.rs`, and formats them with rustfmt. With
//! `--check` it writes nothing and fails if the committed files differ from what it would
//! write. The output is committed (no build.rs), so users build without the specs.

mod emit_api;
mod emit_struct;
mod model;
mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace_root;

fn spec_dir() -> PathBuf {
    match std::env::var_os("KAFKA_MESSAGE_SPEC_DIR") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("../shared/kafka-message-spec"),
    }
}

fn out_dir() -> PathBuf {
    workspace_root().join("kafka-protocol/src/messages")
}

/// Reads and parses every spec, sorted by file name.
fn load_specs(dir: &Path) -> Result<Vec<spec::Spec>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read spec directory {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let src = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("?");
            spec::parse_spec(name, &src)
        })
        .collect()
}

/// Formats generated sources with rustfmt (edition 2024), in one process for speed.
fn rustfmt(files: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let tmp = std::env::temp_dir().join(format!("kafka-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let mut paths = Vec::new();
    for (name, src) in files {
        let p = tmp.join(name);
        std::fs::write(&p, src).map_err(|e| e.to_string())?;
        paths.push(p);
    }
    let rustfmt = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into());
    let status = Command::new(rustfmt)
        .args(["--edition", "2024"])
        .args(&paths)
        .status()
        .map_err(|e| format!("cannot run rustfmt: {e}"))?;
    if !status.success() {
        return Err(format!(
            "rustfmt failed on generated code in {}",
            tmp.display()
        ));
    }
    let mut out = BTreeMap::new();
    for name in files.keys() {
        out.insert(
            name.clone(),
            std::fs::read_to_string(tmp.join(name)).map_err(|e| e.to_string())?,
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(out)
}

/// Generates every file: name -> formatted source.
fn generate() -> Result<BTreeMap<String, String>, String> {
    let specs = load_specs(&spec_dir())?;
    if specs.is_empty() {
        return Err(format!("no specs found in {}", spec_dir().display()));
    }
    let mut files = BTreeMap::new();
    for s in &specs {
        files.insert(
            format!("{}.rs", emit_api::module_name(s)),
            emit_api::emit_module(s)?,
        );
    }
    files.insert("mod.rs".into(), emit_api::emit_mod(&specs)?);
    rustfmt(&files)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let check = args.iter().any(|a| a == "--check");
    let files = generate()?;
    let dir = out_dir();
    let existing: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .filter(|n| n.ends_with(".rs"))
                .collect()
        })
        .unwrap_or_default();
    if check {
        let mut stale = Vec::new();
        for (name, src) in &files {
            match std::fs::read_to_string(dir.join(name)) {
                Ok(old) if &old == src => {}
                _ => stale.push(name.clone()),
            }
        }
        stale.extend(existing.iter().filter(|n| !files.contains_key(*n)).cloned());
        if !stale.is_empty() {
            return Err(format!(
                "generated code is stale ({} files, e.g. {}): run `cargo xtask codegen`",
                stale.len(),
                stale[0]
            ));
        }
        println!("codegen: {} files up to date", files.len());
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for name in existing.iter().filter(|n| !files.contains_key(*n)) {
        std::fs::remove_file(dir.join(name)).map_err(|e| e.to_string())?;
    }
    for (name, src) in &files {
        std::fs::write(dir.join(name), src).map_err(|e| e.to_string())?;
    }
    println!("codegen: wrote {} files to {}", files.len(), dir.display());
    Ok(())
}
