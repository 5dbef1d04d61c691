//! Examples for the Rust Backstage workspace live under `examples/examples/`; see the README there.
