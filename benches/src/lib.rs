//! Cross-crate benchmark scenarios; see `benches/README.md`. Per-crate micro-benchmarks live in each crate's own `benches/` folder.
