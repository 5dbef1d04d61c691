//! `catalog-info.yaml` text → `yaml::parse_entity_documents` → every entity-level entry point.
//!
//! Invariants checked (besides "never panics", which includes no stack overflow and no
//! runaway allocation from alias bombs or deep nesting):
//! - document indices (of documents and of errors) are strictly increasing;
//! - every position (document root, `position_of`/`key_position_of` of every node, of every
//!   problem path and of assorted malformed or missing pointers, error positions) has
//!   line ≥ 1 and column ≥ 1, and no line beyond the end of the input (counted as if the
//!   input ended with a line break, see below);
//! - object members have a key position, sequence items and the root have none;
//! - validator consistency (see `common::check_entity`).
#![no_main]

mod common;

use backstage_catalog_model::yaml::{Position, parse_entity_documents};
use libfuzzer_sys::fuzz_target;

fn check_in_input(p: Position, lines: usize, what: &str) {
    common::check_position(p, what, "");
    assert!(
        p.line <= lines,
        "{what} {p:?} is beyond the last line ({lines})"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Lines as YAML counts them (`\n`, `\r\n`, `\r`), including the empty one after a final
    // line break. No position may lie beyond them (see `regressions/yaml_entities/eof-*`).
    let breaks = text.replace("\r\n", "\n").matches(['\n', '\r']).count();
    let lines = breaks + 1;
    let docs = parse_entity_documents(&text);
    let mut previous: Option<usize> = None;
    for doc in &docs {
        let index = match doc {
            Ok(d) => d.index(),
            Err(e) => e.document(),
        };
        if let Some(p) = previous {
            assert!(index > p, "document index {index} after {p}");
        }
        previous = Some(index);
        match doc {
            Ok(d) => {
                check_in_input(d.position(), lines, "document position");
                let problem_paths = common::check_entity(d.value());
                for p in &problem_paths {
                    check_in_input(d.position_of(p), lines, "problem position");
                }
                common::check_document_positions(d, &problem_paths, lines);
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                let _ = e.kind();
                if let Some(p) = e.position() {
                    check_in_input(p, lines, "error position");
                }
            }
        }
    }
});
