//! Validate a `catalog-info.yaml` with the catalog's rules and print every problem with its
//! line and column, the way `backstage validate` does.
//!
//! Run: `cargo run -p backstage-examples --example validate_entities`
//! (or pass a file: `... --example validate_entities -- path/to/catalog-info.yaml`).

use backstage_catalog_model::yaml::parse_entity_documents;
use backstage_catalog_model::{EntityValidator, stringify_entity_ref_value};

const SAMPLE: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
  tags: [java, Web]
spec:
  type: service
  lifecycle: production
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (name, text) = match std::env::args().nth(1) {
        Some(path) => (path.clone(), std::fs::read_to_string(&path)?),
        None => ("<sample>".to_owned(), SAMPLE.to_owned()),
    };
    let validator = EntityValidator::default();
    let mut invalid = 0;
    for doc in parse_entity_documents(&text) {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                invalid += 1;
                println!("{name}: {e}");
                continue;
            }
        };
        let entity_ref = stringify_entity_ref_value(doc.value()).unwrap_or_else(|_| "-".into());
        let problems = validator.problems(doc.value());
        if problems.is_empty() {
            println!("{name}: {entity_ref}: valid");
        }
        for p in &problems {
            let at = doc.position_of(&p.path);
            println!(
                "{name}:{}:{}: {entity_ref}: {}",
                at.line, at.column, p.message
            );
        }
        invalid += usize::from(!problems.is_empty());
    }
    println!("{invalid} invalid document(s)");
    Ok(())
}
