//! `backstage validate`, run as a real process.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Exit code, stdout and stderr of one run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn backstage(cwd: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_backstage"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the backstage binary runs");
    Run {
        code: output
            .status
            .code()
            .expect("exited normally, not by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch directory")
}

fn write(root: &Path, relative: &str, text: &str) -> PathBuf {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent directories");
    }
    fs::write(&path, text).expect("write a scratch file");
    path
}

fn demo_catalog() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")
}

const VALID_COMPONENT: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
spec:
  type: service
  lifecycle: production
  owner: team-a
";

const INVALID_ENTITIES: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore-web
  namespace: Web
spec:
  type: website
  owner: team-a
  providesApis: [petstore-api, ""]
---
apiVersion: backstage.io/v1alpha1
kind: Widget
metadata:
  name: gadget
spec: {}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
"#;

const DUPLICATE_KEY: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: one
  name: two
";

#[test]
fn the_demo_catalog_is_valid() {
    let run = backstage(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["validate", &demo_catalog().to_string_lossy()],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr.trim_end(),
        "43 documents in 7 files: 43 valid, 0 invalid"
    );
}

#[test]
fn a_mixed_directory_reports_every_problem_with_its_position_and_exits_1() {
    let dir = scratch();
    write(dir.path(), "repo/good.yaml", VALID_COMPONENT);
    write(dir.path(), "repo/bad.yaml", INVALID_ENTITIES);
    write(dir.path(), "repo/broken.yml", DUPLICATE_KEY);
    write(dir.path(), "repo/README.md", "not yaml: [");

    let run = backstage(dir.path(), &["validate", "repo"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = run.lines();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "repo/bad.yaml:5:3: component:web/petstore-web: \"metadata.namespace\" is not valid; expected a string"
        ),
        "{lines:?}"
    );
    assert_eq!(
        lines[1..],
        [
            // Missing property: the key of its parent.
            "repo/bad.yaml:6:1: component:web/petstore-web: /spec must have required property 'lifecycle' - missingProperty: lifecycle",
            // Sorted by the validator to ["", "petstore-api"]; located where it is written.
            "repo/bad.yaml:9:32: component:web/petstore-web: /spec/providesApis/1 must NOT have fewer than 1 characters - limit: 1",
            "repo/bad.yaml:12:1: widget:default/gadget: No processor recognized the entity widget:default/gadget as valid, possibly caused by a foreign kind or apiVersion",
            "repo/bad.yaml:21:1: group:default/team-a: /spec must have required property 'children' - missingProperty: children",
            "repo/broken.yml:5:3: -: map keys must be unique (duplicate key \"name\")",
        ]
    );
    assert!(
        run.stderr
            .contains("5 documents in 3 files: 1 valid, 4 invalid"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--format json"), "{}", run.stderr);
}

#[test]
fn json_output_has_one_line_per_document_with_stream_indices() {
    let dir = scratch();
    let text = format!(
        "{VALID_COMPONENT}---\nmetadata: {{name: [}}\n---\n# only a comment\n---\n{}",
        VALID_COMPONENT.replace("owner: team-a", "owner: \"\"")
    );
    write(dir.path(), "multi.yaml", &text);

    let run = backstage(dir.path(), &["validate", "--format", "json", "multi.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let docs: Vec<Value> = run
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(docs.len(), 3, "{}", run.stdout);
    for doc in &docs {
        let keys: Vec<&str> = doc
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["file", "document", "entityRef", "valid", "errors"]);
        assert_eq!(doc["file"], "multi.yaml");
    }
    // The empty third document keeps its index.
    let indices: Vec<&Value> = docs.iter().map(|d| &d["document"]).collect();
    assert_eq!(indices, [0, 1, 3]);

    assert_eq!(docs[0]["entityRef"], "component:default/petstore");
    assert_eq!(docs[0]["valid"], true);
    assert_eq!(docs[0]["errors"], serde_json::json!([]));

    assert_eq!(docs[1]["entityRef"], Value::Null);
    assert_eq!(docs[1]["valid"], false);
    let yaml_errors = docs[1]["errors"].as_array().expect("errors array");
    assert_eq!(yaml_errors.len(), 1);
    assert_eq!(yaml_errors[0]["path"], "");
    assert_eq!(yaml_errors[0]["line"], 10);
    assert!(yaml_errors[0]["message"].is_string());

    assert_eq!(docs[2]["entityRef"], "component:default/petstore");
    assert_eq!(docs[2]["valid"], false);
    assert_eq!(
        docs[2]["errors"],
        serde_json::json!([{
            "path": "/spec/owner",
            "message": "/spec/owner must NOT have fewer than 1 characters - limit: 1",
            "line": 21,
            "column": 3,
        }])
    );
}

#[test]
fn a_missing_path_exits_2_after_validating_the_others() {
    let dir = scratch();
    write(dir.path(), "good.yaml", VALID_COMPONENT);
    let run = backstage(
        dir.path(),
        &["validate", "does-not-exist.yaml", "good.yaml"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("backstage: error: cannot read does-not-exist.yaml:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 document in 1 file: 1 valid, 0 invalid"),
        "{}",
        run.stderr
    );
}

#[test]
fn hidden_directories_and_node_modules_are_skipped_but_explicit_files_are_read() {
    let dir = scratch();
    let broken = "kind: [";
    write(dir.path(), "repo/catalog-info.yaml", VALID_COMPONENT);
    write(dir.path(), "repo/.github/workflows/ci.yml", broken);
    write(dir.path(), "repo/.gitlab-ci.yml", broken);
    write(
        dir.path(),
        "repo/web/node_modules/pkg/catalog-info.yaml",
        broken,
    );
    write(dir.path(), "repo/web/catalog-info.YML", VALID_COMPONENT);
    write(dir.path(), "repo/web/notes.txt", broken);

    let run = backstage(dir.path(), &["validate", "repo"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("2 documents in 2 files"),
        "{}",
        run.stderr
    );

    // Named explicitly, hidden files and other extensions are read.
    write(dir.path(), "entity.txt", VALID_COMPONENT);
    let run = backstage(
        dir.path(),
        &[
            "validate",
            "entity.txt",
            "repo/.github/workflows/ci.yml",
            "repo/.gitlab-ci.yml",
        ],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("3 documents in 3 files: 1 valid, 2 invalid"),
        "{}",
        run.stderr
    );
    let files: Vec<&str> = run
        .lines()
        .iter()
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(
        files,
        ["repo/.github/workflows/ci.yml", "repo/.gitlab-ci.yml"]
    );

    // Hidden directories are walked when named explicitly.
    let run = backstage(dir.path(), &["validate", "repo/.github"]);
    assert_eq!(run.code, 1);
}

const TEMPLATE: &str = "\
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: react-app
  title: React app
spec:
  owner: storefront-team
  type: website
  parameters:
    - title: Name
      required: [name]
      properties:
        name:
          type: string
  steps:
    - id: fetch
      name: Fetch skeleton
      action: fetch:template
      input:
        url: ./skeleton
";

const TEMPLATE_SCHEMA: &str = r#"{
  "$schema": "http://json-schema.org/draft-07/schema",
  "$id": "TemplateV1beta3",
  "allOf": [
    { "$ref": "Entity" },
    {
      "type": "object",
      "required": ["spec"],
      "properties": {
        "apiVersion": { "enum": ["scaffolder.backstage.io/v1beta3"] },
        "kind": { "enum": ["Template"] },
        "spec": {
          "type": "object",
          "required": ["type", "steps"],
          "properties": {
            "type": { "type": "string", "minLength": 1 },
            "owner": { "type": "string", "minLength": 1 },
            "parameters": {
              "oneOf": [
                { "type": "object" },
                { "type": "array", "items": { "type": "object" } }
              ]
            },
            "steps": {
              "type": "array",
              "items": {
                "type": "object",
                "required": ["action"],
                "properties": {
                  "id": { "type": "string" },
                  "name": { "type": "string" },
                  "action": { "type": "string" },
                  "input": { "type": "object" }
                }
              }
            },
            "output": { "type": "object" }
          }
        }
      }
    }
  ]
}"#;

#[test]
fn kind_schema_accepts_a_template_that_fails_without_it() {
    let dir = scratch();
    write(dir.path(), "template.yaml", TEMPLATE);
    write(dir.path(), "Template.v1beta3.schema.json", TEMPLATE_SCHEMA);

    let run = backstage(dir.path(), &["validate", "template.yaml"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "template.yaml:2:1: template:default/react-app: No processor recognized the entity template:default/react-app as valid, possibly caused by a foreign kind or apiVersion\n"
    );

    let run = backstage(
        dir.path(),
        &[
            "validate",
            "--kind-schema",
            "Template.v1beta3.schema.json",
            "template.yaml",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // The schema's own rules apply, and the built-in kinds still work.
    write(
        dir.path(),
        "more.yaml",
        &format!(
            "{}---\n{VALID_COMPONENT}",
            TEMPLATE.replace("action: fetch:template", "actio: typo")
        ),
    );
    let run = backstage(
        dir.path(),
        &[
            "validate",
            "--kind-schema",
            "Template.v1beta3.schema.json",
            "more.yaml",
        ],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "more.yaml:16:7: template:default/react-app: /spec/steps/0 must have required property 'action' - missingProperty: action\n"
    );
}

#[test]
fn kind_schema_files_may_be_yaml_and_bad_ones_exit_2() {
    let dir = scratch();
    write(dir.path(), "template.yaml", TEMPLATE);
    // YAML is a superset of JSON: the same schema under a .yaml name.
    write(dir.path(), "template.schema.yaml", TEMPLATE_SCHEMA);
    let run = backstage(
        dir.path(),
        &[
            "validate",
            "--kind-schema",
            "template.schema.yaml",
            "template.yaml",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    write(dir.path(), "broken.json", "{");
    let run = backstage(
        dir.path(),
        &["validate", "--kind-schema", "broken.json", "template.yaml"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("--kind-schema broken.json: invalid JSON"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");

    write(dir.path(), "uncompilable.json", r#"{"type": 42}"#);
    let run = backstage(
        dir.path(),
        &[
            "validate",
            "--kind-schema",
            "uncompilable.json",
            "template.yaml",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);

    let run = backstage(
        dir.path(),
        &["validate", "--kind-schema", "missing.json", "template.yaml"],
    );
    assert_eq!(run.code, 2);
}

#[test]
fn alpha_accepts_mcp_server_apis_and_ai_resources() {
    let dir = scratch();
    write(
        dir.path(),
        "alpha.yaml",
        "\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: mcp-actions
spec:
  type: mcp-server
  lifecycle: experimental
  owner: platform-team
  remotes:
    - type: streamable-http
      url: https://backstage.example.com/api/mcp-actions/v1
---
apiVersion: backstage.io/v1alpha1
kind: AiResource
metadata:
  name: code-review
spec:
  type: skill
  lifecycle: production
  owner: platform-team
",
    );
    let run = backstage(dir.path(), &["validate", "alpha.yaml"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.lines().len(), 2, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("must have required property 'definition'"),
        "{}",
        run.stdout
    );

    let run = backstage(dir.path(), &["validate", "--alpha", "alpha.yaml"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // Classic APIs are still validated by the classic schema.
    let run = backstage(
        dir.path(),
        &[
            "validate",
            "--alpha",
            &demo_catalog().join("apis.yaml").to_string_lossy(),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn an_empty_file_has_no_documents_and_passes() {
    let dir = scratch();
    write(dir.path(), "empty.yaml", "");
    write(dir.path(), "comments.yaml", "# nothing here yet\n---\n");
    let run = backstage(dir.path(), &["validate", "empty.yaml", "comments.yaml"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr.trim_end(),
        "0 documents in 2 files: 0 valid, 0 invalid"
    );
}

#[test]
fn quiet_prints_only_problems() {
    let dir = scratch();
    write(dir.path(), "broken.yaml", DUPLICATE_KEY);
    let run = backstage(dir.path(), &["validate", "-q", "broken.yaml"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "");
    assert_eq!(run.lines().len(), 1);
}

#[test]
fn non_entity_documents_and_invalid_utf8_are_problems_not_crashes() {
    let dir = scratch();
    write(
        dir.path(),
        "list.yaml",
        "- a\n- b\n---\njust a string\n---\n42\n",
    );
    fs::write(dir.path().join("latin1.yaml"), b"kind: Caf\xe9\n").expect("write");
    let run = backstage(dir.path(), &["validate", "."]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = run.lines();
    assert_eq!(lines.len(), 6, "{}", run.stdout);
    assert_eq!(
        lines[0],
        "./latin1.yaml:1:1: -: Malformed envelope, <root> must have required property 'apiVersion'"
    );
    // Invalid UTF-8 is replaced, as Node's Buffer.toString() does.
    assert!(lines[2].contains("found \"Caf\u{FFFD}\""), "{}", lines[2]);
    assert_eq!(
        lines[3..],
        [
            "./list.yaml:1:1: -: expected object at root, got object",
            "./list.yaml:4:1: -: expected object at root, got string",
            "./list.yaml:6:1: -: expected object at root, got number",
        ]
    );
    assert!(
        run.stderr
            .contains("4 documents in 2 files: 0 valid, 4 invalid"),
        "{}",
        run.stderr
    );
}

#[test]
fn version_and_help_describe_the_tool() {
    let cwd = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = backstage(cwd, &["--version"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.trim_end(),
        format!("backstage {}", env!("CARGO_PKG_VERSION"))
    );

    let run = backstage(cwd, &["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("validate"), "{}", run.stdout);

    let run = backstage(cwd, &["validate", "--help"]);
    assert_eq!(run.code, 0);
    for needle in [
        "node_modules",
        "--kind-schema",
        "--alpha",
        "--format",
        "Exit codes",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle} missing from:\n{}",
            run.stdout
        );
    }

    // Usage errors are clap's: exit code 2.
    assert_eq!(backstage(cwd, &["validate"]).code, 2);
    assert_eq!(
        backstage(cwd, &["validate", "--format", "xml", "x.yaml"]).code,
        2
    );
}
