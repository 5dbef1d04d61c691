//! Entity refs and location refs from untrusted strings (and JSON values).
//!
//! Invariants checked (besides "never panics"):
//! - a successful string parse has non-empty kind, namespace and name, and the name is a
//!   suffix of the input;
//! - `to_string()` of a parsed ref is the per-part lower-case of kind, namespace and name
//!   joined as `kind:namespace/name`, and equals `stringify_entity_ref_value` of the ref
//!   serialised as a compound JSON object;
//! - `parse_entity_ref_value(Value::String(s))` agrees with `parse_entity_ref(s)`;
//! - a successful `parse_location_ref` has non-empty, trimmed type and target, stringifies,
//!   and the string re-parses to the same location ref.
#![no_main]

use backstage_catalog_model::location::{
    LocationRef, is_script_url, parse_location_ref, parse_location_ref_value,
    stringify_location_ref,
};
use backstage_catalog_model::validation::common::js_trim;
use backstage_catalog_model::{
    CompoundEntityRef, RefContext, compound_entity_ref, parse_entity_ref, parse_entity_ref_value,
    stringify_entity_ref, stringify_entity_ref_value,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const CONTEXTS: &[RefContext<'static>] = &[
    RefContext {
        default_kind: None,
        default_namespace: None,
    },
    RefContext {
        default_kind: Some("Group"),
        default_namespace: None,
    },
    RefContext {
        default_kind: Some("Component"),
        default_namespace: Some("Team-NS"),
    },
    RefContext {
        default_kind: Some(""),
        default_namespace: Some(""),
    },
    RefContext {
        default_kind: None,
        default_namespace: Some("ΣΑΣ"),
    },
];

fn check_parts(r: &CompoundEntityRef, input: &str) {
    assert!(
        !r.kind.is_empty() && !r.namespace.is_empty() && !r.name.is_empty(),
        "{input:?} parsed with an empty part: {r:?}"
    );
    let expected = format!(
        "{}:{}/{}",
        r.kind.to_lowercase(),
        r.namespace.to_lowercase(),
        r.name.to_lowercase()
    );
    let s = r.to_string();
    assert_eq!(s, expected, "stringify of {r:?} (from {input:?})");
    assert_eq!(stringify_entity_ref(&r.kind, &r.namespace, &r.name), s);
    let compound = serde_json::to_value(r).expect("a compound ref serialises");
    assert_eq!(
        stringify_entity_ref_value(&compound).as_deref().ok(),
        Some(s.as_str()),
        "stringify_entity_ref_value of {compound}"
    );
    assert!(r.matches(r));
}

fn check_entity_ref_str(s: &str) {
    for ctx in CONTEXTS {
        let parsed = parse_entity_ref(s, ctx);
        match &parsed {
            Ok(r) => {
                check_parts(r, s);
                assert!(
                    s.ends_with(r.name.as_str()),
                    "name {:?} is not a suffix of {s:?}",
                    r.name
                );
                // Parsing is case- and whitespace-preserving: an explicit `kind:` prefix is
                // kept verbatim.
                if let Some((kind, _)) = s.split_once(':')
                    && !kind.contains('/')
                {
                    assert_eq!(r.kind, kind, "kind of {s:?}");
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
        let via_value = parse_entity_ref_value(&Value::String(s.to_owned()), ctx);
        assert_eq!(
            parsed, via_value,
            "string vs JSON-string parse of {s:?} with {ctx:?}"
        );
    }
}

fn check_entity_ref_json(v: &Value) {
    for ctx in CONTEXTS {
        match parse_entity_ref_value(v, ctx) {
            Ok(r) => check_parts(&r, &v.to_string()),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    match stringify_entity_ref_value(v) {
        Ok(s) => assert!(
            s.contains(':') && s.contains('/'),
            "{v} stringified to {s:?}"
        ),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Ok(r) = compound_entity_ref(v) {
        assert!(
            !r.namespace.is_empty(),
            "compound_entity_ref({v}) gave an empty namespace"
        );
        let _ = r.to_string();
    }
    match parse_location_ref_value(v) {
        Ok(l) => check_location(&l, &v.to_string()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn check_location(l: &LocationRef, input: &str) {
    let (t, target) = (l.location_type.as_str(), l.target.as_str());
    assert!(
        !t.is_empty() && !target.is_empty(),
        "{input:?} gave an empty part: {l:?}"
    );
    assert_eq!(js_trim(t), t, "type of {input:?} is not trimmed");
    assert_eq!(
        js_trim(target),
        target,
        "target of {input:?} is not trimmed"
    );
    assert!(
        !t.contains(':'),
        "type of {input:?} contains a colon: {l:?}"
    );
    assert!(
        !is_script_url(target),
        "{input:?} accepted a javascript: target"
    );
    let s = stringify_location_ref(l)
        .unwrap_or_else(|e| panic!("parsed location {l:?} from {input:?} does not stringify: {e}"));
    assert_eq!(s, l.to_string());
    if target.trim() == target {
        let again = parse_location_ref(&s)
            .unwrap_or_else(|e| panic!("{s:?} (from {input:?}) does not re-parse: {e}"));
        assert_eq!(&again, l, "{s:?} re-parsed differently");
    }
}

fn check_location_str(s: &str) {
    match parse_location_ref(s) {
        Ok(l) => {
            check_location(&l, s);
            assert_eq!(
                parse_location_ref_value(&Value::String(s.to_owned())).ok(),
                Some(l)
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = is_script_url(s);
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    check_entity_ref_str(&s);
    check_location_str(&s);
    // Also try each line on its own: refs in real files are short, one per line.
    if s.contains('\n') {
        for line in s.split('\n').take(16) {
            check_entity_ref_str(line);
            check_location_str(line);
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        check_entity_ref_json(&v);
    }
});
