//! Loading tests against real files in temporary directories: sources and their order (§4.7),
//! transforms (§4.8) and the environment layer (§4.9) together.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{ConfigLayer, ConfigReader, LoadConfigOptions, load_config};
use crate::error::FileProblem;
use crate::{Error, Result};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        Self { _dir: dir, root }
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.root.join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    fn path(&self, relative: &str) -> String {
        self.root.join(relative).display().to_string()
    }

    fn options(&self, env: &[(&str, &str)]) -> LoadConfigOptions {
        LoadConfigOptions::new(&self.root).env(env_map(env))
    }

    fn load(&self, env: &[(&str, &str)]) -> Result<Vec<ConfigLayer>> {
        load_config(&self.options(env))
    }

    /// Loads the default files and returns the data of the single file layer.
    fn data(&self, env: &[(&str, &str)]) -> Value {
        let layers = self.load(env).unwrap();
        assert_eq!(layers.len(), 1, "{layers:?}");
        layers.into_iter().next().unwrap().data
    }

    fn error(&self, env: &[(&str, &str)]) -> String {
        self.load(env).unwrap_err().to_string()
    }
}

fn env_map(env: &[(&str, &str)]) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn contexts(layers: &[ConfigLayer]) -> Vec<&str> {
    layers.iter().map(|l| l.context.as_str()).collect()
}

// §4.7 sources and their order

#[test]
fn default_files_load_in_increasing_priority() {
    let f = Fixture::new();
    f.write(
        "app-config.yaml",
        "a: base\nb: base\nc: base\nd: base\ne: base\n",
    );
    f.write("app-config.production.yaml", "b: production\n");
    f.write("app-config.staging.yaml", "c: staging\n");
    f.write("app-config.local.yaml", "d: local\n");
    f.write("app-config.production.local.yaml", "e: production-local\n");
    f.write("app-config.other.yaml", "a: other\n");
    let layers = f
        .load(&[("BACKSTAGE_ENV", " production , staging,,")])
        .unwrap();
    assert_eq!(
        contexts(&layers),
        [
            "app-config.yaml",
            "app-config.production.yaml",
            "app-config.staging.yaml",
            "app-config.local.yaml",
            "app-config.production.local.yaml",
        ]
    );
    let config = ConfigReader::from_layers(layers);
    assert_eq!(
        config.value(),
        json!({ "a": "base", "b": "production", "c": "staging", "d": "local", "e": "production-local" })
    );
}

#[test]
fn without_backstage_env_only_base_and_local_load() {
    let f = Fixture::new();
    f.write("app-config.yaml", "a: 1\n");
    f.write("app-config.production.yaml", "a: 2\n");
    f.write("app-config.local.yaml", "a: 3\n");
    let layers = f.load(&[]).unwrap();
    assert_eq!(
        contexts(&layers),
        ["app-config.yaml", "app-config.local.yaml"]
    );
}

#[test]
fn a_missing_default_file_is_an_error_unless_allowed() {
    let f = Fixture::new();
    f.write("app-config.local.yaml", "a: 1\n");
    assert_eq!(
        f.error(&[]),
        format!(
            "Config file \"{}\" does not exist",
            f.path("app-config.yaml")
        )
    );
    assert_eq!(f.load(&[]).unwrap_err().backstage_name(), "NotFoundError");
    let layers = load_config(&f.options(&[]).allow_missing_default_config(true)).unwrap();
    assert_eq!(contexts(&layers), ["app-config.local.yaml"]);
    let empty = Fixture::new();
    let layers = load_config(&empty.options(&[]).allow_missing_default_config(true)).unwrap();
    assert!(layers.is_empty());
}

#[test]
fn config_paths_replace_the_defaults_and_ignore_backstage_env() {
    let f = Fixture::new();
    f.write("app-config.yaml", "a: default\n");
    f.write("app-config.production.yaml", "a: production\n");
    f.write("conf/one.yaml", "a: one\nb: one\n");
    let two = f.write("two.yaml", "a: two\n");
    let options = f
        .options(&[("BACKSTAGE_ENV", "production")])
        .config_path("conf/one.yaml")
        .config_path(&two);
    let layers = load_config(&options).unwrap();
    assert_eq!(contexts(&layers), ["one.yaml", "two.yaml"]);
    let config = ConfigReader::from_layers(layers);
    assert_eq!(config.value(), json!({ "a": "two", "b": "one" }));
}

#[test]
fn a_missing_config_path_is_not_found() {
    let f = Fixture::new();
    let options = f.options(&[]).config_path("../nope/app-config.yaml");
    let expected = f.root.parent().unwrap().join("nope/app-config.yaml");
    assert_eq!(
        load_config(&options).unwrap_err().to_string(),
        format!("Config file \"{}\" does not exist", expected.display())
    );
}

#[test]
fn empty_files_contribute_no_layer() {
    let f = Fixture::new();
    f.write("app-config.yaml", "");
    f.write("app-config.local.yaml", "# nothing here\n");
    assert!(f.load(&[]).unwrap().is_empty());
    f.write("app-config.yaml", "null\n");
    f.write("app-config.local.yaml", "~\n");
    assert!(f.load(&[]).unwrap().is_empty());
}

#[test]
fn a_non_object_root_is_an_error() {
    let f = Fixture::new();
    for text in [
        "hello\n",
        "- a\n- b\n",
        "42\n",
        "true\n",
        "${UNSET}\n",
        "$env: UNSET\n",
    ] {
        f.write("app-config.yaml", text);
        assert_eq!(
            f.error(&[]),
            format!(
                "Failed to read config file at \"{}\", expected object at config root",
                f.path("app-config.yaml")
            ),
            "{text:?}"
        );
    }
}

#[test]
fn invalid_yaml_names_the_file() {
    let f = Fixture::new();
    for text in ["a: [1\n", "a: 1\na: 2\n", "a: 1\n---\nb: 2\n"] {
        f.write("app-config.yaml", text);
        let err = f.load(&[]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::File {
                    node: None,
                    problem: FileProblem::Yaml { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "Failed to read config file at \"{}\", invalid YAML: ",
                f.path("app-config.yaml")
            )),
            "{err}"
        );
    }
}

#[test]
fn json_is_valid_config_yaml() {
    let f = Fixture::new();
    f.write(
        "app-config.yaml",
        r#"{ "app": { "title": "T", "list": [1, 2.0] } }"#,
    );
    assert_eq!(
        f.data(&[]),
        json!({ "app": { "title": "T", "list": [1, 2] } })
    );
}

#[test]
fn yes_and_on_stay_strings() {
    let f = Fixture::new();
    f.write("app-config.yaml", "a: yes\nb: on\nc: true\n");
    assert_eq!(f.data(&[]), json!({ "a": "yes", "b": "on", "c": true }));
    let config = ConfigReader::from_layers(f.load(&[]).unwrap());
    assert!(config.boolean("a").unwrap());
    assert!(config.boolean("b").unwrap());
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let f = Fixture::new();
    let path = f.root.join("app-config.yaml");
    fs::write(&path, b"a: \xff\xfe ok\n").unwrap();
    assert_eq!(f.data(&[]), json!({ "a": "\u{fffd}\u{fffd} ok" }));
}

#[test]
fn a_directory_instead_of_a_file_is_a_read_error() {
    let f = Fixture::new();
    fs::create_dir(f.root.join("app-config.yaml")).unwrap();
    assert_eq!(
        f.error(&[]),
        format!(
            "Failed to read config file at \"{}\", EISDIR: illegal operation on a directory, read",
            f.path("app-config.yaml")
        )
    );
}

// §4.9 environment overrides, through the loader

#[test]
fn the_env_layer_sits_above_all_files() {
    let f = Fixture::new();
    f.write(
        "app-config.yaml",
        "app:\n  baseUrl: http://file\n  title: File\n",
    );
    f.write("app-config.local.yaml", "app:\n  baseUrl: http://local\n");
    let layers = f
        .load(&[("APP_CONFIG_app_baseUrl", "http://env"), ("OTHER", "x")])
        .unwrap();
    assert_eq!(
        contexts(&layers),
        ["app-config.yaml", "app-config.local.yaml", "env"]
    );
    let config = ConfigReader::from_layers(layers);
    assert_eq!(config.string("app.baseUrl").unwrap(), "http://env");
    assert_eq!(config.string("app.title").unwrap(), "File");
}

#[test]
fn env_values_are_not_substituted() {
    let f = Fixture::new();
    f.write("app-config.yaml", "a: 1\n");
    let layers = f
        .load(&[
            ("APP_CONFIG_x", "${HOME}"),
            ("APP_CONFIG_y", "{\"$env\":\"HOME\"}"),
            ("HOME", "/h"),
        ])
        .unwrap();
    assert_eq!(
        layers[1].data,
        json!({ "x": "${HOME}", "y": { "$env": "HOME" } })
    );
}

#[test]
fn env_errors_are_reported_before_file_errors() {
    let f = Fixture::new();
    f.write("app-config.yaml", "b: {$file: missing.txt}\n");
    assert_eq!(
        f.error(&[("APP_CONFIG_x__y", "1")]),
        "Invalid env config key 'x__y'"
    );
    // ... and a URL-like config path before both.
    let options = f
        .options(&[("APP_CONFIG_x__y", "1")])
        .config_path("http://example.com/app-config.yaml");
    assert!(matches!(
        load_config(&options),
        Err(Error::RemoteConfigNotEnabled { .. })
    ));
}

#[test]
fn url_paths_without_a_host_are_files() {
    let f = Fixture::new();
    let options = f
        .options(&[])
        .config_path("file:///nonexistent/app-config.yaml");
    assert!(matches!(
        load_config(&options),
        Err(Error::FileNotFound { .. })
    ));
}

// §4.8 substitution

#[test]
fn substitution_reads_the_env_map() {
    let f = Fixture::new();
    f.write(
        "app-config.yaml",
        "app:\n  title: ${TITLE}\n  port: ${PORT}\n  url: http://${HOST}:${PORT}/x\n  \
         gone: a-${UNSET}-b\n  escaped: $${TITLE}\n  fallback: ${UNSET:-dflt}\n  empty: '${EMPTY}'\n",
    );
    let env = [
        ("TITLE", " Portal "),
        ("PORT", "7007"),
        ("HOST", "localhost"),
        ("EMPTY", ""),
    ];
    assert_eq!(
        f.data(&env),
        json!({ "app": {
            "title": "Portal", "port": "7007", "url": "http://localhost:7007/x",
            "escaped": "${TITLE}", "fallback": "dflt", "empty": ""
        } })
    );
    let config = ConfigReader::from_layers(f.load(&env).unwrap());
    assert_eq!(config.number("app.port").unwrap(), 7007.0);
    assert!(!config.has("app.gone").unwrap());
}

#[test]
fn removed_array_elements_shrink_the_array() {
    let f = Fixture::new();
    f.write(
        "app-config.yaml",
        "list: [one, '${UNSET}', three, {$env: UNSET}, 5]\n",
    );
    assert_eq!(f.data(&[]), json!({ "list": ["one", "three", 5] }));
}

#[test]
fn substitution_applies_to_strings_only_not_keys() {
    let f = Fixture::new();
    f.write("app-config.yaml", "${KEY}: value\nn: 1\n");
    assert_eq!(
        f.data(&[("KEY", "k")]),
        json!({ "${KEY}": "value", "n": 1 })
    );
}

// §4.8 include directives

#[test]
fn env_directive_reads_a_trimmed_variable_or_removes_the_node() {
    let f = Fixture::new();
    f.write(
        "app-config.yaml",
        "a: {$env: SECRET}\nb: {$env: UNSET}\nc: {$env: '${NAME}'}\n",
    );
    assert_eq!(
        f.data(&[("SECRET", " s3cret \n"), ("NAME", "SECRET")]),
        json!({ "a": "s3cret", "c": "s3cret" })
    );
}

#[test]
fn file_directive_reads_text_relative_to_the_config_file() {
    let f = Fixture::new();
    f.write("conf/secret.txt", "line one\nline two  \n\n");
    let config = f.write("conf/app-config.yaml", "a:\n  $file: secret.txt\n");
    let options = f.options(&[]).config_path(&config);
    let layers = load_config(&options).unwrap();
    assert_eq!(layers[0].data, json!({ "a": "line one\nline two" }));
}

#[test]
fn a_missing_file_is_reported_with_its_node_path() {
    let f = Fixture::new();
    f.write(
        "app-config.yaml",
        "app:\n  fileInc:\n    $file: missing.txt\n",
    );
    assert_eq!(
        f.error(&[]),
        format!(
            "Failed to read config file at \"{}\", error at .app.fileInc, failed to read file \
             missing.txt, NotFoundError: failed to include \"{}\", file does not exist",
            f.path("app-config.yaml"),
            f.path("missing.txt")
        )
    );
}

#[test]
fn node_paths_index_arrays() {
    let f = Fixture::new();
    f.write("app-config.yaml", "a:\n  - x\n  - {$file: 5}\n");
    assert_eq!(
        f.error(&[]),
        format!(
            "Failed to read config file at \"{}\", error at .a[1], $file include value is not a string",
            f.path("app-config.yaml")
        )
    );
}

#[test]
fn directives_must_stand_alone_and_hold_strings() {
    let f = Fixture::new();
    let cases = [
        (
            "a: {$file: x.txt, other: 1}\n",
            "error at .a, include key $file should not have adjacent keys",
        ),
        (
            "a: {$env: A, $file: B}\n",
            "error at .a, include key $env should not have adjacent keys",
        ),
        (
            "a: {$include: [x]}\n",
            "error at .a, $include include value is not a string",
        ),
        (
            "a: {$env: null}\n",
            "error at .a, $env include value is not a string",
        ),
        (
            "a: {$file: '${UNSET}'}\n",
            "error at .a, $file substitution value was undefined",
        ),
    ];
    for (text, detail) in cases {
        f.write("app-config.yaml", text);
        assert_eq!(
            f.error(&[]),
            format!(
                "Failed to read config file at \"{}\", {detail}",
                f.path("app-config.yaml")
            ),
            "{text}"
        );
    }
}

#[test]
fn other_dollar_keys_are_ordinary_data() {
    let f = Fixture::new();
    f.write("app-config.yaml", "a: {$foo: 1, $ref: x}\n");
    assert_eq!(f.data(&[]), json!({ "a": { "$foo": 1, "$ref": "x" } }));
}

#[test]
fn include_parses_yaml_yml_and_json() {
    let f = Fixture::new();
    f.write("inc/a.yaml", "x: 1\n");
    f.write("inc/b.yml", "y: [2]\n");
    f.write("inc/c.json", r#"{ "z": { "w": 3.0 } }"#);
    f.write(
        "app-config.yaml",
        "a: {$include: inc/a.yaml}\nb: {$include: inc/b.yml}\nc: {$include: inc/c.json}\n",
    );
    assert_eq!(
        f.data(&[]),
        json!({ "a": { "x": 1 }, "b": { "y": [2] }, "c": { "z": { "w": 3 } } })
    );
}

#[test]
fn include_selects_a_sub_path_after_the_hash() {
    let f = Fixture::new();
    f.write(
        "inc.yaml",
        "a:\n  b:\n    c: deep\n    s: ${NAME}\n    u: ${UNSET}\n  str: text\n",
    );
    f.write(
        "app-config.yaml",
        "whole: {$include: 'inc.yaml#'}\nsub: {$include: inc.yaml#a.b}\nleaf: {$include: inc.yaml#a.b.c}\n\
         subst: {$include: inc.yaml#a.b.s}\nunset: {$include: inc.yaml#a.b.u}\nmissing: {$include: inc.yaml#a.nope}\n",
    );
    let data = f.data(&[("NAME", "n")]);
    assert_eq!(data["sub"], json!({ "c": "deep", "s": "n" }));
    assert_eq!(data["leaf"], json!("deep"));
    assert_eq!(data["subst"], json!("n"));
    assert_eq!(data["whole"]["a"]["str"], json!("text"));
    assert!(data.get("unset").is_none());
    assert!(data.get("missing").is_none());
}

#[test]
fn include_path_steps_through_non_objects_fail() {
    let f = Fixture::new();
    f.write("inc.yaml", "a:\n  str: text\n");
    for (selector, at) in [
        ("a.str.x", "a.str"),
        ("a.nope.x", "a.nope"),
        ("a.str.x.y", "a.str"),
    ] {
        f.write(
            "app-config.yaml",
            &format!("v: {{$include: 'inc.yaml#{selector}'}}\n"),
        );
        assert_eq!(
            f.error(&[]),
            format!(
                "Failed to read config file at \"{}\", error at .v, value at '{at}' in included file inc.yaml is not an object",
                f.path("app-config.yaml")
            )
        );
    }
}

#[test]
fn include_needs_a_known_extension() {
    let f = Fixture::new();
    f.write("inc.txt", "x\n");
    f.write("app-config.yaml", "v: {$include: inc.txt#a}\n");
    assert_eq!(
        f.error(&[]),
        format!(
            "Failed to read config file at \"{}\", error at .v, no configuration parser available for included file inc.txt",
            f.path("app-config.yaml")
        )
    );
}

#[test]
fn a_missing_included_file_is_reported() {
    let f = Fixture::new();
    f.write("app-config.yaml", "v: {$include: sub/missing.yaml}\n");
    assert_eq!(
        f.error(&[]),
        format!(
            "Failed to read config file at \"{}\", error at .v, failed to include \"{}\", file does not exist",
            f.path("app-config.yaml"),
            f.path("sub/missing.yaml")
        )
    );
}

#[test]
fn an_unparsable_included_file_is_reported() {
    let f = Fixture::new();
    f.write("bad.json", "{ nope");
    f.write("bad.yaml", "a: [1\n");
    for (file, kind) in [
        ("bad.json", "SyntaxError: "),
        ("bad.yaml", "YAMLParseError: "),
    ] {
        f.write("app-config.yaml", &format!("v: {{$include: {file}}}\n"));
        let message = f.error(&[]);
        let prefix = format!(
            "Failed to read config file at \"{}\", error at .v, failed to parse included file {file}, {kind}",
            f.path("app-config.yaml")
        );
        assert!(message.starts_with(&prefix), "{message}");
    }
}

#[test]
fn included_values_resolve_paths_from_the_included_files_directory() {
    let f = Fixture::new();
    f.write("sub/token.txt", "tok\n");
    f.write("sub/more/inner.yaml", "deep: {$file: ../token.txt}\n");
    f.write(
        "sub/inc.yaml",
        "fileInc: {$file: token.txt}\nnested: {$include: more/inner.yaml}\n",
    );
    f.write("app-config.yaml", "app: {$include: sub/inc.yaml}\n");
    assert_eq!(
        f.data(&[]),
        json!({ "app": { "fileInc": "tok", "nested": { "deep": "tok" } } })
    );
}

#[test]
fn an_included_top_level_directive_is_kept_literally() {
    let f = Fixture::new();
    f.write("inner.yaml", "x: 1\n");
    f.write("outer.yaml", "$include: inner.yaml\n");
    f.write("app-config.yaml", "v: {$include: outer.yaml}\n");
    assert_eq!(f.data(&[]), json!({ "v": { "$include": "inner.yaml" } }));
}

#[test]
fn a_root_directive_of_the_config_file_itself_is_expanded() {
    let f = Fixture::new();
    f.write("base.yaml", "app: {title: Base}\n");
    f.write("app-config.yaml", "$include: base.yaml\n");
    assert_eq!(f.data(&[]), json!({ "app": { "title": "Base" } }));
    f.write("app-config.yaml", "$include: missing.yaml\n");
    assert_eq!(
        f.error(&[]),
        format!(
            "Failed to read config file at \"{}\", error at , failed to include \"{}\", file does not exist",
            f.path("app-config.yaml"),
            f.path("missing.yaml")
        )
    );
}

#[test]
fn a_file_directive_on_a_directory_is_a_read_error() {
    let f = Fixture::new();
    fs::create_dir(f.root.join("dir")).unwrap();
    f.write("app-config.yaml", "x: {$file: dir}\n");
    assert_eq!(
        f.error(&[]),
        format!(
            "Failed to read config file at \"{}\", error at .x, failed to read file dir, Error: EISDIR: illegal operation on a directory, read",
            f.path("app-config.yaml")
        )
    );
}

// Untrusted files: cycles and depth

fn assert_cycle(err: &Error, file: &Path) {
    match err {
        Error::File {
            problem: FileProblem::IncludeCycle { resolved, .. },
            ..
        } => assert_eq!(resolved, file),
        other => panic!("expected an include cycle, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("circular $include of \"{}", file.display())),
        "{err}"
    );
}

#[test]
fn a_file_including_itself_is_an_error_naming_it() {
    let f = Fixture::new();
    let path = f.write("app-config.yaml", "a: {$include: app-config.yaml}\n");
    assert_cycle(&f.load(&[]).unwrap_err(), &path);
    let path = f.write("self.yaml", "x:\n  y: {$include: self.yaml#x}\n");
    f.write("app-config.yaml", "a: {$include: self.yaml}\n");
    assert_cycle(&f.load(&[]).unwrap_err(), &path);
}

#[test]
fn indirect_include_cycles_are_errors() {
    let f = Fixture::new();
    let a = f.write("a.yaml", "b: {$include: dir/b.yaml}\n");
    f.write("dir/b.yaml", "a: [{$include: ../a.yaml}]\n");
    f.write("app-config.yaml", "root: {$include: a.yaml}\n");
    assert_cycle(&f.load(&[]).unwrap_err(), &a);
}

#[test]
fn including_another_part_of_the_same_file_is_not_a_cycle() {
    let f = Fixture::new();
    f.write(
        "parts.yaml",
        "x:\n  y: {$include: parts.yaml#z}\nz:\n  value: 1\n",
    );
    f.write(
        "app-config.yaml",
        "a: {$include: parts.yaml#x}\nb: {$include: parts.yaml}\n",
    );
    assert_eq!(
        f.data(&[]),
        json!({
            "a": { "y": { "value": 1 } },
            "b": { "x": { "y": { "value": 1 } }, "z": { "value": 1 } }
        })
    );
}

#[test]
fn the_same_file_may_be_included_many_times() {
    let f = Fixture::new();
    f.write("common.yaml", "v: 1\n");
    f.write(
        "app-config.yaml",
        "a: {$include: common.yaml}\nb: [{$include: common.yaml}, {$include: common.yaml}]\n",
    );
    assert_eq!(
        f.data(&[]),
        json!({ "a": { "v": 1 }, "b": [{ "v": 1 }, { "v": 1 }] })
    );
}

#[test]
fn data_nested_too_deeply_through_includes_is_an_error() {
    let f = Fixture::new();
    let nest = |inner: &str| format!("{}{inner}{}", "[".repeat(100), "]".repeat(100));
    f.write("c.json", &nest("1"));
    f.write("b.json", &nest(r#"{"$include": "c.json"}"#));
    f.write("a.json", &nest(r#"{"$include": "b.json"}"#));
    f.write("app-config.yaml", "a: {$include: a.json}\n");
    let err = f.load(&[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::File {
                problem: FileProblem::TooDeep { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn config_reader_over_loaded_layers_names_file_contexts() {
    let f = Fixture::new();
    f.write("app-config.yaml", "backend:\n  listen:\n    port: abc\n");
    f.write(
        "app-config.local.yaml",
        "backend:\n  baseUrl: http://localhost\n",
    );
    let config = ConfigReader::from_layers(f.load(&[]).unwrap());
    assert_eq!(
        config.string("backend.listen.port").unwrap_or_default(),
        "abc"
    );
    assert_eq!(
        config
            .boolean("backend.listen.port")
            .unwrap_err()
            .to_string(),
        "Unable to convert config value for key 'backend.listen.port' in 'app-config.local.yaml' to a boolean"
    );
    assert_eq!(
        config.number("backend.baseUrl").unwrap_err().to_string(),
        "Unable to convert config value for key 'backend.baseUrl' in 'app-config.local.yaml' to a number"
    );
}
