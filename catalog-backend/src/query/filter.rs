//! The legacy `filter` query parameter (spec 2.2) and the legacy `EntityFilter` shape
//! (`{key, values}`, `{allOf}`, `{anyOf}`, `{not}`) found in old cursors.

use serde_json::Value;

use super::Predicate;
use crate::error::{CatalogError, Result};

/// Parses the values of every `filter` query parameter: sets are OR-ed, conditions in a set
/// AND-ed. `None` when no non-empty set was given.
///
/// # Errors
/// [`CatalogError::Input`] for a statement with an empty key (`Invalid filter, '<stmt>' is
/// not a valid statement (expected a string on the form a=b or a= or a)`).
pub fn parse_filter_params<S: AsRef<str>>(values: &[S]) -> Result<Option<Predicate>> {
    let mut sets = Vec::new();
    for value in values {
        if let Some(set) = parse_filter_string(value.as_ref())? {
            sets.push(set);
        }
    }
    Ok(match sets.len() {
        0 => None,
        1 => sets.pop(),
        _ => Some(Predicate::Any(sets)),
    })
}

/// Parses one filter set such as `kind=component,spec.type=service,metadata.tags.java`.
/// `None` when the set has no statements.
///
/// # Errors
/// See [`parse_filter_params`].
pub fn parse_filter_string(filter: &str) -> Result<Option<Predicate>> {
    // (key as written, values); Backstage groups by the key as written.
    let mut by_key: Vec<(&str, Vec<&str>)> = Vec::new();
    for statement in filter.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = match statement.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (statement, None),
        };
        if key.is_empty() {
            return Err(CatalogError::Input(format!(
                "Invalid filter, '{statement}' is not a valid statement (expected a string on the form a=b or a= or a)"
            )));
        }
        let index = match by_key.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                by_key.push((key, Vec::new()));
                by_key.len() - 1
            }
        };
        if let Some(value) = value {
            by_key[index].1.push(value);
        }
    }
    let mut conditions: Vec<Predicate> = by_key
        .into_iter()
        .map(|(key, values)| {
            let key = key.to_lowercase();
            if values.is_empty() {
                Predicate::Exists { key, exists: true }
            } else {
                Predicate::In {
                    key,
                    values: values.into_iter().map(str::to_lowercase).collect(),
                }
            }
        })
        .collect();
    Ok(match conditions.len() {
        0 => None,
        1 => conditions.pop(),
        _ => Some(Predicate::All(conditions)),
    })
}

/// Converts the legacy `EntityFilter` JSON shape of old cursors into a predicate.
///
/// # Errors
/// A description of what does not fit the shape.
pub fn parse_legacy_entity_filter(value: &Value) -> std::result::Result<Predicate, String> {
    let Value::Object(map) = value else {
        return Err("filter must be an object".into());
    };
    if let Some(Value::String(key)) = map.get("key") {
        return match map.get("values") {
            None | Some(Value::Null) => Ok(Predicate::Exists {
                key: key.to_lowercase(),
                exists: true,
            }),
            Some(Value::Array(values)) => {
                let values = values
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_lowercase)
                            .ok_or("filter values must be strings")
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(Predicate::In {
                    key: key.to_lowercase(),
                    values,
                })
            }
            Some(_) => Err("filter values must be an array".into()),
        };
    }
    if let Some(inner) = map.get("not") {
        return Ok(Predicate::Not(Box::new(parse_legacy_entity_filter(inner)?)));
    }
    for (name, all) in [("allOf", true), ("anyOf", false)] {
        if let Some(items) = map.get(name) {
            let Value::Array(items) = items else {
                return Err(format!("filter {name} must be an array"));
            };
            let parsed = items
                .iter()
                .map(parse_legacy_entity_filter)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            return Ok(if all {
                Predicate::All(parsed)
            } else {
                Predicate::Any(parsed)
            });
        }
    }
    Err("filter must have key, not, allOf or anyOf".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(k: &str, v: &str) -> Predicate {
        Predicate::equals(k, v)
    }

    #[test]
    fn sets_conditions_and_repeated_keys() {
        assert_eq!(parse_filter_params::<&str>(&[]).unwrap(), None);
        assert_eq!(
            parse_filter_params(&["kind=Component"]).unwrap(),
            Some(eq("kind", "component"))
        );
        assert_eq!(
            parse_filter_params(&["kind=component, spec.type = service"]).unwrap(),
            Some(Predicate::All(vec![
                eq("kind", "component"),
                eq("spec.type", "service")
            ]))
        );
        assert_eq!(
            parse_filter_params(&["kind=user", "kind=group"]).unwrap(),
            Some(Predicate::Any(vec![
                eq("kind", "user"),
                eq("kind", "group")
            ]))
        );
        assert_eq!(
            parse_filter_params(&["kind=component,kind=API,kind"]).unwrap(),
            Some(Predicate::In {
                key: "kind".into(),
                values: vec!["component".into(), "api".into()]
            })
        );
        assert_eq!(
            parse_filter_params(&["metadata.tags.java"]).unwrap(),
            Some(Predicate::Exists {
                key: "metadata.tags.java".into(),
                exists: true
            })
        );
        assert_eq!(parse_filter_params(&["a="]).unwrap(), Some(eq("a", "")));
        // Split at the first '='.
        assert_eq!(
            parse_filter_params(&["a=b=c"]).unwrap(),
            Some(eq("a", "b=c"))
        );
        // Empty sets are ignored.
        assert_eq!(
            parse_filter_params(&[" , ", "kind=api"]).unwrap(),
            Some(eq("kind", "api"))
        );
        assert_eq!(parse_filter_params(&[","]).unwrap(), None);
    }

    #[test]
    fn empty_key_is_rejected() {
        let err = parse_filter_params(&["kind=a,=b"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid filter, '=b' is not a valid statement (expected a string on the form a=b or a= or a)"
        );
    }

    #[test]
    fn legacy_cursor_filters() {
        let f = json!({"anyOf": [
            {"allOf": [{"key": "Kind", "values": ["Component"]}, {"key": "spec.type"}]},
            {"not": {"key": "a", "values": []}},
        ]});
        assert_eq!(
            parse_legacy_entity_filter(&f).unwrap(),
            Predicate::Any(vec![
                Predicate::All(vec![
                    eq("kind", "component"),
                    Predicate::Exists {
                        key: "spec.type".into(),
                        exists: true
                    }
                ]),
                Predicate::Not(Box::new(Predicate::In {
                    key: "a".into(),
                    values: vec![]
                })),
            ])
        );
        assert!(parse_legacy_entity_filter(&json!({"foo": 1})).is_err());
        assert!(parse_legacy_entity_filter(&json!({"key": "a", "values": [1]})).is_err());
    }
}
