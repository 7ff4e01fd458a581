//! The import check: reads every `crate::` and `super::` path in the non-test code of
//! serve and train, resolves it to the module (file) it names, and fails on any circle
//! between modules, and on any serve module importing from a layer above its own.
//!
//! serve's layers, bottom to top (DESIGN.md, at the repository root, draws the same
//! picture):
//!
//! 1. base: `answer` (a model's answer text, made at load), `error` (codes and
//!    `ApiError`, no rendering), `config`, `api_keys`,
//!    `request` (request id, route template, the headers every answer carries),
//!    `monitor`, `prediction_log`, `sharded` (per-thread metric shards);
//! 2. state: `model_set`, `metrics`, `state` (the served models, reload, metric
//!    handles);
//! 3. inference: `infer`;
//! 4. protocols: `protocol` and one module per protocol, each owning its wire types and
//!    rendering errors through one trait;
//! 5. routes: `api` (the route table and handlers), `middleware`, `server`.
//!
//! Paths through the crate root (`crate::AppState`) are refused: a module imports from
//! the module that defines the item, so every edge is visible here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// serve's layers, bottom first: a module may import from its own layer (without a
/// circle) or any layer below.
const SERVE_LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "answer",
            "error",
            "config",
            "api_keys",
            "request",
            "monitor",
            "prediction_log",
            "sharded",
        ],
    ),
    ("state", &["model_set", "metrics", "state"]),
    ("inference", &["infer"]),
    ("protocols", &["protocol"]),
    ("routes", &["api", "middleware", "server"]),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every module of a crate's library (`lib.rs` is the root, `""`), by its path
/// (`api::dto`), with its source less comments and its `#[cfg(test)] mod tests`.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "tests" {
                    let mut p = prefix.to_vec();
                    p.push(name);
                    walk(&path, &p, out);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || name == "tests" {
                continue;
            }
            if prefix.is_empty() && name == "main" {
                continue; // the binary: its own crate, importing the library by name
            }
            let mut module = prefix.to_vec();
            if name != "mod" && name != "lib" {
                module.push(name);
            }
            out.insert(
                module.join("::"),
                code_of(&fs_err::read_to_string(&path).unwrap()),
            );
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The code of a file: without comments and without its test-only modules
/// (`#[cfg(test)]` before a `mod` with a body, cut to its closing brace).
fn code_of(text: &str) -> String {
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            // `//` inside a string literal (a URL) is rare in this code; a path after
            // it would be missed, never invented.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let head = after.trim_start();
        let is_mod = head.starts_with("mod ") || head.starts_with("pub(crate) mod ");
        let open = after.find('{');
        let semicolon = after.find(';');
        match (is_mod, open) {
            (true, Some(open)) if semicolon.is_none_or(|s| s > open) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (i, c) in after[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &after[end..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// The paths a module's code names through `crate::` or `super::`, as absolute
/// segment lists (a `use crate::{a::B, c}` group gives one path per entry).
fn paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let ident = |i: usize| -> (String, usize) {
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        (code[i..j].to_owned(), j)
    };
    let here: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = |w: &str| bytes[i..].starts_with(w.as_bytes());
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if !(boundary && (starts("crate::") || starts("super::"))) {
            i += 1;
            continue;
        }
        // The base: the crate root, or the parent of this module, once per `super`.
        let mut base: Vec<String> = Vec::new();
        if starts("crate::") {
            i += "crate::".len();
        } else {
            base = here.clone();
            // A `foo/mod.rs` or `foo.rs` module's `super` is its parent.
            while bytes[i..].starts_with(b"super::") {
                base.pop();
                i += "super::".len();
            }
        }
        let mut segments = base;
        let mut group = false;
        loop {
            if bytes.get(i) == Some(&b'{') {
                // A group: each entry's first segment.
                let end = code[i..].find('}').map_or(code.len(), |e| i + e);
                for entry in code[i + 1..end].split(',') {
                    let first: String = entry
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !first.is_empty() && first != "self" {
                        let mut p = segments.clone();
                        p.push(first);
                        out.push(p);
                    } else if first == "self" {
                        out.push(segments.clone());
                    }
                }
                i = end;
                group = true;
                break;
            }
            let (name, next) = ident(i);
            if name.is_empty() {
                break;
            }
            segments.push(name);
            i = next;
            if bytes[i..].starts_with(b"::") {
                i += 2;
            } else {
                break;
            }
        }
        if !group {
            out.push(segments);
        }
    }
    out
}

/// The module a path names: its longest prefix that is a module.
fn resolve(path: &[String], modules: &BTreeMap<String, String>) -> String {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains_key(m))
        .unwrap_or_default()
}

/// `from -> to` for every module that names another (not itself, not its own
/// descendants, which it declares).
fn edges(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in modules {
        for path in paths(module, code) {
            let to = resolve(&path, modules);
            let declared = !module.is_empty() && to.starts_with(&format!("{module}::"));
            if to != *module && !declared {
                out.entry(module.clone()).or_default().insert(to);
            }
        }
    }
    out
}

/// Every circle of `edges` (as the modules on it), found by depth-first search.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            found.push(circle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        visit(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

fn check_crate(name: &str) -> (BTreeMap<String, String>, BTreeMap<String, BTreeSet<String>>) {
    let modules = modules(&workspace().join("crates").join(name).join("src"));
    assert!(modules.len() > 3, "{name}: no modules read");
    let edges = edges(&modules);
    let circles = circles(&edges);
    assert!(
        circles.is_empty(),
        "{name}: import circles (each line one circle):\n{}",
        circles
            .iter()
            .map(|c| c.join(" -> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let through_root: Vec<_> = edges
        .iter()
        .filter(|(from, to)| !from.is_empty() && to.contains(""))
        .map(|(from, _)| from.clone())
        .collect();
    assert!(
        through_root.is_empty(),
        "{name}: these modules import through the crate root instead of the defining module: {through_root:?}"
    );
    (modules, edges)
}

fn serve_layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or_default();
    SERVE_LAYERS
        .iter()
        .position(|(_, members)| members.contains(&top))
        .unwrap_or_else(|| {
            panic!("serve module {module} is in no layer: add it to SERVE_LAYERS and DESIGN.md")
        })
}

#[test]
fn serve_modules_import_only_downwards_and_in_no_circle() {
    let (modules, edges) = check_crate("serve");
    let mut upward = Vec::new();
    for module in modules.keys().filter(|m| !m.is_empty()) {
        let layer = serve_layer(module);
        for to in edges.get(module).into_iter().flatten() {
            let target = serve_layer(to);
            if target > layer {
                upward.push(format!(
                    "{module} ({}) imports {to} ({})",
                    SERVE_LAYERS[layer].0, SERVE_LAYERS[target].0
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "serve: imports from a higher layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn train_modules_import_in_no_circle() {
    check_crate("train");
}

#[test]
fn the_import_reader_sees_groups_super_and_circles() {
    let mut modules = BTreeMap::new();
    modules.insert(String::new(), String::new());
    modules.insert("a".to_owned(), "use crate::{b::X, c};".to_owned());
    modules.insert("b".to_owned(), "fn f() { super::c::g() }".to_owned());
    modules.insert("c".to_owned(), String::new());
    modules.insert("c::d".to_owned(), "use super::super::a::Y;".to_owned());
    let e = edges(&modules);
    assert_eq!(e["a"], BTreeSet::from(["b".to_owned(), "c".to_owned()]));
    assert_eq!(e["b"], BTreeSet::from(["c".to_owned()]));
    assert_eq!(e["c::d"], BTreeSet::from(["a".to_owned()]));
    assert!(circles(&e).is_empty());
    modules.insert(
        "c".to_owned(),
        "// crate::a in a comment\nuse crate::a;".to_owned(),
    );
    let modules: BTreeMap<_, _> = modules.into_iter().map(|(k, v)| (k, code_of(&v))).collect();
    let e = edges(&modules);
    assert_eq!(
        e["c"],
        BTreeSet::from(["a".to_owned()]),
        "test-only paths are not read"
    );
    let found = circles(&e);
    assert_eq!(found, vec![vec!["a", "b", "c", "a"]]);
}

#[test]
fn store_modules_import_in_no_circle() {
    check_crate("store");
}
