//! The `backstage` command-line tool.
fn main() {}
