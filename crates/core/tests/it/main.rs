//! ferry-core integration tests: the committed fixture artifact (golden predictions) and
//! the reader's refusal of damaged artifacts.

mod artifact;
