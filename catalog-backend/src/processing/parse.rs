//! Parsing descriptor files into emitted entities (Backstage's `defaultEntityDataParser`).

use backstage_catalog_model::yaml::{YamlErrorKind, parse_entity_documents};
use serde_json::Value;

use super::error::ProcessorError;
use super::processor::Emitter;
use crate::model::LocationSpec;

/// One result of parsing a descriptor file.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedItem {
    /// A document that is an object: an entity to emit.
    Entity(Value),
    /// A document that could not be used (`InputError`).
    Error(ProcessorError),
}

/// Parses a YAML stream read from `location`: one entity per document; empty and `null`
/// documents are skipped; a document that is not an object gives `InputError: Expected
/// object at root, got <type>`; a syntax error gives `InputError: YAML error at
/// <type>:<target>, <error>` (other documents are still parsed). Invalid UTF-8 is replaced,
/// as Node's `Buffer.toString('utf8')` does.
pub fn parse_entity_yaml(data: &[u8], location: &LocationSpec) -> Vec<ParsedItem> {
    let text = String::from_utf8_lossy(data);
    parse_entity_documents(&text)
        .into_iter()
        .map(|doc| match doc {
            Ok(doc) => ParsedItem::Entity(doc.into_value()),
            Err(e) => match e.kind() {
                YamlErrorKind::NotAnObject { found } => ParsedItem::Error(ProcessorError::input(
                    format!("Expected object at root, got {found}"),
                )),
                _ => ParsedItem::Error(ProcessorError::input(format!(
                    "YAML error at {}, {e}",
                    location.location_ref()
                ))),
            },
        })
        .collect()
}

/// Parses like [`parse_entity_yaml`] and emits the results: entities with
/// [`Emitter::entity`] at `location`, problems with [`Emitter::error`]. Returns the number
/// of errors emitted.
pub fn emit_entity_yaml(emitter: &mut Emitter, data: &[u8], location: &LocationSpec) -> usize {
    let mut errors = 0;
    for item in parse_entity_yaml(data, location) {
        match item {
            ParsedItem::Entity(entity) => emitter.entity(location, entity),
            ParsedItem::Error(e) => {
                errors += 1;
                emitter.error(location, e);
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_become_entities_or_errors() {
        let at = LocationSpec::new("file", "/x.yaml");
        let items = parse_entity_yaml(
            b"kind: A\n---\n# empty\n---\n- 1\n---\n~\n---\na: [\n---\nkind: B\n",
            &at,
        );
        assert_eq!(items.len(), 4, "{items:?}");
        assert!(matches!(&items[0], ParsedItem::Entity(v) if v["kind"] == "A"));
        match &items[1] {
            ParsedItem::Error(e) => assert_eq!(e.message(), "Expected object at root, got object"),
            other => panic!("{other:?}"),
        }
        match &items[2] {
            ParsedItem::Error(e) => {
                assert_eq!(e.name(), "InputError");
                assert!(
                    e.message().starts_with("YAML error at file:/x.yaml, "),
                    "{}",
                    e.message()
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&items[3], ParsedItem::Entity(v) if v["kind"] == "B"));
    }
}
