//! Differential test against Backstage's own npm package `@backstage/catalog-model` 1.10.1.
//!
//! The test generates a deterministic corpus of several thousand cases (entity documents
//! through the catalog's policy chain and kind validators, single kind validators, the
//! validator predicates, entity refs, location refs, the group-default-parent policy),
//! has `tests/compat/verdicts.cjs` compute Backstage's verdict for every case with the real
//! package (one `node` process), computes ours, and compares them.
//!
//! Verdicts and error messages must agree exactly, apart from the deliberate differences
//! listed in [`compare`]. Setup: `scripts/test` installs Node.js and runs `npm ci` in
//! `tests/compat`; by hand, `npm ci --prefix catalog-model/tests/compat`.

mod differential {
    pub mod corpus;
    pub mod ours;
}

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use differential::corpus;
use differential::ours::{Ours, doc_of};
use serde_json::Value;

const BACKSTAGE_VERSION: &str = "1.10.1";
const SETUP_HINT: &str = "run `scripts/test` (it installs Node.js and runs `npm ci` in every */tests/compat \
     folder) or `npm ci --prefix catalog-model/tests/compat` (needs Node.js 20+ and npm)";
/// How many disagreements to print (override with CATALOG_MODEL_DIFFERENTIAL_SHOW).
const SHOW: usize = 40;

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("compat")
}

/// Fails (never skips) when Node.js or the npm package is missing.
fn check_setup(dir: &Path) {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`node --version` failed ({}): {}\nThe differential test needs Node.js: {SETUP_HINT}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            panic!("cannot run `node` ({e}). The differential test needs Node.js: {SETUP_HINT}")
        }
    }
    let manifest = dir.join("node_modules/@backstage/catalog-model/package.json");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): the npm dependencies of the differential test are not installed; {SETUP_HINT}",
            manifest.display()
        )
    });
    let installed: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(
        installed["version"].as_str(),
        Some(BACKSTAGE_VERSION),
        "{} has the wrong @backstage/catalog-model version; reinstall: {SETUP_HINT}",
        dir.display()
    );
}

/// Runs the oracle on the corpus and returns its results, one per case.
fn backstage_verdicts(dir: &Path, cases: &[Value]) -> Vec<Value> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let file = std::env::temp_dir().join(format!(
        "catalog-model-differential-{}-{nanos}.json",
        std::process::id()
    ));
    std::fs::write(&file, serde_json::to_vec(cases).expect("corpus serialises"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    let output = Command::new("node")
        .arg(dir.join("verdicts.cjs"))
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let output = output.unwrap_or_else(|e| panic!("cannot run node ({e}): {SETUP_HINT}"));
    assert!(
        output.status.success(),
        "verdicts.cjs failed ({}):\n{}\nIf a module is missing: {SETUP_HINT}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("verdicts.cjs printed invalid JSON ({e})"));
    assert_eq!(
        results.len(),
        cases.len(),
        "verdicts.cjs returned the wrong number of results"
    );
    results
}

fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn is_error(v: &Value) -> bool {
    v.get("error").is_some()
}

/// Compares one case. `Ok` when the verdicts agree, allowing for these deliberate
/// differences (each documented in the crate's API docs):
///
/// 1. `entity`, stage `unknown-kind`: only the stage is compared. Backstage's message for
///    "no kind validator recognised the entity" comes from the catalog's processing loop, not
///    from catalog-model (the oracle reports no message).
/// 2. `parseRef` on a compound ref with a part that is neither a string nor null/absent
///    nor falsy (`{kind: 5}`, `{name: []}`): JavaScript passes such parts through unchecked
///    (or fails on a later missing part), our `parse_entity_ref_value` rejects them with
///    "... has a <part> that is not a string". We require an error; the text is ours.
/// 3. `stringifyRef` errors: JavaScript only fails by accident (`TypeError: Cannot read
///    properties of undefined (reading 'toLowerCase')`, `Cannot use 'in' operator ...`); our
///    `stringify_entity_ref_value` returns a descriptive error instead. We require both to
///    fail; the texts are not compared.
/// 4. `groupParent` where JavaScript crashes with a runtime TypeError (`Cannot read
///    properties of undefined (reading 'parent')`, `Cannot create property 'parent' on
///    string`, ...) because `spec` is missing or not an object, or where it silently sets a
///    property on an array `spec` that JSON drops: we return a validation error instead. We
///    require our error; the text is ours.
///
/// (The field-format policy on schema-invalid input, which the spec also lets differ, is never
/// reached here: the chain runs the schema policy first and the policy is not tested alone.)
fn compare(case: &Value, theirs: &Value, ours: &Value) -> Result<(), String> {
    if theirs.get("harnessError").is_some() || ours.get("harnessError").is_some() {
        return Err("harness error".into());
    }
    let t = case["t"].as_str().unwrap_or("");
    let agree = match t {
        "entity" if theirs["stage"] == "unknown-kind" => ours["stage"] == "unknown-kind",
        "parseRef" if has_non_string_part(&case["input"]) => is_error(ours),
        "stringifyRef" if is_error(theirs) => is_error(ours),
        "groupParent" if group_spec_crash(case, theirs) => is_error(ours),
        _ if theirs.get("output").is_some() && ours.get("output").is_some() => {
            let rest = |v: &Value| {
                let mut v = v.clone();
                if let Some(m) = v.as_object_mut() {
                    m.remove("output");
                }
                v
            };
            rest(theirs) == rest(ours) && outputs_agree(&theirs["output"], &ours["output"])
        }
        _ => theirs == ours,
    };
    if agree {
        return Ok(());
    }
    let what = if t == "entity" && theirs["stage"] != ours["stage"] {
        "stage differs"
    } else if theirs.get("output").is_some() && ours.get("output").is_some() {
        "output differs"
    } else if is_error(theirs) != is_error(ours) {
        "verdict differs"
    } else if theirs.get("message").is_some() || is_error(theirs) {
        "message differs"
    } else {
        "result differs"
    };
    Err(format!("{t}: {what}"))
}

/// Exception 2: a compound ref with a truthy part that is not a string.
fn has_non_string_part(input: &Value) -> bool {
    input.is_object()
        && ["kind", "namespace", "name"]
            .iter()
            .filter_map(|k| input.get(*k))
            .any(|v| !v.is_string() && js_truthy(v))
}

/// Exception 5: output entities are compared as data in JavaScript's key order. JavaScript
/// engines enumerate integer-like keys (`"1"`, `"10"`) before all others, whatever the
/// document order, while we keep document order; and `lodash.merge` (inside
/// `DefaultNamespaceEntityPolicy`) silently drops `__proto__` keys that hold objects or arrays,
/// while we keep the data. Neither changes a verdict.
fn outputs_agree(theirs: &Value, ours: &Value) -> bool {
    let parse = |v: &Value| -> Option<Value> {
        let mut parsed: Value = serde_json::from_str(v.as_str()?).ok()?;
        strip_proto(&mut parsed);
        Some(parsed)
    };
    match (parse(theirs), parse(ours)) {
        (Some(t), Some(o)) => js_order_text(&t) == js_order_text(&o),
        _ => theirs == ours,
    }
}

fn strip_proto(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map
                .get("__proto__")
                .is_some_and(|p| p.is_object() || p.is_array())
            {
                map.shift_remove("__proto__");
            }
            map.values_mut().for_each(strip_proto);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_proto),
        _ => {}
    }
}

/// Serialises with integer-like keys first (ascending), then the rest in order.
fn js_order_text(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let index = |k: &str| -> Option<u64> {
                let ok = !k.is_empty()
                    && k.len() <= 10
                    && k.bytes().all(|b| b.is_ascii_digit())
                    && (k == "0" || !k.starts_with('0'));
                ok.then(|| k.parse::<u64>().ok())
                    .flatten()
                    .filter(|n| *n < u64::from(u32::MAX))
            };
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| match index(k) {
                Some(n) => (0, n),
                None => (1, 0),
            });
            let body: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        js_order_text(&map[*k])
                    )
                })
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(js_order_text)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

/// Exception 4: JavaScript crashed with a runtime TypeError inside
/// `GroupDefaultParentEntityPolicy` (no object `spec`, or no string `metadata.name`), or
/// produced junk for an array `spec`; we return an error with our own text.
fn group_spec_crash(case: &Value, theirs: &Value) -> bool {
    let doc = &case["doc"];
    if doc.get("kind").and_then(Value::as_str) != Some("Group") {
        return false;
    }
    let bad_name = !doc.pointer("/metadata/name").is_some_and(Value::is_string);
    if doc.get("spec").is_some_and(Value::is_object) && !bad_name {
        return false;
    }
    let js_runtime_error = theirs["error"]
        .as_str()
        .is_some_and(|m| m.starts_with("Cannot ") || m.ends_with(" is not a function"));
    let array_spec = doc.get("spec").is_some_and(Value::is_array) && theirs.get("output").is_some();
    js_runtime_error || array_spec
}

type Failure<'a> = (String, &'a Value, Value, Value);

/// Up to `max` failures, taken round-robin over the case types so that every type with a
/// disagreement shows up in the report; in corpus order within a type.
fn sample<'a, 'b>(failures: &'b [Failure<'a>], max: usize) -> Vec<&'b Failure<'a>> {
    let mut by_type: BTreeMap<&str, Vec<&Failure<'a>>> = BTreeMap::new();
    for f in failures {
        by_type
            .entry(f.1["t"].as_str().unwrap_or("?"))
            .or_default()
            .push(f);
    }
    let mut out = Vec::new();
    let mut round = 0;
    while out.len() < max.min(failures.len()) {
        for list in by_type.values() {
            if let Some(f) = list.get(round)
                && out.len() < max
            {
                out.push(*f);
            }
        }
        round += 1;
    }
    out
}

/// Compact JSON for the report, with invisible and unusual characters escaped so that e.g.
/// U+0085 or U+FEFF can be told apart from an empty string.
fn show(v: &Value) -> String {
    let mut s = String::new();
    for c in v.to_string().chars() {
        let visible = c == ' '
            || c.is_ascii_graphic()
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace() && !is_format_char(c));
        if visible {
            s.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                s.push_str(&format!("\\u{u:04X}"));
            }
        }
    }
    if s.chars().count() > 1200 {
        let head: String = s.chars().take(1200).collect();
        format!("{head}... ({} chars)", s.chars().count())
    } else {
        s
    }
}

/// Where two `output` texts first differ, for outputs too long to show whole.
fn first_difference(theirs: &Value, ours: &Value) -> Option<String> {
    let (a, b) = (
        theirs.get("output")?.as_str()?,
        ours.get("output")?.as_str()?,
    );
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let at = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let snippet = |t: &[char]| -> String {
        let from = at.saturating_sub(60);
        let to = (at + 60).min(t.len());
        show(&Value::String(t[from..to].iter().collect()))
    };
    Some(format!(
        "  outputs first differ at char {at}:\n    backstage: ...{}...\n    ours:      ...{}...\n",
        snippet(&a),
        snippet(&b)
    ))
}

fn is_format_char(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

#[test]
fn differential_against_backstage_catalog_model() {
    let dir = compat_dir();
    check_setup(&dir);

    let cases = corpus::corpus();
    // Debugging aid: CATALOG_MODEL_DIFFERENTIAL_CORPUS=<file> also saves the corpus there, so
    // that `node tests/compat/verdicts.cjs <file>` can be run by hand.
    if let Some(path) = std::env::var_os("CATALOG_MODEL_DIFFERENTIAL_CORPUS") {
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&cases).expect("corpus serialises"),
        )
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", Path::new(&path).display()));
    }
    let theirs = backstage_verdicts(&dir, &cases);
    let ours = Ours::new();

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (case, theirs) in cases.iter().zip(&theirs) {
        let t = case["t"].as_str().unwrap_or("?");
        *counts.entry(t).or_default() += 1;
        let mine = ours.verdict(case, &cases);
        if let Err(why) = compare(case, theirs, &mine) {
            failures.push((why, case, theirs.clone(), mine));
        }
    }

    let show_max = std::env::var("CATALOG_MODEL_DIFFERENTIAL_SHOW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SHOW);
    let summary = counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if !failures.is_empty() {
        let mut report = String::new();
        for (why, case, theirs, mine) in sample(&failures, show_max) {
            let mut case = (*case).clone();
            if case.get("docRef").is_some() {
                case["doc"] = doc_of(&case, &cases).clone();
            }
            report.push_str(&format!(
                "\n--- {why}\n  case:      {}\n  backstage: {}\n  ours:      {}\n",
                show(&case),
                show(theirs),
                show(mine)
            ));
            if let Some(hint) = first_difference(theirs, mine) {
                report.push_str(&hint);
            }
        }
        let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, case, _, _) in &failures {
            *by_type
                .entry(case["t"].as_str().unwrap_or("?"))
                .or_default() += 1;
        }
        panic!(
            "differential: {} of {} cases disagree with @backstage/catalog-model {BACKSTAGE_VERSION} \
             (by type: {by_type:?}); {} of them:{report}\ncorpus: {summary}",
            failures.len(),
            cases.len(),
            failures.len().min(show_max),
        );
    }
    // Written straight to stderr (not through the test harness's capture) so that it shows
    // in CI logs.
    let _ = writeln!(
        std::io::stderr(),
        "differential: {} cases agree with @backstage/catalog-model {BACKSTAGE_VERSION} ({summary})",
        cases.len()
    );
}
