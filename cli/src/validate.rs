//! `backstage validate`: the catalog's entity validation, for CI.
//!
//! Files are found by [`crate::walk`], then read, parsed and validated in parallel (one
//! rayon task per file, sharing one [`EntityValidator`]); each task formats its own output,
//! and the outputs are printed in path order, so the output is deterministic.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use backstage_catalog_model::yaml::{Position, YamlDocument, parse_entity_documents};
use backstage_catalog_model::{EntityValidator, stringify_entity_ref_value};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::{Outcome, kinds, report_error, walk};

/// Text appended to `backstage validate --help`.
pub const AFTER_HELP: &str = "\
Files and directories:
  A file named on the command line is always read, whatever its name or extension.
  Directories are walked recursively for *.yaml and *.yml files; hidden files and
  directories (names starting with '.', such as .git and .github) and node_modules
  directories are skipped, and symbolic links to directories are not followed.
  Files are reported in path order.

Output:
  text (default): one line per problem on stdout,
      FILE:LINE:COLUMN: ENTITY-REF: MESSAGE
    where LINE:COLUMN locates the offending value (the key that holds it when there is
    one; for a missing property, the key of its parent) and ENTITY-REF is the canonical
    ref (component:default/petstore) or '-' when it cannot be derived. YAML errors use
    the position reported by the parser and '-' as ref. A summary follows on stderr.
  json: one JSON object per document, one per line, on stdout:
    {\"file\", \"document\" (0-based index in the YAML stream), \"entityRef\" (or null),
     \"valid\", \"errors\": [{\"path\", \"message\", \"line\", \"column\"}]}
    where path is a JSON Pointer into the document as written (\"\" for YAML errors).

Exit codes:
  0  every document is valid (also when there are no documents)
  1  at least one document is invalid or is not valid YAML
  2  usage error, unreadable --kind-schema, or a path that does not exist or cannot be
     read (the other paths are still validated and reported)

Examples:
  backstage validate catalog-info.yaml
  backstage validate --format json . > report.jsonl
  backstage validate --kind-schema Template.v1beta3.schema.json templates/";

/// Options of `backstage validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files or directories to validate.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Also accept the kind described by this JSON Schema (JSON, or YAML), e.g. the
    /// scaffolder's Template (scaffolder.backstage.io/v1beta3). The schema may $ref
    /// `Entity`, `EntityMeta` and `common#...`. Repeatable; tried after the built-in kinds.
    #[arg(long = "kind-schema", value_name = "FILE")]
    pub kind_schemas: Vec<PathBuf>,

    /// Also accept the alpha kinds of catalog-model: API entities with `spec.type:
    /// mcp-server` (validated by the MCP-server schema instead of the classic API schema,
    /// which requires `spec.definition`), and `AiResource` (backstage.io/v1alpha1; the
    /// skill, rule, plugin and marketplace types are checked by their own schemas).
    #[arg(long)]
    pub alpha: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Print only the problems (or the JSON lines), without the summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Output formats of `backstage validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `FILE:LINE:COLUMN: ENTITY-REF: MESSAGE`, one line per problem.
    Text,
    /// One JSON object per document (JSON Lines).
    Json,
}

/// Runs `backstage validate`.
pub fn run(args: &ValidateArgs) -> Outcome {
    let mut extra = Vec::with_capacity(args.kind_schemas.len());
    for path in &args.kind_schemas {
        match kinds::load_kind_schema(path) {
            Ok(validator) => extra.push(validator),
            Err(message) => {
                report_error(message);
                return Outcome::Error;
            }
        }
    }
    let validator = kinds::entity_validator(args.alpha, extra);

    let walk = walk::collect_files(&args.paths);
    let mut io_errors = walk.errors.len();
    for error in &walk.errors {
        report_error(error);
    }

    let reports: Vec<FileReport> = walk
        .files
        .par_iter()
        .map(|path| check_file(path, &validator, args.format))
        .collect();

    let mut totals = Totals::default();
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let mut stdout_open = true;
    for report in &reports {
        match &report.result {
            Ok(checked) => {
                totals.files += 1;
                totals.documents += checked.documents;
                totals.invalid += checked.invalid;
                if stdout_open && !checked.output.is_empty() {
                    // A closed pipe (`| head`) stops the output, not the exit code.
                    stdout_open = stdout.write_all(checked.output.as_bytes()).is_ok();
                }
            }
            Err(error) => {
                io_errors += 1;
                report_error(format_args!(
                    "cannot read {}: {error}",
                    report.path.display()
                ));
            }
        }
    }
    // Nothing more to do when stdout is gone.
    let _ = stdout.flush();

    if !args.quiet {
        let mut summary = totals.to_string();
        if totals.invalid > 0 && args.format == Format::Text {
            summary.push_str("\n(use --format json for machine-readable output)");
        }
        let _ = writeln!(io::stderr().lock(), "{summary}");
    }

    if io_errors > 0 {
        Outcome::Error
    } else if totals.invalid > 0 {
        Outcome::Problems
    } else {
        Outcome::Success
    }
}

/// Document and file counts for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    files: usize,
    documents: usize,
    invalid: usize,
}

impl std::fmt::Display for Totals {
    /// `N documents in M files: X valid, Y invalid`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} document{} in {} file{}: {} valid, {} invalid",
            self.documents,
            plural(self.documents),
            self.files,
            plural(self.files),
            self.documents - self.invalid,
            self.invalid
        )
    }
}

/// The outcome of one file.
#[derive(Debug)]
struct FileReport {
    path: PathBuf,
    result: io::Result<CheckedFile>,
}

/// A file that could be read: its counts and its formatted output.
#[derive(Debug, Default)]
struct CheckedFile {
    documents: usize,
    invalid: usize,
    output: String,
}

/// One problem of a document, located in the file.
#[derive(Debug)]
struct Located {
    path: String,
    message: String,
    position: Option<Position>,
}

/// Reads, parses and validates one file, and formats its output.
fn check_file(path: &Path, validator: &EntityValidator, format: Format) -> FileReport {
    let result = fs::read(path).map(|bytes| {
        // Like Node's `Buffer.toString()`, invalid UTF-8 becomes U+FFFD rather than an error.
        let text = String::from_utf8_lossy(&bytes);
        check_text(&path.display().to_string(), &text, validator, format)
    });
    FileReport {
        path: path.to_path_buf(),
        result,
    }
}

/// Parses and validates the documents of one file, and formats its output.
fn check_text(file: &str, text: &str, validator: &EntityValidator, format: Format) -> CheckedFile {
    let mut checked = CheckedFile::default();
    for parsed in parse_entity_documents(text) {
        let (index, entity_ref, errors) = match parsed {
            Ok(document) => {
                let (entity_ref, errors) = check_document(&document, validator);
                (document.index(), entity_ref, errors)
            }
            Err(error) => {
                let located = Located {
                    path: String::new(),
                    message: error.kind().to_string(),
                    position: error.position(),
                };
                (error.document(), None, vec![located])
            }
        };
        checked.documents += 1;
        if !errors.is_empty() {
            checked.invalid += 1;
        }
        match format {
            Format::Text => write_text(&mut checked.output, file, entity_ref.as_deref(), &errors),
            Format::Json => write_json(&mut checked.output, file, index, entity_ref, &errors),
        }
    }
    checked
}

/// Validates one parsed document: its canonical ref (when derivable) and its problems.
fn check_document(
    document: &YamlDocument,
    validator: &EntityValidator,
) -> (Option<String>, Vec<Located>) {
    let value = document.value();
    let entity_ref = entity_ref(value);
    // `problems` answers valid documents with the fast first-problem path, and reports
    // paths into the document as written (relation arrays are not re-ordered).
    let errors = validator
        .problems(value)
        .into_iter()
        .map(|problem| Located {
            position: Some(locate(document, &problem.path)),
            path: problem.path,
            message: problem.message,
        })
        .collect();
    (entity_ref, errors)
}

/// The canonical (lower-case) ref of an entity document, when it has a string `kind`,
/// `metadata.name` and (if present) `metadata.namespace`.
fn entity_ref(value: &Value) -> Option<String> {
    // `stringify_entity_ref_value` reads `{kind, namespace, name}` at the root when there is
    // no `metadata`, which is not an entity ref for a document.
    if !value.get("metadata").is_some_and(Value::is_object) {
        return None;
    }
    stringify_entity_ref_value(value).ok()
}

/// Where to point a problem at: the key holding the deepest existing node on `pointer`
/// (`name:` for `/metadata/name`, `spec:` for a missing `/spec/owner`), or the node itself
/// when it has no key (the document root, a sequence item).
fn locate(document: &YamlDocument, pointer: &str) -> Position {
    document
        .key_position_of(pointer)
        .unwrap_or_else(|| document.position_of(pointer))
}

/// Appends `FILE:LINE:COLUMN: REF: MESSAGE` lines.
fn write_text(out: &mut String, file: &str, entity_ref: Option<&str>, errors: &[Located]) {
    let entity_ref = entity_ref.map_or_else(|| "-".to_owned(), one_line);
    for error in errors {
        // Positions are always known in practice; 1:1 keeps the line format if not.
        let at = error.position.unwrap_or(Position { line: 1, column: 1 });
        let _ = writeln!(
            out,
            "{file}:{at}: {entity_ref}: {}",
            one_line(&error.message)
        );
    }
}

/// Appends one JSON line for a document.
fn write_json(
    out: &mut String,
    file: &str,
    index: usize,
    entity_ref: Option<String>,
    errors: &[Located],
) {
    let errors: Vec<Value> = errors
        .iter()
        .map(|error| {
            json!({
                "path": error.path,
                "message": error.message,
                "line": error.position.map(|p| p.line),
                "column": error.position.map(|p| p.column),
            })
        })
        .collect();
    let line = json!({
        "file": file,
        "document": index,
        "entityRef": entity_ref,
        "valid": errors.is_empty(),
        "errors": errors,
    });
    out.push_str(&line.to_string());
    out.push('\n');
}

/// Escapes control characters (line breaks above all) so one problem stays on one line.
fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// The validator is shared by reference across rayon's threads.
const _: fn() = || {
    fn shared<T: Sync + Send>() {}
    shared::<EntityValidator>();
    shared::<Arc<dyn backstage_catalog_model::kinds::KindValidator>>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(file_text: &str) -> CheckedFile {
        check_text(
            "f.yaml",
            file_text,
            &EntityValidator::default(),
            Format::Text,
        )
    }

    #[test]
    fn problems_point_at_the_key_or_the_parent_key() {
        let checked = text_of(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a b\nspec:\n  type: service\n  owner: x\n",
        );
        assert_eq!((checked.documents, checked.invalid), (1, 1));
        let lines: Vec<&str> = checked.output.lines().collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("f.yaml:4:3: component:default/a b: \"metadata.name\""),
            "{lines:?}"
        );
        assert_eq!(
            lines[1],
            "f.yaml:5:1: component:default/a b: /spec must have required property 'lifecycle' - missingProperty: lifecycle"
        );
    }

    #[test]
    fn yaml_errors_use_their_own_position_and_no_ref() {
        let checked = text_of("a: 1\na: 2\n");
        assert_eq!((checked.documents, checked.invalid), (1, 1));
        assert!(
            checked
                .output
                .starts_with("f.yaml:2:1: -: map keys must be unique"),
            "{}",
            checked.output
        );
    }

    #[test]
    fn documents_without_metadata_have_no_ref() {
        assert_eq!(entity_ref(&json!({"kind": "A", "name": "b"})), None);
        assert_eq!(
            entity_ref(&json!({"kind": "Component", "metadata": {"name": "X", "namespace": "NS"}})),
            Some("component:ns/x".to_owned())
        );
    }

    #[test]
    fn indices_in_relation_fields_point_at_the_written_item() {
        let checked = text_of(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\nspec:\n  type: service\n  lifecycle: production\n  owner: x\n  providesApis: [zeta, \"\", alpha]\n",
        );
        // The catalog validates these arrays sorted; problems point at the item as written.
        assert_eq!(
            checked.output,
            "f.yaml:9:24: component:default/a: /spec/providesApis/1 must NOT have fewer than 1 characters - limit: 1\n"
        );
    }

    #[test]
    fn control_characters_are_escaped_in_text_output() {
        assert_eq!(one_line("a\nb\tc"), "a\\nb\\tc");
        assert_eq!(one_line("plain é"), "plain é");
    }

    #[test]
    fn summary_pluralises() {
        let one = Totals {
            files: 1,
            documents: 1,
            invalid: 0,
        };
        assert_eq!(one.to_string(), "1 document in 1 file: 1 valid, 0 invalid");
        let many = Totals {
            files: 2,
            documents: 5,
            invalid: 2,
        };
        assert_eq!(
            many.to_string(),
            "5 documents in 2 files: 3 valid, 2 invalid"
        );
    }
}
