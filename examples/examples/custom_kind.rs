//! Teach the validator a kind that does not live in catalog-model: the scaffolder's
//! `Template`, from a (trimmed) JSON Schema, next to the built-in kinds.
//!
//! Run: `cargo run -p backstage-examples --example custom_kind`

use std::sync::Arc;

use backstage_catalog_model::EntityValidator;
use backstage_catalog_model::kinds::SchemaKindValidator;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Kind schemas may `$ref` Backstage's shared schemas (`Entity`, `EntityMeta`, `common#...`).
    let template = SchemaKindValidator::from_schema(json!({
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
                            "steps": {
                                "type": "array",
                                "items": { "type": "object", "required": ["action"] }
                            }
                        }
                    }
                }
            }
        ]
    }))?;
    let validator = EntityValidator::builder()
        .kind_validator(Arc::new(template))
        .build();

    let good = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": { "name": "new-service" },
        "spec": { "type": "service", "steps": [{ "action": "fetch:template" }] }
    });
    let entity = validator.validate(good)?;
    println!("accepted {}", entity["metadata"]["name"]);

    let bad = json!({
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": { "name": "broken" },
        "spec": { "type": "service", "steps": [{ "name": "no action" }] }
    });
    match validator.validate(bad) {
        Ok(_) => println!("unexpectedly accepted"),
        Err(e) => println!("rejected: {e}"),
    }
    Ok(())
}
