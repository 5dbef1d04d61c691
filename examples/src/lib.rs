//! Examples for the Rust Backstage workspace live under `examples/examples/`; see the README
//! there. Code shared by several examples (and tested in `tests/`) lives in this library.

pub mod bookmarks;
pub mod catalog_extensions;
pub mod todo;
