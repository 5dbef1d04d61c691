//! Self-contained schemas for editors (YAML language servers, IDE plugins).
//!
//! Backstage's schemas reference each other by bare ids (`Entity`, `common#relation`), which
//! editors cannot resolve. These bundles inline every referenced document under
//! `definitions` and rewrite the references to local JSON Pointers.

use serde_json::{Map, Value, json};

use super::sources;

/// A bundled schema ready to be written to a file.
#[derive(Debug, Clone, PartialEq)]
pub struct EditorSchema {
    /// Suggested file name, e.g. `Component.schema.json`.
    pub file_name: String,
    /// The self-contained draft-07 schema.
    pub schema: Value,
}

const SHARED: &[(&str, &str)] = &[
    ("Entity", sources::ENTITY),
    ("EntityMeta", sources::ENTITY_META),
    ("common", sources::COMMON),
];

/// (file stem, source, kind, spec.type discriminator)
const KINDS: &[(&str, &str, &str, Option<&str>)] = &[
    ("Component", sources::COMPONENT, "Component", None),
    ("API", sources::API, "API", None),
    (
        "API.mcp-server",
        sources::API_MCP_SERVER,
        "API",
        Some("mcp-server"),
    ),
    ("Resource", sources::RESOURCE, "Resource", None),
    ("System", sources::SYSTEM, "System", None),
    ("Domain", sources::DOMAIN, "Domain", None),
    ("Group", sources::GROUP, "Group", None),
    ("User", sources::USER, "User", None),
    ("Location", sources::LOCATION, "Location", None),
    ("AiResource", sources::AI_RESOURCE, "AiResource", None),
    (
        "AiResource.skill",
        sources::AI_RESOURCE_SKILL,
        "AiResource",
        Some("skill"),
    ),
    (
        "AiResource.rule",
        sources::AI_RESOURCE_RULE,
        "AiResource",
        Some("rule"),
    ),
    (
        "AiResource.plugin",
        sources::AI_RESOURCE_PLUGIN,
        "AiResource",
        Some("plugin"),
    ),
    (
        "AiResource.marketplace",
        sources::AI_RESOURCE_MARKETPLACE,
        "AiResource",
        Some("marketplace"),
    ),
];

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Where an id lives in the bundle.
fn local_pointer(reference: &str, base: &str) -> String {
    let (doc, frag) = match reference.split_once('#') {
        Some(("", frag)) => (base, frag),
        Some((doc, frag)) => (doc, frag),
        None => (reference, ""),
    };
    let mut p = format!("#/definitions/{doc}");
    if doc == "common" && !frag.is_empty() && !frag.starts_with('/') {
        p.push_str("/definitions/");
        p.push_str(frag);
    } else {
        p.push_str(frag);
    }
    p
}

/// Copies a schema document, dropping `$id`/`$schema` and rewriting `$ref`s to the bundle.
fn rewrite(v: &Value, base: &str) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, child) in map {
                match k.as_str() {
                    "$id" | "$schema" => {}
                    "$ref" => {
                        let r = child.as_str().unwrap_or_default();
                        out.insert(k.clone(), Value::String(local_pointer(r, base)));
                    }
                    "enum" | "const" | "default" | "examples" => {
                        out.insert(k.clone(), child.clone());
                    }
                    _ => {
                        out.insert(k.clone(), rewrite(child, base));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| rewrite(i, base)).collect()),
        other => other.clone(),
    }
}

fn shared_definitions() -> Map<String, Value> {
    SHARED
        .iter()
        .map(|(id, text)| ((*id).to_owned(), rewrite(&parse(text), id)))
        .collect()
}

fn bundle(title: &str, root: Value, extra: Map<String, Value>) -> Value {
    let mut definitions = shared_definitions();
    definitions.extend(extra);
    let mut out = Map::new();
    out.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    out.insert("title".into(), json!(title));
    if let Value::Object(root) = root {
        out.extend(root);
    }
    out.insert("definitions".into(), Value::Object(definitions));
    Value::Object(out)
}

/// One self-contained schema per built-in kind (and variant), plus `catalog-info.schema.json`
/// which accepts any built-in kind and picks the kind's schema by `kind` (and `spec.type`
/// for the API and AiResource variants).
///
/// ```
/// let schemas = backstage_catalog_model::schema::editor_schemas();
/// let all = schemas.iter().find(|s| s.file_name == "catalog-info.schema.json").unwrap();
/// assert!(all.schema["definitions"]["Component"].is_object());
/// ```
pub fn editor_schemas() -> Vec<EditorSchema> {
    let mut out = Vec::new();
    let mut kind_defs = Map::new();
    for (stem, text, _, _) in KINDS {
        let schema = rewrite(&parse(text), stem);
        out.push(EditorSchema {
            file_name: format!("{stem}.schema.json"),
            schema: bundle(
                &format!("Backstage {stem} entity"),
                schema.clone(),
                Map::new(),
            ),
        });
        kind_defs.insert((*stem).to_owned(), schema);
    }
    // The combined schema: the envelope, then a kind switch.
    let mut branches = Vec::new();
    for kind in [
        "Component",
        "API",
        "Resource",
        "System",
        "Domain",
        "Group",
        "User",
        "Location",
        "AiResource",
    ] {
        let variants: Vec<_> = KINDS
            .iter()
            .filter(|(_, _, k, t)| *k == kind && t.is_some())
            .collect();
        let mut then = json!({ "$ref": format!("#/definitions/{kind}") });
        for (stem, _, _, spec_type) in variants.iter().rev() {
            then = json!({
                "if": { "properties": { "spec": { "properties": { "type": { "const": spec_type } }, "required": ["type"] } }, "required": ["spec"] },
                "then": { "$ref": format!("#/definitions/{stem}") },
                "else": then,
            });
        }
        branches.push(json!({
            "if": { "properties": { "kind": { "const": kind } }, "required": ["kind"] },
            "then": then,
        }));
    }
    let mut root = Map::new();
    root.insert(
        "description".into(),
        json!("A Backstage catalog entity (catalog-info.yaml document) of any built-in kind."),
    );
    let mut all_of = vec![json!({ "$ref": "#/definitions/Entity" })];
    all_of.extend(branches);
    root.insert("allOf".into(), Value::Array(all_of));
    out.push(EditorSchema {
        file_name: "catalog-info.schema.json".into(),
        schema: bundle("Backstage catalog entity", Value::Object(root), kind_defs),
    });
    out
}
