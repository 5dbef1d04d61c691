//! Behaviour tests of the YAML loader.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

/// Parse and expect exactly one successful document.
fn one(text: &str) -> YamlDocument {
    let mut results = parse_yaml_documents(text);
    assert_eq!(
        results.len(),
        1,
        "expected one document in {text:?}: {results:?}"
    );
    results
        .pop()
        .and_then(Result::ok)
        .expect("the document should parse")
}

fn value(text: &str) -> Value {
    one(text).into_value()
}

/// Parse and expect exactly one failing document.
fn one_error(text: &str) -> YamlError {
    let mut results = parse_yaml_documents(text);
    assert_eq!(
        results.len(),
        1,
        "expected one result for {text:?}: {results:?}"
    );
    results
        .pop()
        .and_then(Result::err)
        .expect("the document should fail")
}

fn pos(line: usize, column: usize) -> Position {
    Position { line, column }
}

const SAMPLE: &str = "\
# Catalog entities of the payments team.
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-service
  description: |
    Handles payments.
    ---not a marker because it is indented
  annotations:
    github.com/project-slug: acme/payments
  tags: [java, 'payments']
spec:
  type: service
  lifecycle: production
  owner: team-payments
  providesApis:
    - payments-api
    - refunds-api
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments-api
  labels: &labels
    tier: \"1\"
spec:
  type: openapi
  lifecycle: production
  owner: team-payments
  definition:
    $text: ./openapi.yaml
...
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-payments
spec:
  type: team
  children: []
  profile: {displayName: Payments, email: \"payments@example.com\"}
";

#[test]
fn sample_catalog_file_loads_all_documents() {
    let results = parse_entity_documents(SAMPLE);
    assert_eq!(results.len(), 3);
    let docs: Vec<YamlDocument> = results
        .into_iter()
        .map(|r| r.expect("sample documents are valid"))
        .collect();
    let indices: Vec<usize> = docs.iter().map(YamlDocument::index).collect();
    assert_eq!(indices, vec![0, 1, 2]);
    assert_eq!(
        docs[0].value()["metadata"]["name"],
        json!("payments-service")
    );
    assert_eq!(
        docs[0].value()["metadata"]["description"],
        json!("Handles payments.\n---not a marker because it is indented\n")
    );
    assert_eq!(
        docs[0].value()["metadata"]["tags"],
        json!(["java", "payments"])
    );
    assert_eq!(docs[1].value()["metadata"]["labels"], json!({"tier": "1"}));
    assert_eq!(docs[2].value()["spec"]["children"], json!([]));
    assert_eq!(docs[0].position(), pos(2, 1));
    assert_eq!(docs[1].position(), pos(20, 1));
    assert_eq!(docs[2].position(), pos(34, 1));
}

#[test]
fn syntax_error_in_middle_document_leaves_the_others_intact() {
    let text = "kind: A\n---\nkind: B\nbad: [unclosed\n---\nkind: C\n";
    let results = parse_yaml_documents(text);
    assert_eq!(results.len(), 3);
    let first = results[0].as_ref().expect("first document is valid");
    assert_eq!(first.index(), 0);
    assert_eq!(first.value(), &json!({"kind": "A"}));
    let error = results[1].as_ref().expect_err("second document is broken");
    assert_eq!(error.document(), 1);
    assert!(matches!(error.kind(), YamlErrorKind::Syntax { .. }));
    let line = error
        .position()
        .expect("syntax errors have a position")
        .line;
    assert!(
        (3..=5).contains(&line),
        "error line {line} must be in the second document"
    );
    let third = results[2].as_ref().expect("third document is valid");
    assert_eq!(third.index(), 2);
    assert_eq!(third.value(), &json!({"kind": "C"}));
    assert_eq!(third.position(), pos(6, 1));
}

#[test]
fn syntax_error_line_is_counted_in_the_whole_file() {
    let text = "a: 1\n---\nb: 2\n---\nc: 3\nd: 'x' y\n";
    let results = parse_yaml_documents(text);
    assert_eq!(results.len(), 3);
    let error = results[2].as_ref().expect_err("third document is broken");
    assert_eq!(error.document(), 2);
    assert_eq!(error.position().map(|p| p.line), Some(6));
    assert!(error.to_string().starts_with("line 6 column "), "{error}");
}

#[test]
fn duplicate_top_level_key_is_an_error_at_the_second_occurrence() {
    let error = one_error("name: a\nkind: b\nname: c\n");
    assert_eq!(
        error.kind(),
        &YamlErrorKind::DuplicateKey {
            key: "name".to_owned()
        }
    );
    assert_eq!(error.position(), Some(pos(3, 1)));
    assert_eq!(
        error.to_string(),
        "line 3 column 1: map keys must be unique (duplicate key \"name\")"
    );
}

#[test]
fn duplicate_nested_key_is_an_error() {
    let error = one_error("metadata:\n  name: a\n  name: b\n");
    assert_eq!(error.position(), Some(pos(3, 3)));
    assert!(matches!(error.kind(), YamlErrorKind::DuplicateKey { key } if key == "name"));
    let error = one_error("a: {x: 1, x: 2}\n");
    assert!(matches!(error.kind(), YamlErrorKind::DuplicateKey { key } if key == "x"));
}

#[test]
fn keys_that_stringify_equally_are_duplicates() {
    let error = one_error("1: a\n\"1\": b\n");
    assert!(matches!(error.kind(), YamlErrorKind::DuplicateKey { key } if key == "1"));
    let error = one_error("1.0: a\n1: b\n");
    assert!(matches!(error.kind(), YamlErrorKind::DuplicateKey { key } if key == "1"));
    let error = one_error("null: a\n~: b\n");
    assert!(matches!(error.kind(), YamlErrorKind::DuplicateKey { key } if key.is_empty()));
}

#[test]
fn duplicate_key_only_fails_its_document() {
    let results = parse_yaml_documents("a: 1\na: 2\n---\nb: 1\n");
    assert_eq!(results.len(), 2);
    assert!(results[0].is_err());
    assert_eq!(
        results[1].as_ref().map(YamlDocument::value).ok(),
        Some(&json!({"b": 1}))
    );
}

#[test]
fn keys_are_stringified_like_javascript() {
    let v = value("1: a\n0x10: b\ntrue: c\nnull: d\n1.5: e\n2.0: f\n'x': g\n");
    let keys: Vec<&str> = v
        .as_object()
        .expect("mapping")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, vec!["1", "16", "true", "", "1.5", "2", "x"]);
    assert_eq!(value("~: x\n"), json!({"": "x"}));
    assert_eq!(value("? \n: x\n"), json!({"": "x"}));
}

#[test]
fn yaml_1_1_booleans_stay_strings() {
    let v = value("a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\ng: true\nh: False\n");
    assert_eq!(
        v,
        json!({"a": "yes", "b": "no", "c": "on", "d": "off", "e": "y", "f": "n", "g": true, "h": false})
    );
}

#[test]
fn numbers_follow_the_core_schema() {
    let v = value(
        "octal: 0o17\nleading_zero: 012\nhex: 0x1f\nfloat: 1.5\nexp: 1e3\nunderscore: 1_000\n",
    );
    assert_eq!(
        v,
        json!({"octal": 15, "leading_zero": 12, "hex": 31, "float": 1.5, "exp": 1000, "underscore": "1_000"})
    );
    assert_eq!(
        value("big: 18446744073709551616\n")["big"],
        json!(1.844_674_407_370_955_2e19)
    );
}

#[test]
fn infinity_and_nan_become_null() {
    let v = value("a: .inf\nb: -.Inf\nc: .NaN\nd: '.inf'\n");
    assert_eq!(v, json!({"a": null, "b": null, "c": null, "d": ".inf"}));
}

#[test]
fn dates_stay_strings() {
    let v = value("a: 2021-01-01\nb: 2001-12-14T21:59:43.10Z\n");
    assert_eq!(
        v,
        json!({"a": "2021-01-01", "b": "2001-12-14T21:59:43.10Z"})
    );
}

#[test]
fn quoted_and_block_scalars_are_strings() {
    let v = value("a: \"true\"\nb: '12'\nc: |\n  null\nd: >-\n  1.5\ne: \"\"\nf:\n");
    assert_eq!(
        v,
        json!({"a": "true", "b": "12", "c": "null\n", "d": "1.5", "e": "", "f": null})
    );
}

#[test]
fn explicit_core_tags_are_honoured_and_others_ignored() {
    let v = value(
        "a: !!str 123\nb: !!int \"7\"\nc: !!float 1.5\nd: !!bool \"true\"\ne: !!null ''\nf: !custom 12\ng: ! 12\nh: !!str\n",
    );
    assert_eq!(
        v,
        json!({"a": "123", "b": 7, "c": 1.5, "d": true, "e": null, "f": 12, "g": "12", "h": ""})
    );
    assert_eq!(value("--- !!map\na: 1\n"), json!({"a": 1}));
    assert_eq!(value("a: !!seq [1]\n"), json!({"a": [1]}));
}

#[test]
fn merge_key_is_an_ordinary_key() {
    let v = value("base: &base\n  a: 1\nchild:\n  <<: *base\n  b: 2\n");
    assert_eq!(
        v,
        json!({"base": {"a": 1}, "child": {"<<": {"a": 1}, "b": 2}})
    );
}

#[test]
fn anchors_and_aliases_are_copied() {
    let v = value("a: &x [1, {b: 2}]\nc: *x\nd: &s hello\ne: *s\n&k key: v\nf: *k\n");
    assert_eq!(
        v,
        json!({"a": [1, {"b": 2}], "c": [1, {"b": 2}], "d": "hello", "e": "hello", "key": "v", "f": "key"})
    );
    // Redefining an anchor applies to later aliases only.
    assert_eq!(
        value("a: &x 1\nb: *x\nc: &x 2\nd: *x\n"),
        json!({"a": 1, "b": 1, "c": 2, "d": 2})
    );
    // An aliased scalar can be a key.
    assert_eq!(value("a: &n 5\n*n : x\n"), json!({"a": 5, "5": "x"}));
}

#[test]
fn unknown_and_recursive_aliases_are_errors() {
    let error = one_error("a: *nope\n");
    assert_eq!(
        error.kind(),
        &YamlErrorKind::UnknownAlias {
            name: "nope".to_owned()
        }
    );
    assert_eq!(error.position(), Some(pos(1, 4)));
    let error = one_error("a: &r [1, *r]\n");
    assert!(matches!(error.kind(), YamlErrorKind::UnknownAlias { name } if name == "r"));
}

#[test]
fn collection_keys_are_unsupported() {
    let error = one_error("? [a, b]\n: c\n");
    assert_eq!(
        error.kind(),
        &YamlErrorKind::UnsupportedKey { found: "sequence" }
    );
    let error = one_error("{a: 1}: c\n");
    assert_eq!(
        error.kind(),
        &YamlErrorKind::UnsupportedKey { found: "mapping" }
    );
    let error = one_error("a: &m {x: 1}\n*m : c\n");
    assert_eq!(
        error.kind(),
        &YamlErrorKind::UnsupportedKey { found: "mapping" }
    );
}

#[test]
fn alias_bomb_fails_quickly() {
    let mut text = String::from(
        "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 9].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    let started = Instant::now();
    let error = one_error(&text);
    assert!(
        matches!(error.kind(), YamlErrorKind::AliasLimit { .. }),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn aliasing_long_strings_is_bounded_too() {
    let long = "x".repeat(100_000);
    let mut text = format!("s: &s {long}\nlist:\n");
    for _ in 0..1_000 {
        text.push_str("  - *s\n");
    }
    let error = one_error(&text);
    assert!(
        matches!(error.kind(), YamlErrorKind::AliasLimit { .. }),
        "{error}"
    );
}

#[test]
fn copies_kept_for_nested_anchors_are_bounded() {
    on_default_stack(|| {
        let items = vec!["item"; 20_000].join(", ");
        let text = format!("{}[{items}]{}\n", "&a [".repeat(200), "]".repeat(200));
        let error = one_error(&text);
        assert!(
            matches!(error.kind(), YamlErrorKind::AliasLimit { .. }),
            "{error}"
        );
    });
}

#[test]
fn moderate_alias_use_is_fine() {
    let mut text = String::from("base: &b {owner: team-a, lifecycle: production}\nitems:\n");
    for _ in 0..1_000 {
        text.push_str("  - *b\n");
    }
    let v = value(&text);
    assert_eq!(v["items"].as_array().map(Vec::len), Some(1_000));
}

/// Runs `f` on a thread with the default (small) stack size.
fn on_default_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f)
        .join()
        .expect("the parser must not overflow the stack")
}

#[test]
fn deep_flow_nesting_errors_without_stack_overflow() {
    on_default_stack(|| {
        for open in ["[", "{a: ", "[{a: "] {
            let text = open.repeat(100_000);
            let error = one_error(&text);
            assert!(
                matches!(error.kind(), YamlErrorKind::TooDeep { .. }),
                "{error}"
            );
        }
    });
}

#[test]
fn deep_block_nesting_errors_without_stack_overflow() {
    on_default_stack(|| {
        let text = format!("{}x\n", "- ".repeat(100_000));
        let error = one_error(&text);
        assert_eq!(error.kind(), &YamlErrorKind::TooDeep { limit: 256 });
        let mut text = String::new();
        for depth in 0..300 {
            text.push_str(&" ".repeat(depth));
            text.push_str("a:\n");
        }
        let error = one_error(&text);
        assert_eq!(error.kind(), &YamlErrorKind::TooDeep { limit: 256 });
    });
}

#[test]
fn nesting_up_to_the_limit_is_accepted() {
    on_default_stack(|| {
        let text = format!("{}x\n", "- ".repeat(256));
        let mut v = &value(&text);
        let mut depth = 0;
        while let Some(inner) = v.as_array().and_then(|items| items.first()) {
            depth += 1;
            v = inner;
        }
        assert_eq!(depth, 256);
    });
}

#[test]
fn aliases_cannot_exceed_the_nesting_limit() {
    on_default_stack(|| {
        let mut text = format!("a: &a {}x{}\n", "[".repeat(200), "]".repeat(200));
        text.push_str("b: &b [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
        let error = one_error(&text);
        assert!(
            matches!(error.kind(), YamlErrorKind::TooDeep { .. }),
            "{error}"
        );
    });
}

#[test]
fn byte_order_mark_is_ignored() {
    let doc = one("\u{feff}kind: Component\n");
    assert_eq!(doc.value(), &json!({"kind": "Component"}));
    assert_eq!(doc.position(), pos(1, 1));
    let results = parse_yaml_documents("\u{feff}---\na: 1\n");
    assert_eq!(results.len(), 1);
}

#[test]
fn crlf_line_endings_work() {
    let text = "a: 1\r\nb:\r\n  c: |\r\n    x\r\n    y\r\n---\r\nd: 2\r\n";
    let results = parse_yaml_documents(text);
    assert_eq!(results.len(), 2);
    let first = results[0].as_ref().expect("valid");
    assert_eq!(first.value(), &json!({"a": 1, "b": {"c": "x\ny\n"}}));
    // Block scalars are located at their first content line.
    assert_eq!(first.position_of("/b/c"), pos(4, 5));
    assert_eq!(first.key_position_of("/b/c"), Some(pos(3, 3)));
    let second = results[1].as_ref().expect("valid");
    assert_eq!(second.position_of("/d"), pos(7, 4));
}

#[test]
fn empty_input_has_no_documents() {
    assert!(parse_yaml_documents("").is_empty());
    assert!(parse_yaml_documents("\n\n  \n").is_empty());
    assert!(parse_yaml_documents("# only a comment\n").is_empty());
    assert!(parse_yaml_documents("\u{feff}").is_empty());
}

#[test]
fn empty_documents_are_skipped_but_consume_an_index() {
    let text = "---\n# nothing here\n---\nkind: A\n---\n---\nkind: B\n---\n";
    let results = parse_yaml_documents(text);
    let indices: Vec<usize> = results
        .iter()
        .map(|r| r.as_ref().map(YamlDocument::index).expect("valid"))
        .collect();
    assert_eq!(indices, vec![1, 3]);
}

#[test]
fn explicit_null_document_is_returned_as_null() {
    let results = parse_yaml_documents("--- ~\n---\na: 1\n");
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0].as_ref().map(YamlDocument::value).ok(),
        Some(&Value::Null)
    );
}

#[test]
fn marker_inside_indented_quoted_string_does_not_split() {
    let text = "a: \"first\n  --- still the same string\n  ...\"\nb: 1\n";
    let doc = one(text);
    assert_eq!(
        doc.value(),
        &json!({"a": "first --- still the same string ...", "b": 1})
    );
}

#[test]
fn directives_and_content_on_the_marker_line_are_supported() {
    let text = "%YAML 1.2\n---\na: 1\n...\n%YAML 1.2\n--- {b: 2}\n--- |\n  text\n--- !!map\nc: 3\n--- &x\nd: 4\n";
    let results = parse_yaml_documents(text);
    let values: Vec<Value> = results
        .into_iter()
        .map(|r| r.expect("valid").into_value())
        .collect();
    assert_eq!(
        values,
        vec![
            json!({"a": 1}),
            json!({"b": 2}),
            json!("text\n"),
            json!({"c": 3}),
            json!({"d": 4}),
        ]
    );
}

#[test]
fn bare_documents_after_end_markers_are_separate() {
    let results = parse_yaml_documents("a: 1\n...\nb: 2\n...\n");
    let values: Vec<Value> = results
        .into_iter()
        .map(|r| r.expect("valid").into_value())
        .collect();
    assert_eq!(values, vec![json!({"a": 1}), json!({"b": 2})]);
}

#[test]
fn content_after_an_end_marker_on_the_same_line_is_an_error() {
    let results = parse_yaml_documents("a: 1\n... b\n");
    assert!(results.len() <= 2);
    assert!(results.iter().any(Result::is_err));
}

#[test]
fn root_that_is_not_a_mapping_is_an_entity_error() {
    let cases = [
        ("- a\n- b\n", "object"),
        ("just a string\n", "string"),
        ("42\n", "number"),
        ("true\n", "boolean"),
    ];
    for (text, expected) in cases {
        let results = parse_entity_documents(text);
        assert_eq!(results.len(), 1, "{text:?}");
        let error = results[0].as_ref().expect_err("not an object");
        assert_eq!(
            error.kind(),
            &YamlErrorKind::NotAnObject { found: expected },
            "{text:?}"
        );
        assert!(
            error
                .to_string()
                .ends_with(&format!("expected object at root, got {expected}")),
            "{error}"
        );
        assert_eq!(error.document(), 0);
    }
    // The plain parser accepts any root.
    assert_eq!(value("- a\n"), json!(["a"]));
    // Backstage ignores documents whose root is null (`---` at the end of a file, `--- ~`).
    assert!(parse_entity_documents("--- null\n").is_empty());
    let mixed = parse_entity_documents("--- ~\n---\nkind: A\n");
    assert_eq!(mixed.len(), 1);
    assert_eq!(mixed[0].as_ref().map(|d| d.index()).ok(), Some(1));
}

#[test]
fn entity_errors_keep_document_indices() {
    let results = parse_entity_documents("kind: A\n---\n- x\n---\nkind: B\n");
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[1].as_ref().map_err(YamlError::document).err(),
        Some(1)
    );
    assert_eq!(
        results[1].as_ref().map_err(YamlError::position).err(),
        Some(Some(pos(3, 1)))
    );
    assert_eq!(results[2].as_ref().map(YamlDocument::index).ok(), Some(2));
}

#[test]
fn positions_of_values_items_and_keys() {
    let doc = parse_yaml_documents(SAMPLE)
        .into_iter()
        .next()
        .and_then(Result::ok)
        .expect("first sample document is valid");
    assert_eq!(doc.position_of(""), pos(2, 1));
    assert_eq!(doc.position_of("/metadata"), pos(5, 3));
    assert_eq!(doc.key_position_of("/metadata"), Some(pos(4, 1)));
    assert_eq!(doc.position_of("/metadata/name"), pos(5, 9));
    assert_eq!(doc.key_position_of("/metadata/name"), Some(pos(5, 3)));
    assert_eq!(doc.position_of("/metadata/tags/1"), pos(11, 16));
    assert_eq!(doc.position_of("/spec/providesApis/0"), pos(17, 7));
    assert_eq!(doc.position_of("/spec/providesApis/1"), pos(18, 7));
    assert_eq!(doc.key_position_of("/spec/providesApis/1"), None);
    assert_eq!(doc.key_position_of(""), None);
    assert_eq!(doc.position_of("/spec/owner"), pos(15, 10));
    assert_eq!(
        doc.position_of("/metadata/annotations/github.com~1project-slug"),
        pos(10, 30)
    );
}

#[test]
fn position_of_a_missing_node_is_its_nearest_ancestor() {
    let doc = one("kind: A\nspec:\n  type: service\n  list: [a]\n");
    assert_eq!(doc.position_of("/spec/owner"), doc.position_of("/spec"));
    assert_eq!(doc.position_of("/spec"), pos(3, 3));
    assert_eq!(doc.key_position_of("/spec/owner"), Some(pos(2, 1)));
    assert_eq!(doc.position_of("/spec/list/5"), pos(4, 9));
    assert_eq!(doc.position_of("/spec/list/00"), pos(4, 9));
    assert_eq!(doc.position_of("/spec/type/deeper"), pos(3, 9));
    assert_eq!(doc.position_of("/nope/x"), pos(1, 1));
    assert_eq!(doc.position_of("no-leading-slash"), pos(1, 1));
}

#[test]
fn positions_follow_insertion_order_of_keys() {
    // Requires serde_json's `preserve_order`: keys deliberately not in sorted order.
    let doc = one("zeta: 1\nalpha: [x, y]\nmid: {k: v}\n");
    assert_eq!(doc.position_of("/zeta"), pos(1, 7));
    assert_eq!(doc.position_of("/alpha/1"), pos(2, 12));
    assert_eq!(doc.position_of("/mid/k"), pos(3, 10));
    assert_eq!(doc.key_position_of("/mid/k"), Some(pos(3, 7)));
}

#[test]
fn positions_after_aliases_stay_aligned() {
    let doc = one("a: &x {p: [1, 2], q: 3}\nb: *x\nc: after\n");
    assert_eq!(doc.position_of("/b"), pos(2, 4));
    assert_eq!(doc.key_position_of("/b"), Some(pos(2, 1)));
    assert_eq!(doc.position_of("/b/q"), pos(1, 22));
    assert_eq!(doc.position_of("/c"), pos(3, 4));
}

#[test]
fn pointer_escapes_are_decoded() {
    let doc = one("\"a/b\": 1\n\"c~d\": 2\n\"~1\": 3\n");
    assert_eq!(doc.position_of("/a~1b"), pos(1, 8));
    assert_eq!(doc.position_of("/c~0d"), pos(2, 8));
    assert_eq!(doc.position_of("/~01"), pos(3, 7));
    assert_eq!(doc.position_of("/~2"), pos(1, 1));
}

#[test]
fn columns_count_characters_not_bytes() {
    let doc = one("ключ: значение\nb: 1\n");
    assert_eq!(doc.position_of("/ключ"), pos(1, 7));
}

#[test]
fn position_displays_as_line_colon_column() {
    assert_eq!(pos(3, 14).to_string(), "3:14");
}

/// Deterministic xorshift64 PRNG.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

fn assert_parses_sanely(text: &str) {
    let results = parse_yaml_documents(text);
    let limit = split::count_markers(text) + 1;
    assert!(
        results.len() <= limit,
        "{} results but only {limit} possible documents for {text:?}",
        results.len()
    );
    let _ = parse_entity_documents(text);
}

#[test]
fn every_prefix_of_a_catalog_file_parses_without_panicking() {
    for (i, _) in SAMPLE.char_indices() {
        assert_parses_sanely(&SAMPLE[..i]);
    }
    assert_parses_sanely(SAMPLE);
}

#[test]
fn random_mutations_parse_without_panicking_or_hanging() {
    const ALPHABET: &[char] = &[
        ' ', '\n', '\r', '\t', '-', '.', ':', '#', '&', '*', '!', '|', '>', '[', ']', '{', '}',
        ',', '?', '%', '@', '`', '"', '\'', '\\', '~', '<', '0', 'a', 'é', '\u{feff}',
    ];
    let original: Vec<char> = SAMPLE.chars().collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    for _ in 0..2_000 {
        let mut chars = original.clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(chars.len());
            let c = ALPHABET[rng.below(ALPHABET.len())];
            match rng.below(3) {
                0 if at < chars.len() => chars[at] = c,
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                _ => chars.insert(at, c),
            }
        }
        let text: String = chars.into_iter().collect();
        assert_parses_sanely(&text);
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn positions_at_the_end_of_input_without_a_newline_stay_on_the_last_line() {
    let results = parse_yaml_documents("a: {b");
    let error = results[0].as_ref().expect_err("unterminated flow mapping");
    assert_eq!(error.position(), Some(Position { line: 1, column: 6 }));
    let results = parse_yaml_documents("x: 1\n? a");
    let doc = results[0].as_ref().expect("parses");
    assert_eq!(doc.position_of("/a").line, 2);
}

#[test]
fn lone_carriage_returns_end_lines() {
    let results = parse_yaml_documents("a: 1\rb: 2\r");
    let doc = results[0].as_ref().expect("parses");
    assert_eq!(doc.position_of("/b").line, 2);
    let results = parse_yaml_documents("a: 1\rb: {c");
    let error = results[0].as_ref().expect_err("unterminated");
    assert_eq!(error.position().map(|p| p.line), Some(2));
}
