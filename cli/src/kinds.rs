//! The kind validators `backstage validate` runs: the catalog's built-in ones, the alpha
//! kinds (`--alpha`), and kinds compiled from JSON Schema files (`--kind-schema`).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use backstage_catalog_model::kinds::{self, KindValidator, SchemaKindValidator};
use backstage_catalog_model::schema::SchemaError;
use backstage_catalog_model::yaml::parse_yaml_documents;
use backstage_catalog_model::{EntityValidator, Result};
use serde_json::Value;

/// Routes an entity to a variant validator only when its `spec.type` is exactly
/// `spec_type`, the way Backstage's model layer picks a kind's spec-type variant.
///
/// The library's variant validators (`mcp_server_api_validator`, `skill_ai_resource_validator`,
/// ...) check `spec.type` with `const`/`enum`, which is a hard error rather than a
/// "not my kind" answer: placed in a validator list unguarded, the MCP-server validator would
/// reject every `openapi` API. Behind this gate, entities of other types fall through to
/// the next validator (the classic API validator, or the default AiResource validator).
#[derive(Debug)]
pub struct SpecTypeGate {
    spec_type: &'static str,
    inner: Arc<dyn KindValidator>,
}

impl SpecTypeGate {
    /// Gates `inner` on `spec.type == spec_type`.
    #[must_use]
    pub fn new(spec_type: &'static str, inner: Arc<dyn KindValidator>) -> Self {
        Self { spec_type, inner }
    }

    fn applies(&self, entity: &Value) -> bool {
        entity.pointer("/spec/type").and_then(Value::as_str) == Some(self.spec_type)
    }
}

impl KindValidator for SpecTypeGate {
    fn check(&self, entity: &Value) -> Result<bool> {
        if self.applies(entity) {
            self.inner.check(entity)
        } else {
            Ok(false)
        }
    }

    fn problems(&self, entity: &Value) -> Option<Vec<SchemaError>> {
        if self.applies(entity) {
            self.inner.problems(entity)
        } else {
            None
        }
    }
}

/// The kind validators to run, in order:
///
/// 1. with `alpha`: the MCP-server API variant, for APIs with `spec.type: mcp-server` only;
/// 2. the catalog's eight built-in kinds (API, Component, Resource, Group, Location, User,
///    System, Domain);
/// 3. with `alpha`: the AiResource variants `skill`, `rule`, `plugin` and `marketplace`
///    (each for its own `spec.type`), then the default AiResource validator for any other
///    type (`backstage.io/v1alpha1` only);
/// 4. `extra` (from `--kind-schema`), in the order given. They come last, so they add kinds
///    but cannot replace a built-in one.
#[must_use]
pub fn kind_validators(
    alpha: bool,
    extra: Vec<Arc<dyn KindValidator>>,
) -> Vec<Arc<dyn KindValidator>> {
    let mut list: Vec<Arc<dyn KindValidator>> = Vec::new();
    if alpha {
        list.push(Arc::new(SpecTypeGate::new(
            "mcp-server",
            kinds::mcp_server_api_validator(),
        )));
    }
    list.extend(kinds::builtin_kind_validators());
    if alpha {
        let variants = [
            ("skill", kinds::skill_ai_resource_validator()),
            ("rule", kinds::rule_ai_resource_validator()),
            ("plugin", kinds::plugin_ai_resource_validator()),
            ("marketplace", kinds::marketplace_ai_resource_validator()),
        ];
        for (spec_type, validator) in variants {
            list.push(Arc::new(SpecTypeGate::new(spec_type, validator)));
        }
        list.push(kinds::ai_resource_validator());
    }
    list.extend(extra);
    list
}

/// The catalog's default validator (policy chain and kinds) with the kinds of
/// [`kind_validators`].
#[must_use]
pub fn entity_validator(alpha: bool, extra: Vec<Arc<dyn KindValidator>>) -> EntityValidator {
    EntityValidator::builder()
        .kind_validators(kind_validators(alpha, extra))
        .build()
}

/// Reads a kind's JSON Schema from `path` and compiles it into a kind validator.
///
/// Files ending in `.json` are parsed as JSON; anything else as YAML (a single document),
/// which also accepts JSON. The schema may `$ref` `Entity`, `EntityMeta` and `common#...`,
/// like Backstage's kind schemas.
///
/// # Errors
/// A message naming the file when it cannot be read, parsed or compiled.
pub fn load_kind_schema(path: &Path) -> std::result::Result<Arc<dyn KindValidator>, String> {
    let context = |message: String| format!("--kind-schema {}: {message}", path.display());
    let text = fs::read_to_string(path).map_err(|e| context(e.to_string()))?;
    let is_json = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
    let schema = if is_json {
        serde_json::from_str::<Value>(&text).map_err(|e| context(format!("invalid JSON: {e}")))?
    } else {
        let mut documents = parse_yaml_documents(&text).into_iter();
        match (documents.next(), documents.next()) {
            (Some(Ok(document)), None) => document.into_value(),
            (Some(Err(e)), _) => return Err(context(format!("invalid YAML: {e}"))),
            (None, _) => return Err(context("the file holds no schema".to_owned())),
            (Some(Ok(_)), Some(_)) => {
                return Err(context(
                    "expected one YAML document, found several".to_owned(),
                ));
            }
        }
    };
    let validator = SchemaKindValidator::from_schema(schema).map_err(|e| context(e.to_string()))?;
    Ok(Arc::new(validator))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(spec: Value) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "x"}, "spec": spec})
    }

    #[test]
    fn alpha_accepts_mcp_servers_and_still_accepts_classic_apis() {
        let validator = entity_validator(true, Vec::new());
        let mcp = api(json!({"type": "mcp-server", "lifecycle": "l", "owner": "o",
            "remotes": [{"type": "sse", "url": "https://mcp.example.com"}]}));
        assert_eq!(validator.problems(&mcp), []);
        let openapi =
            api(json!({"type": "openapi", "lifecycle": "l", "owner": "o", "definition": "d"}));
        assert_eq!(validator.problems(&openapi), []);
        let bad_mcp = api(json!({"type": "mcp-server", "lifecycle": "l", "owner": "o"}));
        let problems = validator.problems(&bad_mcp);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("remotes"), "{problems:?}");
    }

    #[test]
    fn the_unguarded_mcp_validator_rejects_classic_apis() {
        // Why `SpecTypeGate` exists: `spec.type` is a `const`, not a soft kind mismatch.
        let openapi =
            api(json!({"type": "openapi", "lifecycle": "l", "owner": "o", "definition": "d"}));
        assert!(kinds::mcp_server_api_validator().check(&openapi).is_err());
        let gated = SpecTypeGate::new("mcp-server", kinds::mcp_server_api_validator());
        assert!(matches!(gated.check(&openapi), Ok(false)));
        assert!(gated.problems(&openapi).is_none());
    }

    #[test]
    fn without_alpha_mcp_servers_need_a_definition() {
        let validator = entity_validator(false, Vec::new());
        let mcp = api(json!({"type": "mcp-server", "lifecycle": "l", "owner": "o",
            "remotes": [{"type": "sse", "url": "u"}]}));
        let problems = validator.problems(&mcp);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("definition"), "{problems:?}");
    }

    #[test]
    fn alpha_routes_ai_resources_to_their_variant() {
        let validator = entity_validator(true, Vec::new());
        let resource = |spec: Value| {
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "AiResource",
                "metadata": {"name": "x"}, "spec": spec})
        };
        let base = json!({"lifecycle": "l", "owner": "o"});
        let with = |extra: Value| {
            let mut spec = base.clone();
            if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
                spec.extend(extra.clone());
            }
            resource(spec)
        };
        assert_eq!(validator.problems(&with(json!({"type": "prompt"}))), []);
        assert_eq!(validator.problems(&with(json!({"type": "skill"}))), []);
        // `rule` requires `category` and `rationale`; the default validator would not.
        assert_eq!(validator.problems(&with(json!({"type": "rule"}))).len(), 2);
        let rule = with(json!({"type": "rule", "category": "c", "rationale": "r"}));
        assert_eq!(validator.problems(&rule), []);
        // Not recognised without --alpha.
        let plain = entity_validator(false, Vec::new());
        assert_eq!(plain.problems(&rule)[0].path, "/kind");
    }
}
