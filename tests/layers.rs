//! The library's layers run one way: each module uses only modules of the layers below it, as
//! ARCHITECTURE.md's "Layers" lists them, and only the command line reads the environment.
//!
//! The uses are found in the source text: every `crate::name` path (and `use crate::{a, b}`
//! group) outside comments and `#[cfg(test)]` modules, with the names `lib.rs` re-exports mapped
//! to their modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The text of a source file without comments and without its test module (everything from
/// the first `#[cfg(test)]` on: test modules come last in this crate's files).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.split("//").next().unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The names a path segment list `crate::…` starts with: `crate::a::b` gives `a`, and
/// `crate::{a::x, b}` gives `a` and `b`.
fn used_names(code: &str) -> Vec<String> {
    names_after(code, "crate::")
}

/// The names that paths starting with `prefix` (`crate::`, `super::`, `model::`) use first.
fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let boundary = at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        rest = &rest[at + prefix.len()..];
        if !boundary {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let first = item.trim().split("::").next().unwrap_or_default().trim();
                if !first.is_empty() {
                    names.push(first.to_string());
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            names.push(name);
        }
    }
    names
}

/// The layers of ARCHITECTURE.md, lowest first: the lines of its "Layers" block.
fn layers() -> Vec<Vec<String>> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = doc.split("## Layers").nth(1).expect("ARCHITECTURE.md has a \"## Layers\" section");
    let block = section.split("```").nth(1).expect("the layers in a fenced block");
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().skip(1).map(String::from).collect())
        .collect()
}

/// The top-level module of a file under `src/` (`model` for `src/model/engine/mod.rs`).
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(root().join("src")).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let layers = layers();
    let level: BTreeMap<String, usize> =
        layers.iter().enumerate().flat_map(|(k, l)| l.iter().map(move |m| (m.clone(), k))).collect();
    // Names lib.rs re-exports, by the module they come from (`pub use a::b::Name;`).
    let lib = code(&root().join("src/lib.rs"));
    let mut reexports = BTreeMap::new();
    for line in lib.lines().filter_map(|l| l.trim().strip_prefix("pub use ")) {
        let (module, items) = line.trim_end_matches(';').split_once("::").unwrap();
        for name in items.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|n| !n.is_empty()) {
            reexports.insert(name.to_string(), module.to_string());
        }
    }
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    files.sort();
    let mut wrong = BTreeSet::new();
    let mut modules = BTreeSet::new();
    for f in &files {
        let m = module_of(f);
        if m == "lib" || m == "main" {
            continue;
        }
        modules.insert(m.clone());
        let Some(&mine) = level.get(&m) else {
            wrong.insert(format!("{m} ({}) is in no layer of ARCHITECTURE.md", f.display()));
            continue;
        };
        for name in used_names(&code(f)) {
            let used = if level.contains_key(&name) {
                name.clone()
            } else {
                reexports.get(&name).cloned().unwrap_or(name)
            };
            match level.get(&used) {
                Some(&theirs) if used != m && theirs >= mine => {
                    wrong.insert(format!("{m} (layer {}) uses {used} (layer {})", mine + 1, theirs + 1));
                }
                _ => {}
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "uses that run up or sideways:\n{}",
        wrong.into_iter().collect::<Vec<_>>().join("\n")
    );
    // Every layer named is a module (the list is not stale).
    for m in level.keys() {
        assert!(modules.contains(m), "ARCHITECTURE.md lists `{m}`, which is not a module of src/");
    }
}

#[test]
fn only_the_command_line_reads_the_environment() {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    for f in files {
        let m = module_of(&f);
        let c = code(&f);
        let reads = ["env::var(", "env::var_os(", "env::vars("].iter().any(|p| c.contains(p));
        assert!(!reads || m == "cli" || m == "main", "{} reads the environment", f.display());
    }
}

#[test]
fn the_use_parser_finds_paths_and_groups() {
    let names = used_names(
        "use crate::model::Model;\nuse crate::{isa::Isa, stats};\nlet x = crate::arith::exp(1.0);",
    );
    assert_eq!(names, ["model", "isa", "stats", "arith"]);
    let c = "fn f() {}\n// crate::runner in a comment\n#[cfg(test)]\nmod tests { use crate::runner; }";
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("x.rs");
    std::fs::write(&p, c).unwrap();
    assert!(used_names(&code(&p)).is_empty(), "comments and test modules are not uses");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_model_s_equations_use_neither_the_engine_nor_the_reference_path() {
    // Inside `model`: the equations (the topic files) use only each other; the reference path
    // and the engine use the equations, never each other.
    let model = root().join("src/model");
    let mut files = Vec::new();
    sources(&model, &mut files);
    let mut wrong = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&model).unwrap().to_string_lossy().replace('\\', "/");
        let part = match rel.as_str() {
            "mod.rs" => continue,
            "reference.rs" => "reference",
            r if r.starts_with("engine/") => "engine",
            _ => "equations",
        };
        let c = code(&f);
        let used: Vec<String> =
            ["super::", "model::", "super::super::"].iter().flat_map(|p| names_after(&c, p)).collect();
        let uses = |m: &str| used.iter().any(|u| u == m);
        let forbidden: &[&str] = match part {
            "equations" => &["engine", "reference"],
            "engine" => &["reference"],
            _ => &["engine"],
        };
        for m in forbidden {
            if uses(m) {
                wrong.push(format!("model/{rel} ({part}) uses {m}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
