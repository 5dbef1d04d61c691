//! The deterministic corpus: spec §4.2–§4.9 rule by rule, plus generated combinations.

use serde_json::{Value, json};

use super::case::{ALL_GETTERS, Case, arr, cfg, finish, oarr, ocfg};

/// All cases, numbered.
pub fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    key_syntax(&mut cases);
    lookup_layers(&mut cases);
    lookup_env(&mut cases);
    merge(&mut cases);
    getters(&mut cases);
    durations(&mut cases);
    config_arrays(&mut cases);
    has_keys(&mut cases);
    error_contexts(&mut cases);
    substitution(&mut cases);
    substitution_trim(&mut cases);
    substitution_placement(&mut cases);
    env_directive(&mut cases);
    file_directive(&mut cases);
    include_directive(&mut cases);
    app_config_env(&mut cases);
    files(&mut cases);
    yaml(&mut cases);
    precedence(&mut cases);
    finish(cases)
}

/// Escapes a string as a YAML double-quoted scalar (JSON string syntax is valid YAML).
fn yq(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

// ---------------------------------------------------------------------------------------
// §4.2 key syntax

const KEY_SYNTAX_CONFIG: &str = r#"a:
  b:
    c: deep
  b-c: dash
  b_c: under
  "b:c": colon
A: upper
aB: camel
x1: one
a-b: dash
a_b: under
"a:b": colon
a1-b2_c3:d4: mixed
"1a": digit
"": empty
"a b": space
"$a": dollar
"a.b": dotted
"ſ": long-s
"K": kelvin
"é": e-acute
n: null
"#;

const VALID_KEYS: &[&str] = &[
    "a",
    "A",
    "aB",
    "x1",
    "a-b",
    "a_b",
    "a:b",
    "a1-b2_c3:d4",
    "a.b",
    "a.b.c",
    "a.b-c",
    "a.b_c",
    "a.b:c",
    "a.B",
    "z",
    "n",
    "n.x",
    "missing.deep.key",
    "a.b.c.d",
    "A.b",
    "a-1",
    "a_1",
    "a:1",
    "x1.y2",
    "Ab-Cd",
];

const INVALID_KEYS: &[&str] = &[
    "", ".", "a.", ".a", "a..b", "1a", "a-", "a--b", "-a", "a b", " a", "a ", "$a", "a$", "a.1",
    "a[0]", "a-_b", "_a", "a__b", "ä", "ſ", "\u{212A}", "é", "a:", ":a", "a.b.", "a/b", "a\tb",
    "🙂", "a.b..c", "ab-", "a.B-", "a::b", "a-:b", "0", "a.0", "a\u{0}", "a\n", "ａ",
];

fn key_syntax(cases: &mut Vec<Case>) {
    let ops = [
        "has",
        "getOptional",
        "getOptionalString",
        "getString",
        "getOptionalConfig",
        "getOptionalNumber",
        "getOptionalStringArray",
        "getOptionalConfigArray",
    ];
    for (valid, keys) in [("valid", VALID_KEYS), ("invalid", INVALID_KEYS)] {
        for key in keys {
            cases.push(
                Case::new("key-syntax", format!("{valid} key {key:?}"))
                    .file("app-config.yaml", KEY_SYNTAX_CONFIG)
                    .qs(&ops, &[key]),
            );
        }
    }
    // Keys under a sub-reader: the prefix shows in messages, the key check is per call.
    let sub_keys = [
        "b", "b.c", "b-c", "b..c", "B", "", "b.", "c", "b.c.d", "1", "b-c.x",
    ];
    cases.push(
        Case::new("key-syntax", "keys under getConfig('a')")
            .file("app-config.yaml", KEY_SYNTAX_CONFIG)
            .qps(&[cfg("a")], &["has", "getOptional", "getString"], &sub_keys)
            .qps(
                &[cfg("a"), cfg("b")],
                &["getString", "getNumber"],
                &["c", "", "d"],
            ),
    );
    // Data keys are not restricted, they are just unreachable.
    cases.push(
        Case::new(
            "key-syntax",
            "unreachable data keys survive loading and merging",
        )
        .file("app-config.yaml", KEY_SYNTAX_CONFIG)
        .env("APP_CONFIG_a_b_e", "1")
        .q("getOptional", "a")
        .q0("keys"),
    );
}

// ---------------------------------------------------------------------------------------
// §4.3 layered lookup, generated: every combination of layer states at `x` / `x.y`

fn layer_states() -> Vec<(&'static str, Value)> {
    vec![
        ("absent", json!({ "other": 1 })),
        ("x-null", json!({ "x": null })),
        ("y-null", json!({ "x": { "y": null } })),
        ("y-str", json!({ "x": { "y": "s" } })),
        ("y-num", json!({ "x": { "y": 5 } })),
        ("y-obj", json!({ "x": { "y": { "z": 1, "n": null } } })),
        ("y-arr", json!({ "x": { "y": [1, null, { "a": null }] } })),
        ("x-str", json!({ "x": "str" })),
        ("x-empty", json!({ "x": {} })),
        ("x-sib", json!({ "x": { "w": 2, "y2": null } })),
        ("y-obj2", json!({ "x": { "y": { "z": null, "q": 2 } } })),
        (
            "x-arr",
            json!({ "x": [{ "y": 1 }, { "y": "two", "n": null }] }),
        ),
        ("y-strarr", json!({ "x": { "y": ["a", "b"] } })),
    ]
}

fn lookup_queries(case: Case) -> Case {
    let opt_x = [ocfg("x")];
    let opt_xy = [ocfg("x"), ocfg("y")];
    let arr_x = [oarr("x", 0)];
    case.qs(&["getOptional"], &["x", "x.y", "x.y.z", "x.w"])
        .qs(
            &[
                "get",
                "getOptionalString",
                "getString",
                "getOptionalNumber",
                "getOptionalBoolean",
                "getOptionalStringArray",
                "getConfig",
            ],
            &["x.y"],
        )
        .qs(&["has"], &["x", "x.y", "x.y.z", "other", "x.w", "x.y2"])
        .qs(
            &["getOptionalConfig", "getOptionalConfigArray"],
            &["x", "x.y"],
        )
        .qp(&opt_x, "keys", None)
        .qps(
            &opt_x,
            &["has", "getOptional", "getString", "getOptionalConfig"],
            &["y"],
        )
        .qp(&opt_xy, "keys", None)
        .qps(&opt_xy, &["getOptionalNumber", "has"], &["z", "q", "n"])
        .qps(&arr_x, &["getOptional", "getString", "has"], &["y", "n"])
        .qp(&arr_x, "keys", None)
}

fn lookup_layers(cases: &mut Vec<Case>) {
    let states = layer_states();
    for (low_name, low) in &states {
        for (high_name, high) in &states {
            cases.push(lookup_queries(
                Case::new(
                    "lookup-2",
                    format!("low.yaml {low_name}, high.yaml {high_name}"),
                )
                .json("low.yaml", low)
                .json("high.yaml", high)
                .target("low.yaml")
                .target("high.yaml"),
            ));
        }
    }
    let subset: Vec<_> = states
        .iter()
        .filter(|(n, _)| {
            [
                "absent", "x-null", "y-null", "y-str", "y-obj", "x-str", "y-obj2",
            ]
            .contains(n)
        })
        .collect();
    for (low_name, low) in &subset {
        for (mid_name, mid) in &subset {
            for (high_name, high) in &subset {
                cases.push(lookup_queries(
                    Case::new(
                        "lookup-3",
                        format!("low.yaml {low_name}, mid.yaml {mid_name}, high.yaml {high_name}"),
                    )
                    .json("low.yaml", low)
                    .json("mid.yaml", mid)
                    .json("high.yaml", high)
                    .target("low.yaml")
                    .target("mid.yaml")
                    .target("high.yaml"),
                ));
            }
        }
    }
}

/// File states under an `env` layer built from `APP_CONFIG_*`.
fn lookup_env(cases: &mut Vec<Case>) {
    let envs: &[(&str, &[(&str, &str)])] = &[
        ("no env", &[]),
        ("x_y=\"s2\"", &[("APP_CONFIG_x_y", "\"s2\"")]),
        ("x_y=7", &[("APP_CONFIG_x_y", "7")]),
        ("x={y:null}", &[("APP_CONFIG_x", "{\"y\":null}")]),
        ("x=\"str\"", &[("APP_CONFIG_x", "\"str\"")]),
        ("x={q:3}", &[("APP_CONFIG_x", "{\"q\":3}")]),
        ("x_y=[1,2]", &[("APP_CONFIG_x_y", "[1,2]")]),
        ("x_y={z:2}", &[("APP_CONFIG_x_y", "{\"z\":2}")]),
    ];
    for (file_name, file) in layer_states() {
        for (env_name, vars) in envs {
            let mut case = Case::new(
                "lookup-env",
                format!("app-config {file_name}, env {env_name}"),
            )
            .json("app-config.yaml", &file);
            for (k, v) in *vars {
                case = case.env(k, v);
            }
            cases.push(lookup_queries(case));
        }
    }
}

// ---------------------------------------------------------------------------------------
// §4.3 deep merge

fn merge(cases: &mut Vec<Case>) {
    let three = |note: &str, a: Value, b: Value, c: Value| {
        Case::new("merge", note)
            .json("a.yaml", &a)
            .json("b.yaml", &b)
            .json("c.yaml", &c)
            .target("a.yaml")
            .target("b.yaml")
            .target("c.yaml")
            .qs(&["getOptional", "get"], &["o", "o.p", "arr", "n"])
            .qp(&[ocfg("o")], "keys", None)
    };
    cases.push(three(
        "objects merge key by key at every depth",
        json!({"o": {"p": {"a": 1, "b": 1}, "q": 1}}),
        json!({"o": {"p": {"b": 2, "c": 2}, "r": 2}}),
        json!({"o": {"p": {"c": 3, "d": 3}}}),
    ));
    cases.push(three(
        "arrays replace wholesale",
        json!({"arr": [1, 2, 3], "o": {"p": [1]}}),
        json!({"arr": [4]}),
        json!({"o": {"p": []}}),
    ));
    cases.push(three(
        "nulls inside objects are removed, inside arrays kept",
        json!({"o": {"p": {"a": null, "b": 1}, "n": null}, "arr": [null, {"a": null}]}),
        json!({"o": {"p": {"c": null}}}),
        json!({"n": {"x": null}}),
    ));
    cases.push(three(
        "a higher null hides lower values",
        json!({"o": {"p": {"a": 1}, "q": 1}, "arr": [1]}),
        json!({"o": {"p": null}, "arr": null}),
        json!({"o": {"r": 3}}),
    ));
    cases.push(three(
        "a higher object over a lower non-object replaces it",
        json!({"o": "string", "arr": {"a": 1}, "n": 5}),
        json!({"o": {"p": {"a": 1}}, "arr": [{"b": 2}]}),
        json!({"n": {"m": null}}),
    ));
    cases.push(three(
        "a higher non-object over a lower object replaces it",
        json!({"o": {"p": {"a": 1}}, "n": {"x": 1}}),
        json!({"o": {"p": "now a string"}}),
        json!({"o": {"p": false}, "n": 0}),
    ));
    cases.push(three(
        "empty objects and nested nulls",
        json!({"o": {"p": {"a": {"b": 1}}}}),
        json!({"o": {}}),
        json!({"o": {"p": {"a": {}}}}),
    ));
    cases.push(three(
        "objects inside arrays are returned as they are",
        json!({"arr": [{"a": 1, "b": null}], "o": {"p": [{"x": null}]}}),
        json!({}),
        json!({"o": {"q": [[null]]}}),
    ));
    cases.push(three(
        "a lower null under a higher absent key",
        json!({"o": {"p": null, "q": {"r": null}}, "n": null}),
        json!({"o": {"s": 1}}),
        json!({"other": 1}),
    ));
    cases.push(three(
        "key order: higher layer keys first",
        json!({"o": {"z": 1, "y": 1, "b": 1}}),
        json!({"o": {"a": 2, "z": 2}}),
        json!({"o": {"m": 3, "y": 3}}),
    ));
    cases.push(
        Case::new("merge", "env layer merges over files")
            .app(json!({"o": {"p": {"a": 1, "b": [1, 2]}, "q": "keep"}}))
            .env("APP_CONFIG_o_p", "{\"b\":[3],\"c\":null}")
            .env("APP_CONFIG_o_r", "{\"s\":1}")
            .qs(&["getOptional", "get"], &["o", "o.p", "o.p.c"])
            .qs(&["has"], &["o.p.c", "o.p.a"]),
    );
}

// ---------------------------------------------------------------------------------------
// §4.4 every getter on every kind of value

/// YAML snippets for the value at key `v`; `None` = key absent.
const VALUES: &[&str] = &[
    // strings
    "hello",
    "\"\"",
    "\" \"",
    "\"0\"",
    "\"1\"",
    "\"2\"",
    "\"-1\"",
    "\"true\"",
    "\"false\"",
    "\"TRUE\"",
    "\"True\"",
    "\"fAlSe\"",
    "\"yes\"",
    "\"YES\"",
    "\"y\"",
    "\"Y\"",
    "\"n\"",
    "\"N\"",
    "\"no\"",
    "\"No\"",
    "\"on\"",
    "\"ON\"",
    "\"off\"",
    "\"Off\"",
    "\" true \"",
    "\"\\ttrue\\n\"",
    "\"\\u00a0yes\\u00a0\"",
    "\"\\ufeffon\"",
    "\"\\u0085off\"",
    "\"\\u2028no\\u2029\"",
    "\"\\u3000y\"",
    "\"\\u000b1\\u000c\"",
    "\"1.0\"",
    "\"0.0\"",
    "\"00\"",
    "\"01\"",
    "\"maybe\"",
    "\"tru\"",
    "\"truee\"",
    "\"ye\"",
    "\"0x10\"",
    "\"0X1f\"",
    "\"0o17\"",
    "\"0O17\"",
    "\"0b101\"",
    "\"0B11\"",
    "\"1e3\"",
    "\"1E-2\"",
    "\".5\"",
    "\"5.\"",
    "\"+5\"",
    "\"-5\"",
    "\"-0\"",
    "\"-0x10\"",
    "\"+0x10\"",
    "\"1_000\"",
    "\"1,000\"",
    "\"Infinity\"",
    "\"-Infinity\"",
    "\"+Infinity\"",
    "\"infinity\"",
    "\"inf\"",
    "\"NaN\"",
    "\"abc\"",
    "\" 42 \"",
    "\"\\t7\\n\"",
    "\"\\u00a042\\u00a0\"",
    "\"\\ufeff42\"",
    "\"\\u008542\"",
    "\"\\u2028 3 \\u2029\"",
    "\"\\u3000 8\"",
    "\"\\u180e9\"",
    "\"\\u200b9\"",
    "\"1e1000\"",
    "\" 0x10 \"",
    "\"\\n0b11\\n\"",
    "\"0x10n\"",
    "\"1e+3\"",
    "\"+.5\"",
    "\"-.5e-3\"",
    "\"1__0\"",
    "\"Infinityx\"",
    "\" -Infinity \"",
    "\"0x-1\"",
    "\"0x1.8\"",
    "\"1e-400\"",
    "\"-0.0\"",
    "\"0e5\"",
    "\"1.0000000000000001\"",
    "\"-1e1000\"",
    "\"0x\"",
    "\"00012\"",
    "\"--5\"",
    "\"5 5\"",
    "\"1n\"",
    "\"0x1p3\"",
    "\"1e\"",
    "\"e1\"",
    "\".\"",
    "\"-\"",
    "\"+\"",
    "\"0.1e-5\"",
    "\"1.7976931348623157e308\"",
    "\"1.8e308\"",
    "\"4.9e-324\"",
    "\"9007199254740993\"",
    "\"0xffffffffffffffffff\"",
    "\"0b\"",
    "\"0o8\"",
    "\"0x1g\"",
    "\"١٢\"",
    "\"１２\"",
    "\"12px\"",
    "\"PT1M\"",
    "\"1d\"",
    "\"5000\"",
    "\"s\\u0000\"",
    "\"${x}\"",
    // numbers
    "0",
    "1",
    "-1",
    "1.5",
    "2",
    "1.0",
    "1.0000000000000001",
    "0e5",
    "100e-2",
    "1e0",
    "1e3",
    "-0",
    "0.0",
    "-0.0",
    "10e-1",
    "1e21",
    "1.0e+21",
    "1e-7",
    "0.000001",
    "123456789012345680000",
    "0x10",
    "0o17",
    "+12",
    ".5",
    "5.",
    ".inf",
    "-.inf",
    ".nan",
    "12345678901234567890",
    "9007199254740993",
    "1.7976931348623157e308",
    "5e-324",
    "0.1",
    "100000000000000000000000",
    "-5",
    "3.0",
    // booleans and nulls
    "true",
    "false",
    "True",
    "FALSE",
    "yes",
    "on",
    "null",
    "~",
    "Null",
    // arrays
    "[]",
    "[a, b]",
    "[a, \"\"]",
    "[a, \" \"]",
    "[a, 1]",
    "[a, null]",
    "[a, [b]]",
    "[a, {}]",
    "[{}]",
    "[{a: 1}, {b: 2}]",
    "[{a: 1}, 2]",
    "[null]",
    "[true]",
    "[[]]",
    "[\"1\", \"2\"]",
    // objects
    "{}",
    "{a: 1}",
    "{a: null}",
    "{a: {b: c}}",
    "{\"\": 1}",
];

fn getters(cases: &mut Vec<Case>) {
    for value in VALUES {
        let content = format!("v: {value}\nw:\n  v: {value}\n");
        cases.push(
            Case::new("getters", format!("v: {value}"))
                .file("app-config.yaml", &content)
                .qs(ALL_GETTERS, &["v"])
                .qs(&["has", "getOptional", "getString"], &["v.sub"])
                .qps(&[cfg("w")], ALL_GETTERS, &["v"])
                .q("readDuration", "v"),
        );
    }
    cases.push(
        Case::new("getters", "v absent")
            .file("app-config.yaml", "other: 1\nw: {}\n")
            .qs(ALL_GETTERS, &["v"])
            .qs(&["has", "getOptional", "getString"], &["v.sub"])
            .qps(&[cfg("w")], ALL_GETTERS, &["v"])
            .q("readDuration", "v"),
    );
    // The same values as `APP_CONFIG_v` JSON text (context `env`).
    for value in [
        "\"hello\"",
        "\"\"",
        "\" \"",
        "\"0x10\"",
        "\" 42 \"",
        "\"yes\"",
        "\"1.0\"",
        "0",
        "1",
        "1.0",
        "1.5",
        "-0",
        "1e21",
        "1E3",
        "true",
        "false",
        "[]",
        "[\"a\",\"b\"]",
        "[\"a\",\"\"]",
        "[\"a\",1]",
        "[{}]",
        "[{\"a\":1},2]",
        "{}",
        "{\"a\":null}",
        "12345678901234567890",
        "1e400",
        "-1e400",
        "0.1",
        "[null]",
        "{\"a\":{\"b\":[]}}",
    ] {
        cases.push(
            Case::new("getters-env", format!("APP_CONFIG_v={value}"))
                .file("app-config.yaml", "base: 1\n")
                .env("APP_CONFIG_v", value)
                .qs(ALL_GETTERS, &["v"])
                .qs(&["getString", "has"], &["v.sub"])
                .q("readDuration", "v"),
        );
    }
    // A required getter on an explicit null and on a null ancestor.
    cases.push(
        Case::new("getters", "required getters on null and under null")
            .file("app-config.yaml", "v: null\nu: {w: null}\nt: ~\n")
            .qs(ALL_GETTERS, &["v", "v.x", "u.w", "u.w.x", "t.a.b"]),
    );
    // No key: the whole config.
    cases.push(
        Case::new("getters", "empty key means the whole config")
            .file("app-config.yaml", "a: 1\nb: {c: [x]}\n")
            .qs(ALL_GETTERS, &[""])
            .qps(&[cfg("b")], ALL_GETTERS, &[""])
            .q0("get")
            .qp(&[cfg("b")], "get", None)
            .qp(&[cfg("b")], "getOptional", None),
    );
}

// ---------------------------------------------------------------------------------------
// §4.6 durations

const DURATION_STRINGS: &[&str] = &[
    "PT1M",
    "P2DT6H",
    "PT0S",
    "P0D",
    "P",
    "PT",
    "P1Y2M3W4DT5H6M7.5S",
    "P1.5D",
    "-P1D",
    "P-1D",
    "-P-1D",
    "PT1,5S",
    "PT-1.5S",
    "PT-0S",
    "PT0.5S",
    "PT1.25S",
    "PT36H",
    "PT1.5M",
    "P1W1D",
    "pt1m",
    "P1DT",
    "PT1H30",
    "P1.5Y",
    "PT1.123456S",
    "P01D",
    "P1M",
    "PT1M",
    " PT2M ",
    "1d",
    "2 seconds",
    "90m",
    "1.5h",
    "5000",
    "0",
    "-1d",
    "1y",
    "1.5y",
    "0ms",
    "0d",
    "abc",
    "1 d",
    "1  d",
    "1D",
    "1 Day",
    ".5h",
    "1e3ms",
    "100ms",
    "1.5ms",
    "0.5ms",
    "  2h  ",
    " ",
    "8d",
    "15d",
    "400d",
    "1w",
    "2 weeks",
    "3 yrs",
    "10 mins",
    "7 hrs",
    "1 msec",
    "1 msecs",
    "1sec",
    "-1.5h",
    "--1d",
    "1.d",
    "1.5",
    "1h30m",
    "1 h",
    "1e2d",
    "1000000000000000000000y",
    "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111ms",
    "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111ms",
    "2.5w",
    "36500d",
    "1.1s",
    "0.001s",
    "31557600000",
    "1 year",
    "ms",
    "d",
    "P1Y",
    "PT100000H",
    "P99999999999999999999Y",
    "PT1.S",
    "PT.5S",
];

fn durations(cases: &mut Vec<Case>) {
    for s in DURATION_STRINGS {
        cases.push(
            Case::new("duration", format!("d: {s:?}"))
                .file("app-config.yaml", format!("d: {}\n", yq(s)))
                .q("readDuration", "d")
                .q("getOptional", "d"),
        );
    }
    let objects: &[&str] = &[
        "{}",
        "{hours: 1}",
        "{years: 1, months: 2, weeks: 3, days: 4, hours: 5, minutes: 6, seconds: 7, milliseconds: 8}",
        "{hours: \"2\", minutes: 30}",
        "{hours: 1.5}",
        "{hours: 1, foo: 2}",
        "{foo: 1}",
        "{hours: 1, foo: 2, bar: 3}",
        "{hours: \"x\"}",
        "{seconds: \"0x10\"}",
        "{hours: null}",
        "{hours: null, minutes: 1}",
        "{milliseconds: 0}",
        "{hours: true}",
        "{hours: [1]}",
        "{hours: \"\"}",
        "{hours: \" \"}",
        "{hours: -1}",
        "{Hours: 1}",
        "{hours: 1, foo: null}",
        "{days: \"1e3\"}",
        "{minutes: .inf}",
    ];
    for o in objects {
        cases.push(
            Case::new("duration", format!("d: {o}"))
                .file("app-config.yaml", format!("d: {o}\n"))
                .q("readDuration", "d")
                .qp(&[cfg("d")], "readDuration", None),
        );
    }
    for (note, yaml) in [
        ("number", "d: 5000\n"),
        ("boolean", "d: true\n"),
        ("array", "d: [PT1M]\n"),
        ("null", "d: null\n"),
        ("absent", "other: 1\n"),
        ("nested key", "a: {d: PT1M, e: {hours: 2}}\n"),
    ] {
        cases.push(
            Case::new("duration", format!("d is {note}"))
                .file("app-config.yaml", yaml)
                .q("readDuration", "d")
                .q("readDuration", "a.d")
                .q("readDuration", "a.e")
                .q("readDuration", "a.x")
                .q("readDuration", "a..d")
                .qp(&[cfg("a")], "readDuration", Some("e")),
        );
    }
    // Layers: the string form reads the merged value, the object form merges units.
    cases.push(
        Case::new("duration", "duration across layers")
            .file(
                "low.yaml",
                "d: {hours: 1, minutes: 2}\ne: PT1M\nf: {hours: 1}\n",
            )
            .file("high.yaml", "d: {minutes: 5}\ne: {seconds: 3}\nf: 2h\n")
            .target("low.yaml")
            .target("high.yaml")
            .qs(&["readDuration"], &["d", "e", "f"]),
    );
    cases.push(
        Case::new("duration", "duration from env")
            .file("app-config.yaml", "d: {hours: 1}\n")
            .env("APP_CONFIG_d_minutes", "\"5\"")
            .env("APP_CONFIG_e", "\"90m\"")
            .env("APP_CONFIG_f", "1000")
            .qs(&["readDuration"], &["d", "e", "f"]),
    );
    cases.push(
        Case::new("duration", "root reader as a duration")
            .file("app-config.yaml", "hours: 1\nminutes: 2\n")
            .q0("readDuration")
            .q("readDuration", ""),
    );
}

// ---------------------------------------------------------------------------------------
// getConfigArray

fn config_arrays(cases: &mut Vec<Case>) {
    let probe = |c: Case| {
        c.qs(&["getConfigArray", "getOptionalConfigArray"], &["arr"])
            .qps(
                &[arr("arr", 0)],
                &["getOptional", "getString", "getNumber", "has"],
                &["a", "b", "missing"],
            )
            .qps(
                &[arr("arr", 1)],
                &["getOptional", "getString", "getNumber", "has"],
                &["a", "b"],
            )
            .qp(&[arr("arr", 0)], "keys", None)
            .qp(&[arr("arr", 1)], "keys", None)
            .qp(&[arr("arr", 0)], "get", None)
    };
    for (note, yaml) in [
        ("two objects", "arr: [{a: 1}, {b: x}]\n"),
        ("object then string", "arr: [{a: 1}, s]\n"),
        ("null element", "arr: [{a: 1}, null]\n"),
        ("array element", "arr: [[], {a: 1}]\n"),
        ("empty string element", "arr: [\"\"]\n"),
        ("number element", "arr: [{a: 1}, {b: 2}, 3]\n"),
        ("empty array", "arr: []\n"),
        ("string", "arr: str\n"),
        ("object", "arr: {a: 1}\n"),
        ("number", "arr: 5\n"),
        ("null", "arr: null\n"),
        ("absent", "other: 1\n"),
        (
            "elements with nulls",
            "arr: [{a: null, b: 1}, {a: {c: null}, b: null}]\n",
        ),
        ("nested arrays", "arr: [{a: [{b: 1}, {b: x}], b: [x]}]\n"),
        ("empty objects", "arr: [{}, {}]\n"),
    ] {
        cases.push(probe(
            Case::new("config-array", note).file("app-config.yaml", yaml),
        ));
    }
    cases.push(
        Case::new("config-array", "nested prefixes")
            .file(
                "app-config.yaml",
                "o:\n  arr:\n    - inner: [{b: 1}, {b: x}]\n      c: {d: 1}\n",
            )
            .qp(
                &[cfg("o"), arr("arr", 0), arr("inner", 1)],
                "getNumber",
                Some("b"),
            )
            .qp(
                &[cfg("o"), arr("arr", 0), arr("inner", 0)],
                "getString",
                Some("b"),
            )
            .qp(&[cfg("o"), arr("arr", 0), cfg("c")], "getString", Some("d"))
            .qp(&[cfg("o"), arr("arr", 0), cfg("c")], "getString", Some("e"))
            .qp(&[cfg("o"), arr("arr", 0)], "getConfigArray", Some("c"))
            .qp(&[cfg("o"), arr("arr", 0)], "getStringArray", Some("inner"))
            .qp(&[cfg("o")], "getConfigArray", Some("arr.inner")),
    );
    // The elements of a lower layer's array carry the top reader's context.
    let two = |note: &str, low: &str, high: &str| {
        probe(
            Case::new("config-array", note)
                .file("low.yaml", low)
                .file("high.yaml", high)
                .target("low.yaml")
                .target("high.yaml"),
        )
    };
    cases.push(two(
        "array only in the low layer",
        "arr: [{a: 1}, {b: 2}]\n",
        "other: 1\n",
    ));
    cases.push(two(
        "higher array replaces",
        "arr: [{a: x}, {b: 2}]\n",
        "arr: [{b: 1}]\n",
    ));
    cases.push(two("higher null hides", "arr: [{a: 1}]\n", "arr: null\n"));
    cases.push(two("higher empty array", "arr: [{a: 1}]\n", "arr: []\n"));
    cases.push(two("bad lower element", "arr: [{a: 1}, 2]\n", "x: 1\n"));
    cases.push(two(
        "higher object over lower array",
        "arr: [{a: 1}]\n",
        "arr: {a: 2}\n",
    ));
    cases.push(two(
        "higher array over lower object",
        "arr: {a: 1}\n",
        "arr: [{a: 2}]\n",
    ));
    cases.push(
        two(
            "inside sub-config from lower layer",
            "o: {arr: [{a: 1}]}\n",
            "o: {b: 2}\n",
        )
        .qp(&[cfg("o"), arr("arr", 0)], "getString", Some("a"))
        .qp(&[cfg("o")], "getConfigArray", Some("arr")),
    );
    cases.push(probe(
        Case::new("config-array", "from env")
            .file("app-config.yaml", "arr: [{a: 1}, {a: 2}, {a: 3}]\n")
            .env("APP_CONFIG_arr", "[{\"a\":\"x\"},{\"b\":null}]"),
    ));
    cases.push(
        Case::new("config-array", "through a non-object")
            .file("app-config.yaml", "s: str\nl: [1]\n")
            .qs(
                &["getConfigArray", "getOptionalConfigArray"],
                &["s.arr", "l.arr", "s"],
            ),
    );
    cases.push(
        Case::new("config-array", "sub-config inside an element")
            .file(
                "app-config.yaml",
                "arr:\n  - o: {p: 1, q: null}\n    s: str\n",
            )
            .qp(&[arr("arr", 0), cfg("o")], "keys", None)
            .qp(&[arr("arr", 0), cfg("o")], "getString", Some("p"))
            .qp(&[arr("arr", 0), cfg("o")], "getString", Some("q"))
            .qp(&[arr("arr", 0)], "getConfig", Some("s"))
            .qp(&[arr("arr", 0)], "getConfig", Some("q"))
            .qp(&[arr("arr", 0), cfg("o")], "get", None),
    );
}

// ---------------------------------------------------------------------------------------
// has / keys

fn has_keys(cases: &mut Vec<Case>) {
    let probe = |c: Case| {
        c.qs(&["has"], &["a", "b", "c", "d", "e", "a.x", "b.x", "e.x"])
            .q0("keys")
            .qp(&[ocfg("o")], "keys", None)
            .qps(&[ocfg("o")], &["has"], &["a", "b", "c", "d"])
    };
    cases.push(probe(
        Case::new("has-keys", "three layers with nulls")
            .json(
                "l1.yaml",
                &json!({"a": 1, "b": 1, "c": 1, "o": {"a": 1, "b": 1, "c": null}}),
            )
            .json(
                "l2.yaml",
                &json!({"c": null, "d": 2, "o": {"b": null, "d": 2}}),
            )
            .json(
                "l3.yaml",
                &json!({"b": null, "e": 3, "o": {"c": 3, "a": null}}),
            )
            .target("l1.yaml")
            .target("l2.yaml")
            .target("l3.yaml"),
    ));
    cases.push(probe(
        Case::new("has-keys", "null in the lowest layer only")
            .json("l1.yaml", &json!({"a": null, "o": {"a": null}}))
            .json("l2.yaml", &json!({"b": 1, "o": {"b": 1}}))
            .target("l1.yaml")
            .target("l2.yaml"),
    ));
    cases.push(probe(
        Case::new("has-keys", "falsy values are present")
            .json(
                "l1.yaml",
                &json!({"a": false, "b": 0, "c": "", "d": [], "e": {}, "o": {"a": false}}),
            )
            .target("l1.yaml"),
    ));
    cases.push(probe(
        Case::new("has-keys", "null over a value, value over null")
            .json(
                "l1.yaml",
                &json!({"a": 1, "b": null, "o": {"a": 1, "b": null}}),
            )
            .json(
                "l2.yaml",
                &json!({"a": null, "b": 2, "o": {"a": null, "b": 2}}),
            )
            .target("l1.yaml")
            .target("l2.yaml"),
    ));
    cases.push(
        Case::new("has-keys", "has through non-objects")
            .json(
                "app-config.yaml",
                &json!({"a": "s", "b": [1], "c": 5, "e": {"x": null}}),
            )
            .qs(
                &["has"],
                &["a.x", "b.x", "c.x", "e.x", "e.x.y", "f.x.y", "a.x.y"],
            ),
    );
    cases.push(
        Case::new("has-keys", "integer-like keys")
            .json(
                "app-config.yaml",
                &json!({"b": 1, "10": 2, "2": 3, "a": 4, "-1": 5, "01": 6, "1.5": 7,
                        "4294967295": 8, "4294967294": 9, "0": 10, "o": {"z": 1, "3": 2, "1": 3}}),
            )
            .q0("keys")
            .qp(&[cfg("o")], "keys", None),
    );
    cases.push(
        Case::new("has-keys", "integer-like keys across layers")
            .json("l1.yaml", &json!({"b": 1, "5": 1}))
            .json("l2.yaml", &json!({"a": 1, "3": 1}))
            .target("l1.yaml")
            .target("l2.yaml")
            .q0("keys"),
    );
    cases.push(
        Case::new("has-keys", "keys of env layer over file")
            .json(
                "app-config.yaml",
                &json!({"z": 1, "o": {"y": 1, "x": null}}),
            )
            .env("APP_CONFIG_o_x", "1")
            .env("APP_CONFIG_a", "1")
            .q0("keys")
            .qp(&[cfg("o")], "keys", None)
            .qs(&["has"], &["o.x", "o.y", "a"]),
    );
    cases.push(
        Case::new("has-keys", "no layers at all")
            .file("app-config.yaml", "")
            .qs(ALL_GETTERS, &["a"])
            .q0("get")
            .q0("getOptional"),
    );
}

// ---------------------------------------------------------------------------------------
// §4.5 error contexts

fn error_contexts(cases: &mut Vec<Case>) {
    let ops = [
        "get",
        "getOptional",
        "getString",
        "getNumber",
        "getConfig",
        "getOptionalConfig",
        "getStringArray",
        "getConfigArray",
        "has",
    ];
    let three = |note: &str, low: Value, mid: Value, high: Value| {
        Case::new("error-context", note)
            .json("low.yaml", &low)
            .json("mid.yaml", &mid)
            .json("high.yaml", &high)
            .target("low.yaml")
            .target("mid.yaml")
            .target("high.yaml")
            .qs(&ops, &["x", "x.y", "x.y.z"])
            .qps(&[ocfg("x")], &ops, &["y", "y.z"])
            .qps(
                &[ocfg("x"), ocfg("y")],
                &["getString", "getNumber"],
                &["z", "w"],
            )
    };
    cases.push(three(
        "bad shape only in the low layer",
        json!({"x": "str"}),
        json!({}),
        json!({"other": 1}),
    ));
    cases.push(three(
        "bad shape low, value high",
        json!({"x": "str"}),
        json!({}),
        json!({"x": {"y": {"z": "v"}}}),
    ));
    cases.push(three(
        "bad shape in mid and low",
        json!({"x": 5}),
        json!({"x": {"y": true}}),
        json!({"x": {"y": {"z": 1}}}),
    ));
    cases.push(three(
        "null in high, bad shape low",
        json!({"x": [1]}),
        json!({}),
        json!({"x": null}),
    ));
    cases.push(three(
        "null at x.y high, bad shape mid",
        json!({}),
        json!({"x": {"y": "s"}}),
        json!({"x": {"y": null}}),
    ));
    cases.push(three(
        "missing reported in the highest context",
        json!({"x": {"y": {}}}),
        json!({"x": {}}),
        json!({"other": 1}),
    ));
    cases.push(three(
        "wrong type found in mid",
        json!({"x": {"y": {"z": "low"}}}),
        json!({"x": {"y": {"z": 7, "w": []}}}),
        json!({"x": {}}),
    ));
    cases.push(three(
        "sub-config only in low",
        json!({"x": {"y": {"z": false, "w": ""}}}),
        json!({"a": 1}),
        json!({"b": 1}),
    ));
}

// ---------------------------------------------------------------------------------------
// §4.8 substitution

const TEMPLATES: &[&str] = &[
    "${A}",
    "x${A}y",
    "${A}${B}",
    "${A}-${UNSET}",
    "${UNSET}",
    "a-${UNSET}-b",
    "${EMPTY}",
    "x${EMPTY}y",
    "$${A}",
    "$$${A}",
    "$$$${A}",
    "x$${A}y${B}",
    "${A:-fb}",
    "${A:- fb }",
    "${A:-}",
    "${A:- }",
    "${A:-x:-y}",
    "${A :- fb}",
    "${}",
    "${ }",
    "${:-fb}",
    "${A{B}}",
    "${A}}",
    "${{A}",
    "$A",
    "$ {A}",
    "${ A }",
    "${\tA\t}",
    "\\${A}",
    "${A:fb}",
    "${A-fb}",
    "${A:=fb}",
    "${A:-${B}}",
    "${$A}",
    "${A.B}",
    "${PORT}",
    "${SPACED}",
    "${MULTI}",
    "${ZERO}",
    "${ZERO:-fb}",
    "${EMPTY:-fb}",
    "${SPACED:-fb}",
    "${A}${A}",
    "pre ${A} post",
    "${A",
    "$A}",
    "$",
    "$$",
    "{A}",
    "${a}",
    "${UNSET:-${B}}",
    "${A:-:-}",
    "${:-}",
    "${A:-fb}${UNSET}",
    "$${UNSET}",
    "$${}",
    "${A}$",
    "$${A:-x}",
    "${B:-$${A}}",
    "${A:-}${B:-}",
    "${ A :- }",
    "${A\n}",
    "${\u{a0}A\u{a0}}",
    "${\u{feff}A}",
    "${A}:-x",
    "${EMPTY}${EMPTY}",
];

const A_VARIANTS: &[(&str, Option<&str>)] = &[
    ("A unset", None),
    ("A=a", Some("a")),
    ("A empty", Some("")),
    ("A spaced", Some("  a  ")),
    ("A blank", Some(" ")),
];

fn subst_env(case: Case) -> Case {
    case.env("B", "b")
        .env("EMPTY", "")
        .env("SPACED", "  sp  ")
        .env("PORT", "7007")
        .env("ZERO", "0")
        .env("MULTI", "line1\nline2\n")
}

fn substitution(cases: &mut Vec<Case>) {
    for (variant, a) in A_VARIANTS {
        for t in TEMPLATES {
            let doc = json!({
                "s": t,
                "arr": ["one", t, "three"],
                "obj": {"k": t, "keep": 1},
            });
            let mut case = subst_env(Case::new("subst", format!("{variant}: {t:?}"))).app(doc);
            if let Some(a) = a {
                case = case.env("A", a);
            }
            cases.push(
                case.qs(&["getOptional", "getOptionalString", "has"], &["s"])
                    .q("getOptionalStringArray", "arr")
                    .q("getOptional", "obj"),
            );
        }
    }
    // Port numbers come back as strings; the typed getters convert.
    cases.push(
        subst_env(Case::new("subst", "typed getters on substituted values"))
            .env("T", "true")
            .env("PADDED_NUM", " 42 ")
            .file(
                "app-config.yaml",
                "port: ${PORT}\nflag: ${T}\nnum: ${PADDED_NUM}\nlist: [\"${PORT}\", \"${T}\"]\n",
            )
            .qs(
                &["getOptional", "getNumber", "getBoolean", "getString"],
                &["port", "flag", "num"],
            )
            .q("getStringArray", "list"),
    );
}

/// Which characters count as whitespace when trimming env values and names.
fn substitution_trim(cases: &mut Vec<Case>) {
    let values: &[(&str, &str)] = &[
        ("tab", "\tv\t"),
        ("newline", "\nv\r\n"),
        ("vt-ff", "\u{b}v\u{c}"),
        ("nbsp", "\u{a0}v\u{a0}"),
        ("bom", "\u{feff}v\u{feff}"),
        ("nel", "\u{85}v\u{85}"),
        ("line-sep", "\u{2028}v\u{2029}"),
        ("ideographic", "\u{3000}v\u{3000}"),
        ("en-quad", "\u{2000}v\u{200a}"),
        ("mongolian", "\u{180e}v\u{180e}"),
        ("zwsp", "\u{200b}v\u{200b}"),
        ("only-nel", "\u{85}"),
        ("only-bom", "\u{feff}"),
        ("only-nbsp", "\u{a0}"),
        ("inner space", " a b "),
    ];
    for (name, value) in values {
        cases.push(
            Case::new("subst-trim", format!("V = {name}"))
                .env("V", value)
                .app(json!({
                    "s": "${V}",
                    "fb": "${V:-fallback}",
                    "fbval": format!("${{UNSET:-{value}}}"),
                    "name": format!("${{{value}}}"),
                    "e": {"$env": "V"},
                    "arr": ["${V}", "x"],
                }))
                .qs(
                    &["getOptional", "getOptionalString"],
                    &["s", "fb", "fbval", "name", "e"],
                )
                .q("getOptional", "arr"),
        );
    }
}

/// Where substitution applies: strings only, not keys, not results; removal everywhere.
fn substitution_placement(cases: &mut Vec<Case>) {
    let env = |c: Case| c.env("A", "a").env("X", "${A}").env("PORT", "7007");
    let mut push = |note: &str, yaml: &str| {
        cases.push(env(Case::new("subst-placement", note)).file("app-config.yaml", yaml));
    };
    push(
        "keys are not substituted",
        "\"${A}\": 1\nk: {\"${A}\": \"${A}\"}\n",
    );
    push("results are not substituted again", "s: ${X}\n");
    push(
        "numbers and booleans are untouched",
        "n: 5\nb: true\nz: null\n",
    );
    push(
        "unquoted block scalars",
        "port: ${PORT}\nurl: http://localhost:${PORT}/x\n",
    );
    push(
        "whole array emptied",
        "arr: [\"${UNSET}\"]\nnested: [[\"${UNSET}\", a], [\"${UNSET}\"]]\n",
    );
    push(
        "object emptied",
        "o: {k: \"${UNSET}\"}\nm: {n: {p: \"${UNSET}\"}}\n",
    );
    push("all root keys removed", "a: ${UNSET}\nb: ${UNSET2}\n");
    push(
        "removed element shifts later errors",
        "arr: [\"${UNSET}\", {$env: 5}]\n",
    );
    push(
        "nested arrays and objects",
        "l: [{a: \"${A}\", b: [\"${UNSET}\", \"${A}\"]}, \"${UNSET}\", [\"${A}\"]]\n",
    );
    push("block literal", "s: |\n  line ${A}\n  ${PORT}\n");
    push(
        "block literal with unset",
        "s: |\n  line ${A}\n  ${UNSET}\n",
    );
    push("folded", "s: >-\n  ${A}\n  ${PORT}\n");
    push("single quoted", "s: '${A}'\nt: '$${A}'\n");
    push(
        "many tokens",
        "s: \"${A}${A}${A}${A}${A}${A}${A}${A}${A}${A}\"\n",
    );
    push(
        "dollar in key and value",
        "\"$a\": \"$\"\n\"$$\": \"$${\"\n",
    );
    push("long value", &format!("s: \"{}\"\n", "${A}-".repeat(200)));
}

// ---------------------------------------------------------------------------------------
// §4.8 $env

fn env_directive(cases: &mut Vec<Case>) {
    let base = |note: &str, yaml: &str| {
        Case::new("include-env", note)
            .env("A", "a")
            .env("SPACED", "  v  ")
            .env("EMPTY", "")
            .env("NAME", "A")
            .env("  A  ", "padded-name")
            .env("${A}", "dollar-name")
            .file("app-config.yaml", yaml)
            .qs(&["getOptional", "getOptionalString", "has"], &["k", "arr"])
    };
    for (note, yaml) in [
        ("set", "k: {$env: A}\n"),
        ("trimmed", "k: {$env: SPACED}\n"),
        ("unset removes the key", "k: {$env: UNSET}\nother: 1\n"),
        ("empty value kept", "k: {$env: EMPTY}\n"),
        ("substituted name", "k: {$env: \"${NAME}\"}\n"),
        ("name substitution unset", "k: {$env: \"${UNSET}\"}\n"),
        ("name substitution fallback", "k: {$env: \"${UNSET:-A}\"}\n"),
        ("name substitution empty", "k: {$env: \"${EMPTY}\"}\n"),
        ("name is not trimmed", "k: {$env: \"  A  \"}\n"),
        ("escaped name", "k: {$env: \"$${A}\"}\n"),
        ("empty name", "k: {$env: \"\"}\n"),
        ("number value", "k: {$env: 5}\n"),
        ("null value", "k: {$env: null}\n"),
        ("list value", "k: {$env: [A]}\n"),
        ("object value", "k: {$env: {a: 1}}\n"),
        ("boolean value", "k: {$env: true}\n"),
        ("adjacent key after", "k: {$env: A, other: 1}\n"),
        ("adjacent key before", "k: {other: 1, $env: A}\n"),
        ("two directives, $env first", "k: {$env: A, $file: x.txt}\n"),
        (
            "two directives, $file first",
            "k: {$file: x.txt, $env: A}\n",
        ),
        (
            "two directives, $include first",
            "k: {$include: x.yaml, $env: A}\n",
        ),
        (
            "in an array",
            "arr: [one, {$env: A}, {$env: UNSET}, three]\n",
        ),
        ("nested", "k: {a: {b: {$env: A}}}\n"),
        (
            "similar keys are data",
            "k: {$envx: A, $Env: A, env: A, $foo: bar, $: 1}\n",
        ),
        ("directive at root", "$env: A\n"),
        ("unset directive at root", "$env: UNSET\n"),
        ("error path", "k: {a: [1, {b: {$env: 1}}]}\n"),
        ("error path with dotted key", "k: {\"a.b\": {$env: 1}}\n"),
        ("result not substituted", "k: {$env: X}\n"),
        ("empty object is data", "k: {}\n"),
    ] {
        cases.push(base(note, yaml).env("X", "${A}"));
    }
}

// ---------------------------------------------------------------------------------------
// §4.8 $file

fn file_directive(cases: &mut Vec<Case>) {
    let base = |note: &str, yaml: &str| {
        Case::new("include-file", note)
            .env("A", "a")
            .env("FNAME", "secret.txt")
            .file("secret.txt", "s3cret\n\n")
            .file("app-config.yaml", yaml)
            .qs(&["getOptional", "getOptionalString"], &["k"])
    };
    cases.push(base("reads and trims the end", "k: {$file: secret.txt}\n"));
    cases.push(base("substituted path", "k: {$file: \"${FNAME}\"}\n"));
    cases.push(base("substitution undefined", "k: {$file: \"${UNSET}\"}\n"));
    cases.push(base("missing file", "k: {$file: nope.txt}\n"));
    cases.push(base("missing file in subdir", "k: {$file: sub/nope.txt}\n"));
    cases.push(base("missing file in array", "k: [a, {$file: nope.txt}]\n"));
    cases.push(base("number value", "k: {$file: 1}\n"));
    cases.push(base("adjacent key", "k: {$file: secret.txt, x: 1}\n"));
    cases.push(base("path with ./", "k: {$file: ./secret.txt}\n"));
    cases.push(base(
        "path with spaces is not trimmed",
        "k: {$file: \" secret.txt\"}\n",
    ));
    cases.push(base("empty path reads the directory", "k: {$file: \"\"}\n").q("has", "k"));
    cases.push(base("a directory", "k: {$file: dir}\n").file("dir/x.txt", "x\n"));
    cases.push(
        base("a hash in the file name", "k: {$file: \"a#b.txt\"}\n").file("a#b.txt", "hash\n"),
    );
    cases
        .push(base("content not substituted", "k: {$file: tmpl.txt}\n").file("tmpl.txt", "${A}\n"));
    for (name, content) in [
        ("leading and trailing spaces", "  a b  \n"),
        ("crlf", "v\r\n\r\n"),
        ("multi-line", "line1\nline2\n\n"),
        ("empty", ""),
        ("only whitespace", " \n\t\n"),
        ("trailing nbsp", "v\u{a0}"),
        ("trailing bom", "v\u{feff}"),
        ("trailing nel", "v\u{85}"),
        ("trailing line separator", "v\u{2028}"),
        ("trailing ideographic space", "v\u{3000}"),
        ("leading bom", "\u{feff}v"),
        ("tabs", "\tv\t\t"),
        ("vertical tab", "v\u{b}\u{c}"),
        ("yaml-looking", "a: 1\n"),
    ] {
        cases.push(
            base(&format!("content: {name}"), "k: {$file: content.txt}\n")
                .file("content.txt", content),
        );
    }
    cases.push(
        base("invalid UTF-8 content", "k: {$file: bin.dat}\n")
            .bytes("bin.dat", vec![b'a', 0xff, 0xfe, b'b', 0xc3]),
    );
    cases.push(
        Case::new("include-file", "relative to the config file's directory")
            .file(
                "conf/app.yaml",
                "k: {$file: secret.txt}\nup: {$file: ../top.txt}\n",
            )
            .file("conf/secret.txt", "in-conf\n")
            .file("top.txt", "top\n")
            .target("conf/app.yaml")
            .qs(&["getOptional"], &["k", "up"]),
    );
}

// ---------------------------------------------------------------------------------------
// §4.8 $include

const INC_YAML: &str = "a: 1\nb:\n  c: x\n  d: [1, 2]\n  e: null\n  s: \"${A}\"\n  u: \"${UNSET}\"\nl: [p, q]\nn: null\nt: \"hello ${A}\"\ntu: \"${UNSET} x\"\n\"\": empty-key\n";

fn include_directive(cases: &mut Vec<Case>) {
    let base = |note: &str, yaml: &str| {
        Case::new("include", note)
            .env("A", "a")
            .env("INC", "inc.yaml")
            .env("INC_SUB", "inc.yaml#b.c")
            .file("dir.yaml/x.yaml", "a: 1\n")
            .file("inc.yaml", INC_YAML)
            .file("inc.yml", INC_YAML)
            .file(
                "inc.json",
                "{\"a\": {\"b\": [1, 2], \"s\": \"${A}\"}, \"n\": null, \"z\": 0}\n",
            )
            .file("arr.yaml", "- a\n- {b: 1}\n")
            .file("scalar.yaml", "\"just ${A}\"\n")
            .file("unset.yaml", "\"${UNSET}\"\n")
            .file("number.yaml", "42\n")
            .file("empty.yaml", "")
            .file("null.json", "null\n")
            .file("empty.json", "")
            .file("bad.json", "{\"a\": 1,}\n")
            .file("bad.yaml", "a: [1, 2\n")
            .file("dup.yaml", "a: 1\na: 2\n")
            .file("inc.txt", "a: 1\n")
            .file("INC.YAML", "a: 1\n")
            .file("noext", "a: 1\n")
            .file(
                "bigint.json",
                "{\"i\": 123456789012345678901234567890, \"u\": 18446744073709551616}\n",
            )
            .file("inf.json", "{\"a\": 1e400}\n")
            .file("dup.json", "{\"a\": 1, \"a\": {\"b\": 2}}\n")
            .file("bom.json", "\u{feff}{\"a\": 1}\n")
            .file("str.json", "\"json ${A}\"\n")
            .file("app-config.yaml", yaml)
            .qs(&["getOptional", "has"], &["k"])
    };
    for (note, yaml) in [
        ("whole yaml file", "k: {$include: inc.yaml}\n"),
        ("whole yml file", "k: {$include: inc.yml}\n"),
        ("whole json file", "k: {$include: inc.json}\n"),
        ("sub-path", "k: {$include: inc.yaml#b}\n"),
        ("deep sub-path", "k: {$include: inc.yaml#b.c}\n"),
        ("sub-path to array", "k: {$include: inc.yaml#b.d}\n"),
        ("sub-path to null", "k: {$include: inc.yaml#n}\n"),
        ("sub-path through null", "k: {$include: inc.yaml#n.x}\n"),
        (
            "sub-path to explicit null in object",
            "k: {$include: inc.yaml#b.e}\n",
        ),
        (
            "sub-path to substituted string",
            "k: {$include: inc.yaml#b.s}\n",
        ),
        ("sub-path to unset string", "k: {$include: inc.yaml#b.u}\n"),
        (
            "sub-path to partly unset string",
            "k: {$include: inc.yaml#tu}\n",
        ),
        ("sub-path to a string", "k: {$include: inc.yaml#t}\n"),
        (
            "missing sub-path removes",
            "k: {$include: inc.yaml#missing}\nother: 1\n",
        ),
        (
            "missing last step removes",
            "k: {$include: inc.yaml#b.missing}\n",
        ),
        ("missing middle step", "k: {$include: inc.yaml#missing.x}\n"),
        ("step through a number", "k: {$include: inc.yaml#a.x}\n"),
        ("step through a string", "k: {$include: inc.yaml#b.c.x}\n"),
        ("step through an array", "k: {$include: inc.yaml#l.0}\n"),
        ("array file with index", "k: {$include: arr.yaml#0}\n"),
        ("empty sub-path", "k: {$include: \"inc.yaml#\"}\n"),
        ("two hashes", "k: {$include: \"inc.yaml#b#c\"}\n"),
        ("double dot", "k: {$include: inc.yaml#b..c}\n"),
        ("leading dot", "k: {$include: inc.yaml#.b}\n"),
        ("trailing dot", "k: {$include: inc.yaml#b.}\n"),
        (
            "empty key step",
            "k: {$include: \"inc.yaml#\"}\nj: {$include: \"inc.yaml#.\"}\n",
        ),
        ("json sub-path", "k: {$include: inc.json#a.b}\n"),
        ("json substituted string", "k: {$include: inc.json#a.s}\n"),
        ("json number zero", "k: {$include: inc.json#z}\n"),
        ("json null sub-path", "k: {$include: inc.json#n}\n"),
        ("scalar file substituted", "k: {$include: scalar.yaml}\n"),
        ("scalar file unset", "k: {$include: unset.yaml}\nother: 1\n"),
        ("number file", "k: {$include: number.yaml}\n"),
        ("empty yaml file", "k: {$include: empty.yaml}\n"),
        (
            "empty yaml file with sub-path",
            "k: {$include: empty.yaml#a}\n",
        ),
        ("null json", "k: {$include: null.json}\n"),
        ("empty json", "k: {$include: empty.json}\n"),
        ("invalid json", "k: {$include: bad.json}\n"),
        ("invalid yaml", "k: {$include: bad.yaml}\n"),
        ("duplicate yaml keys", "k: {$include: dup.yaml}\n"),
        ("json big integers", "k: {$include: bigint.json}\n"),
        ("json number overflow", "k: {$include: inf.json}\n"),
        ("json duplicate keys", "k: {$include: dup.json}\n"),
        ("json with a byte order mark", "k: {$include: bom.json}\n"),
        ("json top-level string", "k: {$include: str.json}\n"),
        ("unknown extension", "k: {$include: inc.txt}\n"),
        ("uppercase extension", "k: {$include: INC.YAML}\n"),
        ("no extension", "k: {$include: noext}\n"),
        (
            "unknown extension with sub-path",
            "k: {$include: \"inc.txt#a\"}\n",
        ),
        ("missing file", "k: {$include: nope.yaml}\n"),
        ("missing file with sub-path", "k: {$include: nope.yaml#a}\n"),
        ("missing unknown extension", "k: {$include: nope.txt}\n"),
        ("substituted path", "k: {$include: \"${INC}\"}\n"),
        (
            "substituted path and sub-path",
            "k: {$include: \"${INC}#b.c\"}\n",
        ),
        ("substitution undefined", "k: {$include: \"${UNSET}#b\"}\n"),
        (
            "sub-path inside the substitution",
            "k: {$include: \"${INC_SUB}\"}\n",
        ),
        ("a directory", "k: {$include: dir.yaml}\n"),
        ("number value", "k: {$include: 5}\n"),
        ("adjacent keys", "k: {$include: inc.yaml, a: 2}\n"),
        (
            "in an array",
            "arr: [{$include: inc.yaml#b.c}, {$include: inc.yaml#missing}, z]\nk: 1\n",
        ),
        ("error path in array", "k: [x, {$include: nope.yaml}]\n"),
        ("hidden json dir", "k: {$include: .json}\n"),
        ("yaml with dot dir", "k: {$include: ./inc.yaml#a}\n"),
        (
            "two includes",
            "k: {x: {$include: inc.yaml#a}, y: {$include: inc.json#z}}\n",
        ),
        ("include at root", "$include: inc.yaml\n"),
        ("include at root with sub-path", "$include: inc.yaml#b\n"),
        ("include at root of scalar", "$include: scalar.yaml\n"),
        (
            "include at root missing sub-path",
            "$include: inc.yaml#nope\n",
        ),
    ] {
        cases.push(base(note, yaml));
    }
    // Included files resolve their own includes relative to their own directory.
    let nested = |note: &str, yaml: &str| {
        Case::new("include-nested", note)
            .env("A", "a")
            .file("secret.txt", "root-secret\n")
            .file("sub/secret.txt", "sub-secret\n")
            .file("sub/deeper/secret.txt", "deep-secret\n")
            .file(
                "sub/inc.yaml",
                "f: {v: {$file: secret.txt}}\ni: {v: {$include: deeper/d.yaml}}\nj: {v: {$include: deeper/d.yaml#g}}\nup: {v: {$file: ../secret.txt}}\ns: \"${A}\"\ndirect: {$file: secret.txt}\n",
            )
            .file("sub/missing.yaml", "m: {v: {$file: nope.txt}}\n")
            .file(
                "sub/deeper/d.yaml",
                "g: {$file: secret.txt}\nh: {k: {$file: ../secret.txt}}\n",
            )
            .file("sub/direct.yaml", "$include: deeper/d.yaml\n")
            .file("sub/directfile.yaml", "$file: secret.txt\n")
            .file("sub/list.yaml", "- {$file: secret.txt}\n- x\n")
            .file("app-config.yaml", yaml)
            .qs(&["getOptional"], &["k"])
    };
    for (note, yaml) in [
        (
            "nested includes resolve from the included file",
            "k: {$include: sub/inc.yaml#f}\n",
        ),
        ("two levels", "k: {$include: sub/inc.yaml#i}\n"),
        (
            "two levels with sub-path",
            "k: {$include: sub/inc.yaml#j}\n",
        ),
        ("parent directory", "k: {$include: sub/inc.yaml#up}\n"),
        ("whole file", "k: {$include: sub/inc.yaml}\n"),
        (
            "missing nested file reports its path",
            "k: {$include: sub/missing.yaml#m}\n",
        ),
        (
            "whole file with a missing nested file",
            "k: {$include: sub/missing.yaml}\n",
        ),
        (
            "selected directive at depth",
            "k: {$include: sub/inc.yaml#direct}\n",
        ),
        (
            "top-level include directive is not expanded",
            "k: {$include: sub/direct.yaml}\n",
        ),
        (
            "top-level file directive is not expanded",
            "k: {$include: sub/directfile.yaml}\n",
        ),
        (
            "selected directive is not expanded",
            "k: {$include: sub/deeper/d.yaml#g}\n",
        ),
        (
            "selected object with nested directive",
            "k: {$include: sub/deeper/d.yaml#h}\n",
        ),
        ("list file", "k: {$include: sub/list.yaml}\n"),
        (
            "string substituted inside",
            "k: {$include: sub/inc.yaml#s}\n",
        ),
        ("same directory", "k: {$file: secret.txt}\n"),
    ] {
        cases.push(nested(note, yaml));
    }
    cases.push(
        Case::new("include-nested", "config file in a subdirectory")
            .file(
                "conf/app.yaml",
                "k: {$include: inc.yaml}\nl: {$include: ../top.yaml#t}\n",
            )
            .file("conf/inc.yaml", "f: {$file: s.txt}\n")
            .file("conf/s.txt", "conf-s\n")
            .file("top.yaml", "t: {v: {$file: conf/s.txt}}\n")
            .target("conf/app.yaml")
            .qs(&["getOptional"], &["k", "l"]),
    );
    cases.push(
        Case::new("include-nested", "error inside included content")
            .file("inc.yaml", "a: {b: [1, {$env: 7}]}\n")
            .file("app-config.yaml", "k: {x: {$include: inc.yaml}}\n"),
    );
    cases.push(
        Case::new(
            "include-nested",
            "adjacent-key error inside included content",
        )
        .file("inc.yaml", "a: {$file: x, y: 1}\n")
        .file("app-config.yaml", "k: [{$include: inc.yaml}]\n"),
    );
}

// ---------------------------------------------------------------------------------------
// §4.9 APP_CONFIG_*

fn app_config_env(cases: &mut Vec<Case>) {
    let one = |note: &str, vars: &[(&str, &str)]| {
        let mut c =
            Case::new("app-config-env", note).file("app-config.yaml", "base: 1\no: {p: 1}\n");
        for (k, v) in vars {
            c = c.env(k, v);
        }
        c.qs(
            &["getOptional", "getOptionalString", "has"],
            &["a", "a.b", "x", "x.y"],
        )
    };
    for value in [
        "42",
        "true",
        "false",
        "\"false\"",
        "007",
        " 42 ",
        "hello",
        "{bad",
        "[1,2]",
        "{\"b\":1}",
        "1e3",
        "-0",
        "0x10",
        "null",
        " null ",
        "\"\"",
        "\"  \"",
        "NaN",
        "Infinity",
        "1.0",
        "12345678901234567890",
        "123456789012345678901234567890",
        "\"\\u00e9\"",
        "{\"a\":null}",
        "[null]",
        "true ",
        "\ttrue",
        "\u{a0}true",
        "\u{feff}1",
        "\u{85}1",
        "{\"a\":1,\"a\":2}",
        "[1,]",
        "'x'",
        "\"a\"b",
        "1.5e308",
        "1e999",
        "-",
        "+1",
        ".5",
        "01",
        "[]",
        "{}",
        "\"${A}\"",
        "{\"$env\":\"A\"}",
        "{\"$include\":\"x.yaml\"}",
        " ",
        "\n",
        "\"null\"",
        "nul",
        "{\"b\":{\"c\":[1,{\"d\":null}]}}",
        "1 2",
        "\"x\" ",
        "{\"\":1}",
        "[\"a\"] x",
    ] {
        cases.push(one(
            &format!("APP_CONFIG_a={value:?}"),
            &[("APP_CONFIG_a", value), ("A", "sub")],
        ));
    }
    let deep_array = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    cases.push(one(
        "deeply nested JSON array",
        &[("APP_CONFIG_a", &deep_array)],
    ));
    let deep_object = format!("{}1{}", "{\"b\":".repeat(130), "}".repeat(130));
    cases.push(one(
        "deeply nested JSON object",
        &[("APP_CONFIG_a", &deep_object)],
    ));
    for name in [
        "APP_CONFIG_app_baseUrl",
        "APP_CONFIG_my-key",
        "APP_CONFIG_a:b",
        "APP_CONFIG_x__y",
        "APP_CONFIG_x_0",
        "APP_CONFIG_",
        "APP_CONFIG_x_",
        "APP_CONFIG__x",
        "APP_CONFIG_1a",
        "APP_CONFIG_a-",
        "APP_CONFIG_a--b",
        "APP_CONFIG_ſ",
        "APP_CONFIG_\u{212A}",
        "APP_CONFIG_a.b",
        "APP_CONFIG_a b",
        "APP_CONFIG_A",
        "APP_CONFIG_a-_b",
        "APP_CONFIG_a_B_c",
        "app_config_x",
        "APP_CONFIGx",
        "XAPP_CONFIG_a",
        "APP_CONFIG_APP_CONFIG_a",
        "APP_CONFIG_é",
        "APP_CONFIG_a-1_b:2",
        "APP_CONFIG_a__",
        "APP_CONFIG___",
        "APP_CONFIG_x_y_z_w_v",
        "APP_CONFIG_a$",
        " APP_CONFIG_a",
        "App_Config_a",
    ] {
        cases.push(one(&format!("name {name:?}"), &[(name, "1")]));
        cases.push(one(&format!("name {name:?}, empty value"), &[(name, "")]));
    }
    for (note, vars) in [
        (
            "non-object then nested",
            &[("APP_CONFIG_x", "1"), ("APP_CONFIG_x_y", "2")][..],
        ),
        (
            "object then its leaf",
            &[("APP_CONFIG_x", "{\"y\":1}"), ("APP_CONFIG_x_y", "2")],
        ),
        (
            "object extended",
            &[("APP_CONFIG_x", "{\"z\":2}"), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "array then nested",
            &[("APP_CONFIG_x", "[1]"), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "string then nested",
            &[("APP_CONFIG_x", "\"s\""), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "raw string then nested",
            &[("APP_CONFIG_x", "s"), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "false then nested",
            &[("APP_CONFIG_x", "false"), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "zero then nested",
            &[("APP_CONFIG_x", "0"), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "empty string then nested",
            &[("APP_CONFIG_x", "\"\""), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "object with null then nested",
            &[("APP_CONFIG_x", "{\"y\":null}"), ("APP_CONFIG_x_y", "1")],
        ),
        (
            "object with null then deeper",
            &[("APP_CONFIG_x", "{\"y\":null}"), ("APP_CONFIG_x_y_z", "1")],
        ),
        (
            "nested into object inside object",
            &[
                ("APP_CONFIG_x", "{\"y\":{\"z\":1}}"),
                ("APP_CONFIG_x_y_w", "2"),
            ],
        ),
        (
            "nested under a leaf of an object",
            &[("APP_CONFIG_x", "{\"y\":5}"), ("APP_CONFIG_x_y_w", "2")],
        ),
        (
            "nested under an array in an object",
            &[("APP_CONFIG_x", "{\"y\":[]}"), ("APP_CONFIG_x_y_w", "2")],
        ),
        (
            "siblings",
            &[("APP_CONFIG_a_b", "1"), ("APP_CONFIG_a_c", "2")],
        ),
        (
            "case-sensitive names",
            &[("APP_CONFIG_X", "1"), ("APP_CONFIG_x", "2")],
        ),
        (
            "case-sensitive parts",
            &[("APP_CONFIG_A_b", "1"), ("APP_CONFIG_a_b", "2")],
        ),
        (
            "dash sorts before underscore",
            &[
                ("APP_CONFIG_x", "{\"a\":1}"),
                ("APP_CONFIG_x-y", "2"),
                ("APP_CONFIG_x_y", "3"),
            ],
        ),
        (
            "colon name",
            &[
                ("APP_CONFIG_x", "{\"a\":1}"),
                ("APP_CONFIG_x:y", "2"),
                ("APP_CONFIG_x_y:z", "3"),
            ],
        ),
        (
            "deep then shallow conflict",
            &[("APP_CONFIG_a_b_c", "1"), ("APP_CONFIG_a_b", "2")],
        ),
        (
            "shallow object then deep",
            &[
                ("APP_CONFIG_a_b", "{\"c\":{\"d\":1}}"),
                ("APP_CONFIG_a_b_c_e", "2"),
            ],
        ),
        (
            "null rejected among others",
            &[("APP_CONFIG_a", "1"), ("APP_CONFIG_b", "null")],
        ),
        (
            "invalid key after a conflict",
            &[
                ("APP_CONFIG_a", "1"),
                ("APP_CONFIG_a_b", "1"),
                ("APP_CONFIG_a__c", "1"),
            ],
        ),
        (
            "invalid key sorts first",
            &[("APP_CONFIG_X__y", "1"), ("APP_CONFIG_a", "null")],
        ),
        (
            "null sorts first",
            &[("APP_CONFIG_A", "null"), ("APP_CONFIG_a__b", "1")],
        ),
        (
            "empty value does not conflict",
            &[("APP_CONFIG_x", "1"), ("APP_CONFIG_x_y", "")],
        ),
        (
            "only empty values",
            &[("APP_CONFIG_x", ""), ("APP_CONFIG_y", "")],
        ),
        (
            "override file value",
            &[("APP_CONFIG_o_p", "2"), ("APP_CONFIG_o_q", "[3]")],
        ),
        ("replace file object with array", &[("APP_CONFIG_o", "[1]")]),
        (
            "replace file object with string",
            &[("APP_CONFIG_o", "\"s\"")],
        ),
        (
            "many variables",
            &[
                ("APP_CONFIG_backend_baseUrl", "http://localhost:7007"),
                ("APP_CONFIG_backend_listen_port", "7007"),
                (
                    "APP_CONFIG_backend_cors_origin",
                    "[\"http://a\",\"http://b\"]",
                ),
                ("APP_CONFIG_backend_database_client", "better-sqlite3"),
                ("APP_CONFIG_app_title", "\"My App\""),
                ("APP_CONFIG_app_debug", "true"),
            ],
        ),
    ] {
        cases.push(
            one(note, vars)
                .qs(
                    &["getOptional"],
                    &["o", "x.y.z", "x.y.w", "a.b.c", "backend", "app"],
                )
                .qp(&[ocfg("o")], "keys", None)
                .q("getOptionalConfig", "o"),
        );
    }
    // Typed getters and error contexts on env values.
    cases.push(
        Case::new("app-config-env", "getters on env values")
            .file("app-config.yaml", "n: \"5\"\nb: yes\n")
            .env("APP_CONFIG_n", "6")
            .env("APP_CONFIG_b", "\"off\"")
            .env("APP_CONFIG_s", "5")
            .env("APP_CONFIG_o", "{\"x\":[1]}")
            .qs(
                &[
                    "getNumber",
                    "getBoolean",
                    "getString",
                    "getStringArray",
                    "getConfig",
                ],
                &["n", "b", "s", "o", "o.x"],
            ),
    );
    // Env names/values with odd characters.
    cases.push(one("unicode key part", &[("APP_CONFIG_café", "1")]));
    cases.push(one(
        "value with newline",
        &[("APP_CONFIG_a", "line1\nline2")],
    ));
    cases.push(one(
        "json string with escapes",
        &[("APP_CONFIG_a", "\"a\\nb\\t\\u0041\"")],
    ));
}

// ---------------------------------------------------------------------------------------
// §4.7 sources and their order

fn files(cases: &mut Vec<Case>) {
    let a = "x: from-a\na: 1\no: {a: 1, s: a}\n";
    let b = "x: from-b\nb: 2\no: {b: 2, s: b}\n";
    let c = "x: from-c\nc: 3\no: {c: 3}\n";
    let probe = |c: Case| c.qs(&["getOptional"], &["x", "o", "o.s"]);
    let three = |note: &str, order: &[&str]| {
        let mut case = Case::new("files", note)
            .file("a.yaml", a)
            .file("b.yaml", b)
            .file("c.yaml", c)
            .file("app-config.yaml", "x: default\n");
        for t in order {
            case = case.target(t);
        }
        probe(case)
    };
    cases.push(three("a then b", &["a.yaml", "b.yaml"]));
    cases.push(three("b then a", &["b.yaml", "a.yaml"]));
    cases.push(three("a, b, c", &["a.yaml", "b.yaml", "c.yaml"]));
    cases.push(three("c, a, b", &["c.yaml", "a.yaml", "b.yaml"]));
    cases.push(three(
        "the same file twice",
        &["a.yaml", "b.yaml", "a.yaml"],
    ));
    cases.push(three(
        "a target named like the default",
        &["app-config.yaml", "a.yaml"],
    ));
    cases.push(three("missing target", &["a.yaml", "nope.yaml"]));
    cases.push(three("missing first target", &["nope.yaml", "a.yaml"]));
    cases.push(three(
        "missing target in a subdirectory",
        &["a.yaml", "sub/nope.yaml"],
    ));
    cases.push(probe(
        Case::new("files", "context is the base name")
            .file("conf/sub/app.yaml", "x: sub\n")
            .file("conf/prod.json", "{\"x\": \"json\", \"y\": 1}\n")
            .file("weird name.yml", "x: weird\n")
            .file("noext", "x: noext\n")
            .target("conf/sub/app.yaml")
            .target("conf/prod.json")
            .target("weird name.yml")
            .target("noext")
            .q("getString", "y.z"),
    ));
    // Relative targets resolve against the working directory; URLs need remote config.
    cases.push(probe(
        Case::new("files", "relative target")
            .file("a.yaml", a)
            .file("b.yaml", b)
            .target("cwd:a.yaml")
            .target("b.yaml"),
    ));
    cases.push(probe(
        Case::new(
            "files",
            "relative target in a subdirectory, with an include",
        )
        .file("conf/a.yaml", "x: {$file: s.txt}\n")
        .file("conf/s.txt", "secret\n")
        .target("cwd:conf/a.yaml"),
    ));
    cases.push(probe(
        Case::new("files", "missing relative target").target("cwd:nope.yaml"),
    ));
    for url in [
        "https://example.com/app-config.yaml",
        "http://localhost:7007/config",
        "ftp://host/x.yaml",
    ] {
        cases.push(probe(
            Case::new("files", format!("URL target {url}"))
                .file("a.yaml", a)
                .target("a.yaml")
                .target(&format!("raw:{url}")),
        ));
    }
    // BACKSTAGE_ENV and the default files.
    let all = |c: Case| {
        c.file("app-config.yaml", "x: base\nlist: [base]\n")
            .file("app-config.production.yaml", "x: production\np: 1\n")
            .file("app-config.staging.yaml", "x: staging\ns: 1\n")
            .file("app-config.local.yaml", "x: local\nl: 1\n")
            .file(
                "app-config.production.local.yaml",
                "x: production-local\npl: 1\n",
            )
            .file("app-config.local.local.yaml", "x: local-local\nll: 1\n")
            .file("app-config.staging.local.yaml", "x: staging-local\nsl: 1\n")
            .q("getOptional", "x")
    };
    let envs: &[Option<&str>] = &[
        None,
        Some("production"),
        Some("production,staging"),
        Some("staging,production"),
        Some(" staging , production "),
        Some("missing"),
        Some("production,,"),
        Some(""),
        Some(","),
        Some("PRODUCTION"),
        Some("production,production"),
        Some("local"),
        Some("production staging"),
        Some("\tproduction\n"),
    ];
    for env in envs {
        let note = format!("BACKSTAGE_ENV={env:?}");
        let mut case = all(Case::new("files", &note));
        if let Some(e) = env {
            case = case.env("BACKSTAGE_ENV", e);
        }
        cases.push(case.clone());
        // With --config, BACKSTAGE_ENV is ignored.
        cases.push(
            Case {
                note: format!("{note} with --config"),
                ..case
            }
            .file("other.yaml", "x: other\n")
            .target("other.yaml"),
        );
    }
    // Some default files missing.
    for (note, files) in [
        ("only app-config.yaml", &["app-config.yaml"][..]),
        (
            "base and env file",
            &["app-config.yaml", "app-config.production.yaml"],
        ),
        (
            "base and env-local file",
            &["app-config.yaml", "app-config.production.local.yaml"],
        ),
        (
            "no base file",
            &["app-config.local.yaml", "app-config.production.yaml"],
        ),
        ("nothing", &[]),
    ] {
        for allow in [false, true] {
            let mut case = Case::new(
                "files",
                format!("{note}, BACKSTAGE_ENV=production, allowMissingDefaultConfig={allow}"),
            )
            .env("BACKSTAGE_ENV", "production")
            .q("getOptional", "x");
            for f in files {
                case = case.file(f, format!("x: {f}\n"));
            }
            if allow {
                case = case.allow_missing();
            }
            cases.push(case);
        }
    }
    cases.push(
        Case::new(
            "files",
            "allowMissingDefaultConfig with --config of a missing file",
        )
        .allow_missing()
        .target("nope.yaml"),
    );
    cases.push(
        Case::new(
            "files",
            "allowMissingDefaultConfig with an empty default file",
        )
        .allow_missing()
        .file("app-config.yaml", "")
        .env("APP_CONFIG_a", "1"),
    );
    // Empty and non-object files.
    for (note, content) in [
        ("empty file", ""),
        ("whitespace only", "  \n\n"),
        ("comment only", "# nothing here\n"),
        ("tilde", "~\n"),
        ("null", "null\n"),
        ("document marker", "---\n"),
        ("document markers", "---\n...\n"),
        ("scalar", "hello\n"),
        ("number", "42\n"),
        ("array", "- a\n- b\n"),
        ("empty flow array", "[]\n"),
        ("boolean", "true\n"),
        ("quoted string", "\"x\"\n"),
        ("substituted scalar root", "\"${A}\"\n"),
        ("unset scalar root", "\"${UNSET}\"\n"),
        ("empty object", "{}\n"),
        ("empty object after substitution", "a: ${UNSET}\n"),
        ("crlf", "a: 1\r\nb:\r\n  c: 2\r\n"),
        ("bom", "\u{feff}a: 1\n"),
        ("no trailing newline", "a: 1"),
    ] {
        let probe = |c: Case| c.env("A", "a").qs(&["getOptional", "has"], &["a", "b.c"]);
        cases.push(probe(
            Case::new("files", format!("default file: {note}")).file("app-config.yaml", content),
        ));
        cases.push(probe(
            Case::new("files", format!("target: {note}, over a.yaml"))
                .file("a.yaml", "a: base\n")
                .file("t.yaml", content)
                .target("a.yaml")
                .target("t.yaml"),
        ));
        cases.push(probe(
            Case::new("files", format!("target: {note}, with env"))
                .file("t.yaml", content)
                .target("t.yaml")
                .env("APP_CONFIG_b_c", "1"),
        ));
    }
}

// ---------------------------------------------------------------------------------------
// YAML as the file format

fn yaml(cases: &mut Vec<Case>) {
    let snippets: &[&str] = &[
        "v: |\n  line1\n  line2\n",
        "v: |-\n  line1\n  line2\n",
        "v: |+\n  line1\n\n",
        "v: >\n  folded\n  text\n\n  para\n",
        "v: \"\\x41\\t\\u263A\\U0001F600\\0\"\n",
        "v: 'it''s'\n",
        "v: plain\n  continued\n",
        "a: &anchor {b: 1, c: [x]}\nv: *anchor\n",
        "a: &s 5\nv: *s\n",
        "base: &b {x: 1, y: 2}\nv:\n  <<: *b\n  y: 3\n",
        "v: !!str 123\n",
        "v: !!str true\n",
        "v: !!int \"12\"\n",
        "v: !!float 1\n",
        "v: !!null ''\n",
        "v: 0o17\n",
        "v: 0x1F\n",
        "v: 1_000\n",
        "v: +.inf\n",
        "v: .NaN\n",
        "v: .Inf\n",
        "v: -.INF\n",
        "v: 0.\n",
        "v: 1E3\n",
        "v: 0b101\n",
        "v: -0x10\n",
        "v: 2001-12-14\n",
        "v: 2001-12-14t21:59:43.10-05:00\n",
        "v: nULL\n",
        "v: tRUE\n",
        "v: NO\n",
        "v: Off\n",
        "v: 017\n",
        "v: 08\n",
        "v: 1:20\n",
        "v: \"\"\n",
        "v:\n",
        "v: []\nw: {}\n",
        "1: a\n2.5: b\ntrue: c\nnull: d\n~: e\n",
        "v: {1: a, 01: b}\n",
        "\"a b\": 1\n'c:d': 2\n\"\\u00e9\": 3\n",
        "v: a # comment\n# full line\nw: b#not-comment\n",
        "v: [a, b, [c, {d: e}]]\n",
        "v:\n- a\n- b\n",
        "v:\n  - a: 1\n    b: 2\n  - c\n",
        "? v\n: complex-key-syntax\n",
        "v: \"multi\n  line quoted\"\n",
        "v: 'single\n\n  folded'\n",
        "v: 123456789012345678901234567890\n",
        "v: 9007199254740993\n",
        "v: -9223372036854775809\n",
        "v: 18446744073709551616\n",
        "v: 1e400\n",
        "v: 4.9e-325\n",
        "v: 0x8000000000000000\n",
        "v: 0xFFFFFFFFFFFFFFFFFF\n",
        "v: 1.5e-10\n",
        "v: -1.0\n",
        "v: 1.10\n",
        "v: \"\\ud83d\\ude00\"\n",
        "v: \"\\N\\_\\L\\P\"\n",
        "v: %percent\n",
        "v: @at\n",
        "v: `tick\n",
        "v: a: b\n",
        "v: [a, b\n",
        "v: 'unclosed\n",
        "v: 1\nv: 2\n",
        "a: 1\n---\nb: 2\n",
        "v: *nope\n",
        "v: !custom x\n",
        "\tv: tab-indented\n",
        "v:\n\t- tab\n",
        "v: {a: 1, a: 2}\n",
        "v: [1, 2,]\n",
        "v: {a: 1,}\n",
        "%YAML 1.2\n---\nv: 1\n",
        "%YAML 1.1\n---\nv: yes\n",
        "--- !!map\nv: 1\n",
        "v: x\n...\n",
        "v: >-\n\n  leading blank\n",
        "v: - a\n",
        "v: \"\\/\"\n",
        "v: \"\\e\\a\"\n",
        "v: '\\n'\n",
        "v: ''''\n",
        "<<: {m: 1}\nv: 2\n",
    ];
    for s in snippets {
        cases.push(
            Case::new("yaml", format!("{s:?}"))
                .file("app-config.yaml", s)
                .qs(
                    &["getOptional", "getOptionalString", "getOptionalNumber"],
                    &["v"],
                ),
        );
    }
    let deep = format!("v: {}1{}\n", "[".repeat(200), "]".repeat(200));
    cases.push(Case::new("yaml", "deeply nested flow sequence").file("app-config.yaml", &deep));
    let mut deep_block = String::new();
    for i in 0..150 {
        deep_block.push_str(&format!("{}k{i}:\n", "  ".repeat(i)));
    }
    deep_block.push_str(&format!("{}leaf: 1\n", "  ".repeat(150)));
    cases.push(
        Case::new("yaml", "deeply nested block mapping").file("app-config.yaml", &deep_block),
    );
    let long = format!("v: {}\n", "x".repeat(100_000));
    cases.push(
        Case::new("yaml", "long scalar")
            .file("app-config.yaml", &long)
            .q("has", "v"),
    );
    let many: String = (0..2000).map(|i| format!("k{i}: {i}\n")).collect();
    cases.push(
        Case::new("yaml", "many keys")
            .file("app-config.yaml", &many)
            .q("getNumber", "k1999"),
    );
}

// ---------------------------------------------------------------------------------------
// Which error wins when several sources fail (env errors are raised first)

fn precedence(cases: &mut Vec<Case>) {
    let mut push = |note: &str, case: Case| {
        cases.push(Case {
            note: note.to_string(),
            ..case
        })
    };
    push(
        "URL target and invalid env key",
        Case::new("precedence", "")
            .target("raw:https://example.com/c.yaml")
            .env("APP_CONFIG_x__y", "1"),
    );
    push(
        "missing target then URL target",
        Case::new("precedence", "")
            .target("nope.yaml")
            .target("raw:https://example.com/c.yaml"),
    );
    push(
        "config target is a directory",
        Case::new("files", "")
            .file("d/x.yaml", "a: 1\n")
            .target("d"),
    );
    push(
        "missing target and invalid env key",
        Case::new("precedence", "")
            .target("nope.yaml")
            .env("APP_CONFIG_x__y", "1"),
    );
    push(
        "missing default file and env null",
        Case::new("precedence", "").env("APP_CONFIG_x", "null"),
    );
    push(
        "transform error and env conflict",
        Case::new("precedence", "")
            .file("app-config.yaml", "k: {$env: 1}\n")
            .env("APP_CONFIG_x", "1")
            .env("APP_CONFIG_x_y", "1"),
    );
    push(
        "non-object root and valid env",
        Case::new("precedence", "")
            .file("app-config.yaml", "- a\n")
            .env("APP_CONFIG_x", "1"),
    );
    push(
        "yaml error and invalid env key",
        Case::new("precedence", "")
            .file("app-config.yaml", "a: [\n")
            .env("APP_CONFIG_", "1"),
    );
    push(
        "good file, missing include and env error",
        Case::new("precedence", "")
            .file("app-config.yaml", "k: {$include: nope.yaml}\n")
            .env("APP_CONFIG_a_", "1"),
    );
}
