//! JSON entity documents → every entity-level entry point. Reaches validator code with
//! shapes YAML cannot easily produce (any JSON number, `\u0000` in keys, huge arrays...).
//! Inputs that are not JSON are skipped. Same invariants as `common::check_entity`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        common::check_entity(&value);
    }
});
