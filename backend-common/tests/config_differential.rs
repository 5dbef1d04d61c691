//! Differential test of the config loader and reader against Backstage's own npm packages
//! `@backstage/config-loader` 1.11.3 (`loadConfig`) and `@backstage/config` 1.3.9
//! (`ConfigReader`, `readDurationFromConfig`).
//!
//! The test generates a deterministic corpus (spec `backend-system.md` §4.2–§4.9 rule by rule,
//! plus generated combinations of layer states), writes every case's files into a temporary
//! directory, has `tests/compat/config-verdicts.cjs` load each case with the real packages
//! (one `node` process for the whole corpus), loads it with [`load_config`] and
//! [`ConfigReader`], and compares: the layers (contexts, and data as JSON with numbers compared
//! as `f64` and object keys in any order), load error messages, and the result of every reader
//! query (values, absent, error messages; `keys()` lists in order).
//!
//! Messages must agree exactly, apart from the deliberate differences listed in [`compare`].
//! Setup: `scripts/test` installs Node.js and runs `npm ci` in `tests/compat`; by hand,
//! `npm ci --prefix backend-common/tests/compat`. A missing setup fails the test, it never skips.
//!
//! Knobs: `CONFIG_DIFFERENTIAL_SHOW=<n>` prints up to n disagreements (default 40);
//! `CONFIG_DIFFERENTIAL_REPORT=<file>` writes every disagreement there as JSON;
//! `CONFIG_DIFFERENTIAL_DUMP=<file>` writes both sides' results for every case;
//! `CONFIG_DIFFERENTIAL_KEEP=<dir>` writes the cases (files and `corpus.json`) into that
//! directory and keeps them, so that `node tests/compat/config-verdicts.cjs <dir>/corpus.json`
//! can be run by hand.
//!
//! [`load_config`]: backstage_backend_common::config::load_config
//! [`ConfigReader`]: backstage_backend_common::config::ConfigReader

mod config_differential {
    pub mod case;
    pub mod corpus;
    pub mod ours;
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use config_differential::case::{Case, query_json};
use config_differential::{corpus, ours};
use serde_json::{Value, json};

const CONFIG_LOADER_VERSION: &str = "1.11.3";
const CONFIG_VERSION: &str = "1.3.9";
const SETUP_HINT: &str = "run `scripts/test` (it installs Node.js and runs `npm ci` in every */tests/compat \
     folder) or `npm ci --prefix backend-common/tests/compat` (needs Node.js 20+ and npm)";
const SHOW: usize = 40;

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("compat")
}

/// Fails (never skips) when Node.js or the npm packages are missing.
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
    for (package, version) in [
        ("config-loader", CONFIG_LOADER_VERSION),
        ("config", CONFIG_VERSION),
    ] {
        let manifest = dir
            .join("node_modules/@backstage")
            .join(package)
            .join("package.json");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
            panic!(
                "{} is missing ({e}): the npm dependencies of the differential test are not installed; {SETUP_HINT}",
                manifest.display()
            )
        });
        let installed: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(
            installed["version"].as_str(),
            Some(version),
            "{} has the wrong @backstage/{package} version; reinstall: {SETUP_HINT}",
            dir.display()
        );
    }
}

/// Writes every case's files into `<root>/<index>/` and returns the case directories.
fn write_cases(root: &Path, cases: &[Case]) -> Vec<PathBuf> {
    cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let dir = root.join(format!("{i:04}"));
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            for (name, content) in &case.files {
                let path = dir.join(name);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
                }
                std::fs::write(&path, content)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            }
            dir
        })
        .collect()
}

/// Runs the oracle on the corpus and returns its results, one per case.
fn backstage_results(compat: &Path, corpus_file: &Path, count: usize) -> Vec<Value> {
    let output = Command::new("node")
        .arg(compat.join("config-verdicts.cjs"))
        .arg(corpus_file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}): {SETUP_HINT}"));
    assert!(
        output.status.success(),
        "config-verdicts.cjs failed ({}):\n{}\nIf a module is missing: {SETUP_HINT}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("config-verdicts.cjs printed invalid JSON ({e})"));
    assert_eq!(
        results.len(),
        count,
        "config-verdicts.cjs returned the wrong number of results"
    );
    results
}

/// JSON equality with numbers compared as `f64` (JavaScript has no integer/float
/// distinction; `-0` equals `0`) and object keys in any order. Arrays, including `keys()`
/// results, are compared in order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Compares two errors: the messages and the JavaScript error class names (`TypeError`,
/// `NotFoundError`, `InputError`, `Error`; ours from `Error::backstage_name`) must agree
/// exactly, apart from these deliberate differences, where Backstage's text comes from a parser
/// library rather than from Backstage:
///
/// 1. A config file that is not valid YAML: Backstage throws the `yaml` package's own error
///    (`YAMLParseError`, e.g. `Map keys must be unique at line 2, column 1: …`, or a
///    `ReferenceError` `Unresolved alias …`, without the file name); ours is
///    `Failed to read config file at "<path>", invalid YAML: <our parser's text>`. Both must
///    fail; the texts are not compared.
/// 2. `$include` of a file that does not parse: the message must agree up to and including
///    `failed to parse included file <path>, `; the rest (`SyntaxError: <V8's JSON.parse
///    text>` or `YAMLParseError: <yaml's text>`) is the parser's.
fn errors_agree(theirs: &Value, ours: &Value) -> bool {
    let their_msg = theirs["error"].as_str().unwrap_or("");
    let our_msg = ours["error"].as_str().unwrap_or("");
    let yaml_error = theirs["errorName"] == "YAMLParseError"
        || (theirs["errorName"] == "ReferenceError" && their_msg.starts_with("Unresolved alias"));
    if yaml_error {
        return true;
    }
    if theirs["errorName"] != ours["errorName"] {
        return false;
    }
    const PARSE: &str = "failed to parse included file ";
    if let Some(at) = their_msg.find(PARSE) {
        let rest = &their_msg[at + PARSE.len()..];
        if let Some(comma) = rest.find(", ") {
            let prefix = &their_msg[..at + PARSE.len() + comma + 2];
            return our_msg.starts_with(prefix);
        }
    }
    their_msg == our_msg
}

fn results_agree(theirs: &Value, ours: &Value) -> bool {
    if theirs.get("harnessError").is_some() || ours.get("harnessError").is_some() {
        return false;
    }
    match (theirs.get("error"), ours.get("error")) {
        (Some(_), Some(_)) => errors_agree(theirs, ours),
        (None, None) => json_eq(theirs, ours),
        _ => false,
    }
}

thread_local! {
    /// Reasons of the documented differences met, for the summary line.
    static DOCUMENTED: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The differences documented in the `config` module docs ("Differences from Backstage"),
/// recognised so that the test fails only on undocumented ones. Each returns its reason.
/// When a case's load differs for one of these reasons its queries are not compared (they
/// read the differing values).
fn documented_difference(case: &Case, theirs: &Value, ours: &Value) -> Option<&'static str> {
    let t = theirs.to_string();
    let o = ours.to_string();
    let files: String = case
        .files
        .iter()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    // JSON cannot hold ±Infinity or NaN: we store null where JavaScript keeps the number, and
    // an included JSON file with an out-of-range number is an error.
    if t.contains("$nonFinite") {
        let normalised = replace_non_finite(theirs.clone());
        if json_eq(&normalised, ours) || o.contains("number out of range") {
            return Some("non-finite numbers");
        }
    }
    // JSON nested deeper than serde_json's 128 levels stays a raw string (APP_CONFIG_*) or is
    // a parse error; YAML deeper than 256 levels is an error.
    if t.contains("$deep") {
        return Some("nesting depth limit");
    }
    // UTF-16 surrogate-pair escapes (`"\ud83d\ude00"`) in double-quoted YAML are rejected.
    if files.contains("\\ud8") && o.contains("invalid Unicode character escape") {
        return Some("surrogate escapes in YAML");
    }
    // saphyr-parser accepts tab indentation, which the JS `yaml` library rejects, and we
    // ignore `%YAML 1.1` (always YAML 1.2 core rules).
    if (t.contains("Tabs are not allowed as indentation") && !o.contains("\"error\""))
        || files.contains("%YAML 1.1")
    {
        return Some("YAML leniency");
    }
    // A config target that cannot be read (a directory): we name the file, Backstage gives
    // the bare Node error.
    if let (Some(te), Some(oe)) = (theirs["error"].as_str(), ours["error"].as_str())
        && te.starts_with("EISDIR")
        && oe.starts_with("Failed to read config file at ")
        && oe.ends_with(te)
    {
        return Some("unreadable file message names the file");
    }
    None
}

/// Replaces the oracle's `{"$nonFinite": ...}` markers with `null`, our representation.
fn replace_non_finite(v: Value) -> Value {
    match v {
        Value::Object(map) if map.contains_key("$nonFinite") => Value::Null,
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, replace_non_finite(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(replace_non_finite).collect()),
        other => other,
    }
}

/// One disagreement: case index, what differs, Backstage's and our values.
struct Failure {
    case: usize,
    what: String,
    theirs: Value,
    ours: Value,
}

/// Compares one case, returning every disagreement: the load result first; when the loads
/// agree, each query.
fn compare(index: usize, case: &Case, theirs: &Value, ours: &Value) -> Vec<Failure> {
    let fail = |what: String, t: &Value, o: &Value| Failure {
        case: index,
        what,
        theirs: t.clone(),
        ours: o.clone(),
    };
    if let Some(h) = theirs.get("harnessError") {
        return vec![fail("oracle harness error".into(), h, &Value::Null)];
    }
    let load = |v: &Value| -> Value {
        match v.get("error") {
            Some(e) => json!({ "error": e, "errorName": v.get("errorName") }),
            None => json!({ "layers": v["layers"] }),
        }
    };
    let (t_load, o_load) = (load(theirs), load(ours));
    let load_ok = results_agree(&t_load, &o_load);
    if !load_ok {
        if let Some(reason) = documented_difference(case, &t_load, &o_load) {
            DOCUMENTED.with(|d| d.borrow_mut().push(reason));
            return Vec::new();
        }
        return vec![fail("load".into(), &t_load, &o_load)];
    }
    let empty = Vec::new();
    let t_queries = theirs["queries"].as_array().unwrap_or(&empty);
    let o_queries = ours["queries"].as_array().unwrap_or(&empty);
    if t_queries.len() != o_queries.len() {
        return vec![fail(
            "query count".into(),
            &json!(t_queries.len()),
            &json!(o_queries.len()),
        )];
    }
    let mut failures = Vec::new();
    for (i, ((t, o), q)) in t_queries
        .iter()
        .zip(o_queries)
        .zip(&case.queries)
        .enumerate()
    {
        if !results_agree(t, o) {
            failures.push(fail(
                format!("query #{i} {}", query_text(&query_json(q))),
                t,
                o,
            ));
        }
    }
    failures
}

/// `getConfig('a').getConfigArray('b')[0].getString('c')`.
fn query_text(q: &Value) -> String {
    let mut s = String::new();
    for step in q["path"].as_array().into_iter().flatten() {
        let key = Value::String(step["key"].as_str().unwrap_or("").into());
        s.push_str(&format!("{}({key})", step["op"].as_str().unwrap_or("?")));
        if step["op"].as_str().is_some_and(|o| o.ends_with("Array")) {
            s.push_str(&format!("[{}]", step["index"]));
        }
        s.push('.');
    }
    let key = q
        .get("key")
        .map(|k| Value::String(k.as_str().unwrap_or("").into()).to_string())
        .unwrap_or_default();
    s.push_str(&format!("{}({key})", q["op"].as_str().unwrap_or("?")));
    s
}

/// Compact JSON for the report, with invisible and unusual characters escaped.
fn show(v: &Value) -> String {
    let mut s = String::new();
    for c in v.to_string().chars() {
        if c == ' '
            || c.is_ascii_graphic()
            || (!c.is_ascii()
                && !c.is_control()
                && !c.is_whitespace()
                && !matches!(c, '\u{AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'))
        {
            s.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                s.push_str(&format!("\\u{u:04X}"));
            }
        }
    }
    if s.chars().count() > 600 {
        let head: String = s.chars().take(600).collect();
        format!("{head}... ({} chars)", s.chars().count())
    } else {
        s
    }
}

/// The inputs of a case, for the report.
fn describe_case(case: &Case) -> String {
    let mut out = String::new();
    // Fixture files that nothing mentions are left out.
    let is_config = |name: &str| {
        name.starts_with("app-config")
            || case
                .targets
                .iter()
                .flatten()
                .any(|t| t.trim_start_matches("cwd:") == name)
    };
    let mentioned = |name: &str| {
        let base = name.rsplit('/').next().unwrap_or(name);
        case.files.iter().any(|(other, content)| {
            other != name && String::from_utf8_lossy(content).contains(base)
        }) || case.env.values().any(|v| v.contains(base))
    };
    let hidden = case
        .files
        .iter()
        .filter(|(n, _)| !is_config(n) && !mentioned(n))
        .count();
    for (name, content) in &case.files {
        if !is_config(name) && !mentioned(name) {
            continue;
        }
        let text = String::from_utf8_lossy(content);
        out.push_str(&format!(
            "    file {name}: {}\n",
            show(&Value::String(text.into_owned()))
        ));
    }
    if hidden > 0 {
        out.push_str(&format!(
            "    ({hidden} unreferenced fixture files not shown)\n"
        ));
    }
    if let Some(t) = &case.targets {
        out.push_str(&format!("    --config {}\n", t.join(" --config ")));
    }
    if !case.env.is_empty() {
        out.push_str(&format!("    env {}\n", show(&json!(case.env))));
    }
    if case.allow_missing {
        out.push_str("    allowMissingDefaultConfig\n");
    }
    out
}

/// Up to `max` failures, round-robin over the categories, in corpus order within one.
fn sample<'a>(failures: &'a [Failure], cases: &[Case], max: usize) -> Vec<&'a Failure> {
    let mut by_cat: BTreeMap<&str, Vec<&Failure>> = BTreeMap::new();
    for f in failures {
        by_cat.entry(cases[f.case].cat).or_default().push(f);
    }
    let mut out = Vec::new();
    let mut round = 0;
    while out.len() < max.min(failures.len()) {
        for list in by_cat.values() {
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

#[test]
fn differential_against_backstage_config_loader() {
    let compat = compat_dir();
    check_setup(&compat);

    let cases = corpus::corpus();
    let (root, _guard) = match std::env::var_os("CONFIG_DIFFERENTIAL_KEEP") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            (dir, None)
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("config-differential-")
                .tempdir()
                .expect("temporary directory");
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    // Both sides see the same absolute paths (and so the same messages) only without symlinks.
    let root = root.canonicalize().expect("canonical temporary directory");
    let dirs = write_cases(&root, &cases);
    let corpus_json: Vec<Value> = cases
        .iter()
        .zip(&dirs)
        .map(|(c, d)| c.to_oracle_json(d))
        .collect();
    let corpus_file = root.join("corpus.json");
    std::fs::write(
        &corpus_file,
        serde_json::to_vec(&corpus_json).expect("corpus serialises"),
    )
    .expect("write corpus.json");

    let theirs = backstage_results(&compat, &corpus_file, cases.len());
    let mut failures = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut queries = 0;
    let mut dump = Vec::new();
    for (i, ((case, dir), theirs)) in cases.iter().zip(&dirs).zip(&theirs).enumerate() {
        *counts.entry(case.cat).or_default() += 1;
        queries += case.queries.len();
        let ours = ours::run(case, dir);
        failures.extend(compare(i, case, theirs, &ours));
        dump.push(json!({ "case": case.id, "note": case.note, "theirs": theirs, "ours": ours }));
    }
    if let Some(path) = std::env::var_os("CONFIG_DIFFERENTIAL_DUMP") {
        std::fs::write(&path, serde_json::to_vec(&dump).expect("dump"))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", Path::new(&path).display()));
    }

    let summary = counts
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    if failures.is_empty() {
        let mut documented = std::collections::BTreeMap::<&str, usize>::new();
        DOCUMENTED.with(|d| {
            for reason in d.borrow().iter() {
                *documented.entry(reason).or_default() += 1;
            }
        });
        // Written to the stderr handle, not with `println!`, so it shows in CI logs even
        // though the test harness captures the output of passing tests.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "config differential: {} cases, {queries} queries agree with @backstage/config-loader {CONFIG_LOADER_VERSION} and @backstage/config {CONFIG_VERSION} ({summary}); documented differences: {documented:?}",
            cases.len()
        );
        return;
    }
    if let Some(path) = std::env::var_os("CONFIG_DIFFERENTIAL_REPORT") {
        let all: Vec<Value> = failures
            .iter()
            .map(|f| {
                let c = &cases[f.case];
                json!({
                    "case": c.id, "note": c.note, "what": f.what,
                    "theirs": f.theirs, "ours": f.ours,
                    "files": c.files.iter().map(|(n, b)| json!([n, String::from_utf8_lossy(b)])).collect::<Vec<_>>(),
                    "targets": c.targets, "env": c.env,
                })
            })
            .collect();
        std::fs::write(&path, serde_json::to_vec_pretty(&all).expect("report"))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", Path::new(&path).display()));
    }
    let show_max = std::env::var("CONFIG_DIFFERENTIAL_SHOW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SHOW);
    let mut per_cat: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &failures {
        *per_cat.entry(cases[f.case].cat).or_default() += 1;
    }
    let mut report = format!(
        "{} disagreement(s) with @backstage/config-loader {CONFIG_LOADER_VERSION} / @backstage/config {CONFIG_VERSION} in {} cases ({summary}); by category: {}\n",
        failures.len(),
        cases.len(),
        per_cat
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for f in sample(&failures, &cases, show_max) {
        let c = &cases[f.case];
        report.push_str(&format!(
            "\n{} ({}): {}\n{}  backstage: {}\n  ours:      {}\n",
            c.id,
            c.note,
            f.what,
            describe_case(c),
            show(&f.theirs),
            show(&f.ours)
        ));
    }
    if failures.len() > show_max {
        report.push_str(&format!(
            "\n... and {} more (CONFIG_DIFFERENTIAL_SHOW=<n> shows more, CONFIG_DIFFERENTIAL_REPORT=<file> writes all)\n",
            failures.len() - show_max
        ));
    }
    panic!("{report}");
}
