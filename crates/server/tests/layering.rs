#![allow(clippy::expect_used)]

//! The server's layering, read from its source (issue 10, item 6).
//!
//! From the bottom up: the shared layer (`routes/common.rs` and
//! `routes/common/`, and the crate-level modules beside `lib.rs`: extractors,
//! problems, live broadcasters, seat maps, projections, passes, edge guards);
//! then one module per feature (`routes/<feature>.rs` with its wire types in
//! `routes/<feature>/wire.rs`); then the web pages (`web/`), which may call a
//! feature's public functions; then the assembly (`lib.rs`, `openapi.rs`),
//! which names everything. These tests fail when a feature names a sibling
//! feature, or when the shared layer names a feature, the pages or the
//! assembly.

use std::fs;
use std::path::{Path, PathBuf};

/// The crate's `src/`.
fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The feature modules: every `routes/<name>.rs` but the shared one and the list.
fn features() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(src().join("routes"))
        .expect("routes/")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            (path.extension().is_some_and(|x| x == "rs") && stem != "mod" && stem != "common").then_some(stem)
        })
        .collect();
    names.sort();
    names
}

/// `text` without its comments, so a doc comment may name another module.
/// A `//` inside a string is taken for a comment too; that only hides code
/// from the check on that line's remainder, and route code has no such URL.
fn code(text: &str) -> String {
    text.lines()
        .map(|line| {
            let cut = line.match_indices("//").find(|(i, _)| *i == 0 || line.as_bytes()[i - 1].is_ascii_whitespace());
            match cut {
                Some((i, _)) => &line[..i],
                None => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module `code` names right after `prefix`: `routes::sales` gives
/// `sales`, `routes::{sales, seats::x}` gives `sales` and `seats`.
fn named_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        // `super::x` must not match inside `super::super::x` twice, nor `xroutes::`.
        if at > 0 && (code.as_bytes()[at - 1].is_ascii_alphanumeric() || code.as_bytes()[at - 1] == b'_') {
            continue;
        }
        let rest = code[at + prefix.len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // The group's top-level items, each named by its first identifier.
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => out.extend(leading_name(&std::mem::take(&mut item))),
                    _ => {}
                }
                if depth == 0 && ch != ',' {
                    item.push(ch);
                }
            }
            out.extend(leading_name(&item));
        } else {
            out.extend(leading_name(rest));
        }
    }
    out
}

/// The identifier `text` starts with, if any.
fn leading_name(text: &str) -> Option<String> {
    let name: String = text.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

/// What `file`'s code names that it must not, given the modules it may not
/// reach (`banned` under `routes::`, and `crate::openapi` / `crate::web`).
fn violations(file: &str, code: &str, banned: &[String], siblings_via_super: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for name in named_after(code, "routes::") {
        if banned.contains(&name) {
            found.push(format!("{file} names routes::{name}"));
        }
    }
    for name in named_after(code, "super::") {
        if siblings_via_super.contains(&name) {
            found.push(format!("{file} names super::{name}"));
        }
    }
    for name in named_after(code, "crate::") {
        if name == "openapi" || name == "web" {
            found.push(format!("{file} names crate::{name}"));
        }
    }
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(src()).unwrap_or(path).display().to_string()
}

#[test]
fn no_feature_names_a_sibling_feature() {
    let features = features();
    for expected in ["accounts", "friends", "live", "queue", "sales", "seats", "system", "venues"] {
        assert!(features.iter().any(|f| f == expected), "feature {expected} not found in {features:?}");
    }
    let mut found = Vec::new();
    let mut files = 0;
    for feature in &features {
        let others: Vec<String> = features.iter().filter(|f| *f != feature).cloned().collect();
        let root = src().join("routes").join(format!("{feature}.rs"));
        let mut own = vec![root.clone()];
        let dir = src().join("routes").join(feature);
        if dir.is_dir() {
            own.extend(rust_files(&dir));
        }
        for path in own {
            let text = fs::read_to_string(&path).expect("read a feature file");
            // From the feature's root `super` is `routes`; from its wire
            // module `super::super` is, and `super` the feature itself.
            let via_super: &[String] = if path == root { &others } else { &[] };
            let text = code(&text).replace("super::super::", "routes::");
            found.extend(violations(&relative(&path), &text, &others, via_super));
            files += 1;
        }
    }
    assert!(files >= 2 * 8, "only {files} feature files read");
    assert!(found.is_empty(), "features must import the shared layer, not each other:\n{}", found.join("\n"));
}

#[test]
fn the_shared_layer_names_no_feature() {
    let features = features();
    let mut shared = vec![src().join("routes").join("common.rs")];
    shared.extend(rust_files(&src().join("routes").join("common")));
    for entry in fs::read_dir(src()).expect("src/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.extension().is_some_and(|x| x == "rs") && name != "lib.rs" && name != "openapi.rs" {
            shared.push(path);
        }
    }
    assert!(shared.len() >= 10, "only {} shared files found", shared.len());
    let mut found = Vec::new();
    for path in &shared {
        let text = fs::read_to_string(path).expect("read a shared file");
        let text = code(&text).replace("super::super::", "routes::");
        let siblings = if path.parent() == Some(&src().join("routes")) { features.clone() } else { Vec::new() };
        found.extend(violations(&relative(path), &text, &features, &siblings));
    }
    assert!(found.is_empty(), "the shared layer must not depend on what is built on it:\n{}", found.join("\n"));
}

/// The check itself finds what it is for, so a green run means something.
#[test]
fn the_check_sees_sibling_imports() {
    let banned = vec!["seats".to_owned(), "venues".to_owned()];
    let cases = [
        ("use crate::routes::seats::seated_config;", 1),
        ("let x = crate::routes::venues::resolve(a);", 1),
        ("use crate::routes::{common::blocking, seats, venues::x};", 2),
        ("use super::seats;", 1),
        ("use crate::openapi::VenueIn;", 1),
        ("use crate::routes::common::{blocking, in_range};", 0),
        ("// names routes::seats only in a comment", 0),
        ("use crate::routes::sales::wire::*;", 0),
    ];
    for (text, expected) in cases {
        let found = violations("case", &code(text), &banned, &banned);
        assert_eq!(found.len(), expected, "{text}: {found:?}");
    }
}
