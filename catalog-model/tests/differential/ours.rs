//! Our verdict for each corpus case, in the same JSON shape as `tests/compat/verdicts.cjs`.

use std::sync::Arc;

use backstage_catalog_model::kinds::{self, KindValidator};
use backstage_catalog_model::location::{
    LocationRef, parse_location_ref_value, stringify_location_ref,
};
use backstage_catalog_model::policy::{
    EntityPolicy, GroupDefaultParentEntityPolicy, default_policies,
};
use backstage_catalog_model::validation::{Validators, common, kubernetes};
use backstage_catalog_model::{
    EntityValidator, Error, RefContext, parse_entity_ref_value, stringify_entity_ref_value,
};
use serde_json::{Value, json};

/// Computes verdicts; holds the validators so they are built once.
pub struct Ours {
    validator: EntityValidator,
    validators: Validators,
}

impl Ours {
    pub fn new() -> Self {
        Self {
            validator: EntityValidator::builder()
                .sort_relation_fields(false)
                .build(),
            validators: Validators::default(),
        }
    }

    /// Our verdict for `case`; `cases` is the whole corpus (for `docRef`).
    pub fn verdict(&self, case: &Value, cases: &[Value]) -> Value {
        let t = case["t"].as_str().unwrap_or("");
        match t {
            "entity" => self.entity(&case["doc"]),
            "kindCheck" => kind_check(
                case["validator"].as_str().unwrap_or(""),
                doc_of(case, cases),
            ),
            "validatorFn" => self.validator_fn(case["fn"].as_str().unwrap_or(""), &case["value"]),
            "parseRef" => parse_ref(&case["input"], case.get("context")),
            "stringifyRef" => match stringify_entity_ref_value(&case["input"]) {
                Ok(s) => json!(s),
                Err(e) => error(&e),
            },
            "parseLocationRef" => match parse_location_ref_value(&case["input"]) {
                Ok(l) => json!({ "type": l.location_type, "target": l.target }),
                Err(e) => error(&e),
            },
            "stringifyLocationRef" => {
                let part = |k: &str| {
                    case["input"]
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                match stringify_location_ref(&LocationRef::new(part("type"), part("target"))) {
                    Ok(s) => json!(s),
                    Err(e) => error(&e),
                }
            }
            "groupParent" => group_parent(case["parent"].as_str().unwrap_or(""), &case["doc"]),
            other => {
                json!({ "harnessError": format!("no Rust counterpart for case type {other}") })
            }
        }
    }

    fn entity(&self, doc: &Value) -> Value {
        let verdict = self.validator.validate(doc.clone());
        // The policy chain alone tells which stage failed.
        let policies = default_policies(Validators::default()).enforce(doc.clone());
        match (verdict, policies) {
            (Ok(out), Ok(Some(p))) if p == out => {
                json!({ "stage": "valid", "output": serde_json::to_string(&out).unwrap_or_default() })
            }
            (Err(Error::UnknownKind { .. }), Ok(Some(_))) => json!({ "stage": "unknown-kind" }),
            (Err(e), Ok(Some(_))) => json!({ "stage": "kind", "message": e.to_string() }),
            (Err(e), Err(p)) if e == p => json!({ "stage": "policy", "message": e.to_string() }),
            (v, p) => json!({
                "harnessError": format!("EntityValidator::validate ({v:?}) and default_policies ({p:?}) disagree")
            }),
        }
    }

    fn validator_fn(&self, name: &str, v: &Value) -> Value {
        let f: fn(&Value) -> bool = match name {
            "k8s.isValidApiVersion" => kubernetes::is_valid_api_version,
            "k8s.isValidKind" => kubernetes::is_valid_kind,
            "k8s.isValidObjectName" => kubernetes::is_valid_object_name,
            "k8s.isValidNamespace" => kubernetes::is_valid_namespace,
            "k8s.isValidLabelKey" => kubernetes::is_valid_label_key,
            "k8s.isValidLabelValue" => kubernetes::is_valid_label_value,
            "k8s.isValidAnnotationKey" => kubernetes::is_valid_annotation_key,
            "k8s.isValidAnnotationValue" => kubernetes::is_valid_annotation_value,
            "common.isValidDnsLabel" => common::is_valid_dns_label,
            "common.isValidDnsSubdomain" => common::is_valid_dns_subdomain,
            "common.isValidUrl" => common::is_valid_url,
            "common.isNonEmptyString" => common::is_non_empty_string,
            "common.isValidString" => common::is_valid_string,
            "common.isValidTag" => common::is_valid_tag,
            "makeValidator.isValidTag" => return json!(self.validators.tag.check(v)),
            other => return json!({ "harnessError": format!("no Rust counterpart for {other}") }),
        };
        json!(f(v))
    }
}

/// A case's document: `doc`, or the `doc` of the case `docRef` points at.
pub fn doc_of<'a>(case: &'a Value, cases: &'a [Value]) -> &'a Value {
    match case.get("docRef").and_then(Value::as_u64) {
        Some(i) => usize::try_from(i)
            .ok()
            .and_then(|i| cases.get(i))
            .map_or(&Value::Null, |c| &c["doc"]),
        None => &case["doc"],
    }
}

fn error(e: &Error) -> Value {
    json!({ "error": e.to_string() })
}

pub fn kind_validator(name: &str) -> Option<Arc<dyn KindValidator>> {
    Some(match name {
        "api" => kinds::api_validator(),
        "component" => kinds::component_validator(),
        "resource" => kinds::resource_validator(),
        "group" => kinds::group_validator(),
        "location" => kinds::location_validator(),
        "user" => kinds::user_validator(),
        "system" => kinds::system_validator(),
        "domain" => kinds::domain_validator(),
        "mcpServerApi" => kinds::mcp_server_api_validator(),
        "aiResource" => kinds::ai_resource_validator(),
        "skillAiResource" => kinds::skill_ai_resource_validator(),
        "ruleAiResource" => kinds::rule_ai_resource_validator(),
        "pluginAiResource" => kinds::plugin_ai_resource_validator(),
        "marketplaceAiResource" => kinds::marketplace_ai_resource_validator(),
        _ => return None,
    })
}

fn kind_check(name: &str, doc: &Value) -> Value {
    let Some(v) = kind_validator(name) else {
        return json!({ "harnessError": format!("no Rust kind validator {name}") });
    };
    match v.check(doc) {
        Ok(b) => json!(b),
        Err(e) => error(&e),
    }
}

fn parse_ref(input: &Value, context: Option<&Value>) -> Value {
    let part = |k: &str| context.and_then(|c| c.get(k)).and_then(Value::as_str);
    let ctx = RefContext {
        default_kind: part("defaultKind"),
        default_namespace: part("defaultNamespace"),
    };
    match parse_entity_ref_value(input, &ctx) {
        Ok(r) => json!({ "kind": r.kind, "namespace": r.namespace, "name": r.name }),
        Err(e) => error(&e),
    }
}

fn group_parent(parent: &str, doc: &Value) -> Value {
    let policy = match GroupDefaultParentEntityPolicy::new(parent) {
        Ok(p) => p,
        Err(e) => return error(&e),
    };
    match policy.enforce(doc.clone()) {
        Ok(Some(out)) => json!({ "output": serde_json::to_string(&out).unwrap_or_default() }),
        Ok(None) => json!({ "harnessError": "GroupDefaultParentEntityPolicy returned no result" }),
        Err(e) => error(&e),
    }
}
