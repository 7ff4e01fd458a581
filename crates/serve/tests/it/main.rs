//! serve integration tests: the app in-process (no socket) on the committed fixture
//! registry, every route and every error body pinned.

// Test helpers outside #[test] functions may panic: a failed helper is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod decoders;
mod errors;
mod routes;

use std::path::{Path, PathBuf};

use ferry_core::LocalRegistry;
use serve::state::load_models;
use serve::{AppState, Limits};

pub(crate) fn fixture_registry() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/registry")
}

pub(crate) fn state_with(limits: Limits, extra_expected: &[&str]) -> AppState {
    let (models, mut expected, failures) =
        load_models(&LocalRegistry::new(fixture_registry()), &[]).unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    expected.extend(extra_expected.iter().map(|n| n.parse().unwrap()));
    AppState::new(models, expected, limits)
}

pub(crate) fn state() -> AppState {
    state_with(Limits::default(), &[])
}
