//! The book (`docs/src`) and the README: every YAML example parses and validates as what
//! it shows (a pipeline config, a part of one, or a serve config), and every relative
//! link points to a file that exists and, with a `#fragment`, to a heading of it.
//! `mdbook build docs` in CI checks the book's links to files once more, as rendered.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README, DESIGN.md and every chapter of the book.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = fs_err::read_dir(workspace().join("docs/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.push(workspace().join("README.md"));
    pages.push(workspace().join("DESIGN.md"));
    pages
}

/// The fenced blocks of `text` whose info string is `lang`.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("\n```").map_or(body.len(), |e| e + 1);
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

/// Validates `config` as a pipeline file in a directory beside the repository's data,
/// so that `../data/...` resolves as it does from `configs/`.
fn validate_pipeline(config: &Mapping, origin: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(workspace().join("data"), dir.path().join("data")).unwrap();
    fs_err::create_dir(dir.path().join("configs")).unwrap();
    let path = dir.path().join("configs/doc.yaml");
    fs_err::write(&path, serde_yaml::to_string(config).unwrap()).unwrap();
    if let Err(err) = train::Pipeline::from_file(&path) {
        panic!("{origin}: the pipeline config does not validate: {err}");
    }
}

#[test]
fn every_yaml_example_of_the_book_and_the_readme_validates() {
    let mut pipeline: Option<(Mapping, String)> = None;
    let mut fragments = Vec::new();
    let mut serve_configs = 0;
    for page in pages() {
        let text = fs_err::read_to_string(&page).unwrap();
        for (i, block) in blocks(&text, "yaml").into_iter().enumerate() {
            let origin = format!("{} yaml block {}", page.display(), i + 1);
            let value: Value =
                serde_yaml::from_str(block).unwrap_or_else(|e| panic!("{origin}: not YAML: {e}"));
            let Value::Mapping(map) = value else {
                panic!("{origin}: not a mapping")
            };
            let has = |k: &str| map.contains_key(k);
            if has("data") && has("model") {
                validate_pipeline(&map, &origin);
                pipeline.get_or_insert((map, origin));
            } else if ["bind", "limits", "cache", "watch_interval"]
                .iter()
                .any(|k| has(k))
            {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("serve.yaml");
                fs_err::write(&path, block).unwrap();
                if let Err(err) = serve::ServeConfig::from_file(&path) {
                    panic!("{origin}: the serve config does not validate: {err}");
                }
                serve_configs += 1;
            } else {
                fragments.push((map, origin));
            }
        }
    }
    let (base, _) = pipeline.expect("the book shows a whole pipeline config");
    assert!(serve_configs > 0, "the book shows a serve config");
    // A fragment is checked inside the book's whole pipeline: its keys replace that
    // config's, and the result must still validate.
    for (fragment, origin) in fragments {
        let mut config = base.clone();
        for (key, value) in fragment {
            config.insert(key, value);
        }
        validate_pipeline(&config, &origin);
    }
}

/// The anchors of a page's headings, as mdBook makes them (lower case; letters, digits,
/// `_` and `-` kept, spaces to `-`, the rest dropped), outside code blocks.
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim();
        out.push(
            title
                .chars()
                .filter_map(|c| match c {
                    c if c.is_alphanumeric() || c == '_' || c == '-' => {
                        Some(c.to_lowercase().next().unwrap_or(c))
                    }
                    c if c.is_whitespace() => Some('-'),
                    _ => None,
                })
                .collect(),
        );
    }
    out
}

#[test]
fn every_relative_link_of_the_book_and_the_readme_points_to_a_file_and_heading() {
    let mut checked = 0;
    for page in pages() {
        let text = fs_err::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.contains("://") || target.contains(' ') {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            assert!(
                linked.exists(),
                "{}: link to {target}, which does not exist",
                page.display()
            );
            if !anchor.is_empty() {
                let headings = anchors(&fs_err::read_to_string(&linked).unwrap());
                assert!(
                    headings.iter().any(|h| h == anchor),
                    "{}: link to {target}, whose page has no such heading (it has {headings:?})",
                    page.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} links read");
}
