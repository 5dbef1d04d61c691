//! The JSON predicate language (spec 2.3, `@backstage/filter-predicates`) and the compiled
//! [`Predicate`] every filter form (legacy `filter`, predicates, old cursor filters) turns into.

use serde_json::{Map, Value, json};

use crate::error::{CatalogError, Result};
use crate::search::js_string;

/// A compiled entity filter over the search rows (spec 2.1): keys and values are already
/// lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// Every sub-predicate holds (`$all`; an empty list is true).
    All(Vec<Predicate>),
    /// Some sub-predicate holds (`$any`; an empty list is false).
    Any(Vec<Predicate>),
    /// The sub-predicate does not hold.
    Not(Box<Predicate>),
    /// Some row with this key exists (null and over-long values included), or none does.
    Exists {
        /// Lower-cased key.
        key: String,
        /// `true` for existence, `false` for absence.
        exists: bool,
    },
    /// Some row with this key has one of these (lower-cased) values; an empty list matches
    /// nothing.
    In {
        /// Lower-cased key.
        key: String,
        /// Lower-cased values.
        values: Vec<String>,
    },
    /// Some row with this key has a value starting with the (lower-cased) prefix, matched
    /// literally.
    HasPrefix {
        /// Lower-cased key.
        key: String,
        /// Lower-cased prefix.
        prefix: String,
    },
}

impl Predicate {
    /// The predicate that matches everything.
    pub fn always() -> Self {
        Self::All(Vec::new())
    }

    /// `{key: value}`: equality on one value.
    pub fn equals(key: &str, value: &str) -> Self {
        Self::In {
            key: key.to_lowercase(),
            values: vec![value.to_lowercase()],
        }
    }

    /// ANDs two optional predicates.
    pub fn and(a: Option<Predicate>, b: Option<Predicate>) -> Option<Predicate> {
        match (a, b) {
            (None, None) => None,
            (Some(p), None) | (None, Some(p)) => Some(p),
            (Some(a), Some(b)) => Some(Self::All(vec![a, b])),
        }
    }

    /// Parses a JSON predicate (spec 2.3).
    ///
    /// # Errors
    /// [`CatalogError::Input`]: `Query must be an object` for a top-level primitive or array,
    /// `Invalid query: <details>` for anything else that does not fit the grammar.
    pub fn parse(value: &Value) -> Result<Self> {
        if !value.is_object() {
            return Err(CatalogError::Input("Query must be an object".into()));
        }
        parse_predicate(value, "")
            .map_err(|detail| CatalogError::Input(format!("Invalid query: {detail}")))
    }

    /// The predicate as JSON in the predicate language, such that
    /// `Predicate::parse(&p.to_json()) == p` (used to store filters in cursors).
    pub fn to_json(&self) -> Value {
        match self {
            Self::All(items) => {
                json!({"$all": items.iter().map(Self::to_json).collect::<Vec<_>>()})
            }
            Self::Any(items) => {
                json!({"$any": items.iter().map(Self::to_json).collect::<Vec<_>>()})
            }
            Self::Not(inner) => json!({"$not": inner.to_json()}),
            Self::Exists { key, exists } => single(key, json!({"$exists": exists})),
            Self::In { key, values } if values.len() == 1 => {
                single(key, Value::String(values[0].clone()))
            }
            Self::In { key, values } => single(key, json!({"$in": values})),
            Self::HasPrefix { key, prefix } => single(key, json!({"$hasPrefix": prefix})),
        }
    }
}

fn single(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at \"{path}\"")
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}.{segment}")
    }
}

type Detail = String;

fn parse_predicate(value: &Value, path: &str) -> std::result::Result<Predicate, Detail> {
    let Value::Object(map) = value else {
        return Err(format!(
            "top-level primitive values are not supported, expected an object{}",
            at(path)
        ));
    };
    let logical = ["$all", "$any", "$not"];
    if let Some(op) = logical.iter().find(|op| map.contains_key(**op)) {
        if map.len() != 1 {
            return Err(format!(
                "{op} must be the only key of its object{}",
                at(path)
            ));
        }
        let inner = &map[*op];
        let inner_path = join(path, op);
        return match *op {
            "$not" => Ok(Predicate::Not(Box::new(parse_predicate(
                inner,
                &inner_path,
            )?))),
            _ => {
                let Value::Array(items) = inner else {
                    return Err(format!("expected an array{}", at(&inner_path)));
                };
                let parsed = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_predicate(item, &join(&inner_path, &i.to_string())))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(if *op == "$all" {
                    Predicate::All(parsed)
                } else {
                    Predicate::Any(parsed)
                })
            }
        };
    }
    let mut conditions = Vec::with_capacity(map.len());
    for (key, value) in map {
        if key.starts_with('$') {
            return Err(format!("unknown operator \"{key}\"{}", at(path)));
        }
        conditions.push(parse_field(&key.to_lowercase(), value, &join(path, key))?);
    }
    Ok(if conditions.len() == 1 {
        conditions.remove(0)
    } else {
        Predicate::All(conditions)
    })
}

fn primitive(value: &Value) -> Option<String> {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            Some(js_string(value).to_lowercase())
        }
        _ => None,
    }
}

fn parse_field(key: &str, value: &Value, path: &str) -> std::result::Result<Predicate, Detail> {
    if let Some(v) = primitive(value) {
        return Ok(Predicate::In {
            key: key.to_owned(),
            values: vec![v],
        });
    }
    let invalid = || {
        format!(
            "expected a primitive value, $exists, $in, $hasPrefix or $contains{}, but got {value}",
            at(path)
        )
    };
    let Value::Object(map) = value else {
        return Err(invalid());
    };
    if map.len() != 1 {
        return Err(invalid());
    }
    let (op, arg) = map.iter().next().ok_or_else(invalid)?;
    match op.as_str() {
        "$exists" => match arg {
            Value::Bool(exists) => Ok(Predicate::Exists {
                key: key.to_owned(),
                exists: *exists,
            }),
            _ => Err(format!("expected a boolean{}", at(&join(path, "$exists")))),
        },
        "$in" => {
            let Value::Array(items) = arg else {
                return Err(format!("expected an array{}", at(&join(path, "$in"))));
            };
            let values = items
                .iter()
                .map(|item| {
                    primitive(item).ok_or_else(|| {
                        format!(
                            "expected a string, number or boolean{}",
                            at(&join(path, "$in"))
                        )
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(Predicate::In {
                key: key.to_owned(),
                values,
            })
        }
        "$hasPrefix" => match arg {
            Value::String(prefix) => Ok(Predicate::HasPrefix {
                key: key.to_owned(),
                prefix: prefix.to_lowercase(),
            }),
            _ => Err(format!(
                "expected a string{}",
                at(&join(path, "$hasPrefix"))
            )),
        },
        "$contains" => parse_contains(key, arg, &join(path, "$contains")),
        _ => Err(invalid()),
    }
}

fn parse_contains(key: &str, arg: &Value, path: &str) -> std::result::Result<Predicate, Detail> {
    if let Some(v) = primitive(arg) {
        return Ok(Predicate::In {
            key: key.to_owned(),
            values: vec![v],
        });
    }
    let Value::Object(map) = arg else {
        return Err(format!(
            "expected a primitive value or an object{}",
            at(path)
        ));
    };
    if key != "relations" {
        return Err(format!(
            "$contains with an object is only supported on \"relations\"{}",
            at(path)
        ));
    }
    if let Some(other) = map.keys().find(|k| *k != "type" && *k != "targetRef") {
        return Err(format!(
            "unsupported key \"{other}\" in relations $contains, expected type and targetRef{}",
            at(path)
        ));
    }
    let Some(Value::String(kind)) = map.get("type") else {
        return Err(format!(
            "relations $contains requires a string \"type\"{}",
            at(path)
        ));
    };
    let key = format!("relations.{}", kind.to_lowercase());
    match map.get("targetRef") {
        None => Ok(Predicate::Exists { key, exists: true }),
        Some(Value::String(target)) => Ok(Predicate::In {
            key,
            values: vec![target.to_lowercase()],
        }),
        Some(Value::Object(target)) => match target.get("$in") {
            Some(Value::Array(items)) if target.len() == 1 && !items.is_empty() => {
                let values = items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s.to_lowercase()),
                        _ => Err(format!("expected strings in targetRef $in{}", at(path))),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(Predicate::In { key, values })
            }
            _ => Err(format!(
                "targetRef must be a string or {{\"$in\": [...]}} with at least one ref{}",
                at(path)
            )),
        },
        Some(_) => Err(format!(
            "targetRef must be a string or {{\"$in\": [...]}} with at least one ref{}",
            at(path)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: Value) -> Predicate {
        Predicate::parse(&v).unwrap()
    }

    fn err(v: Value) -> String {
        Predicate::parse(&v).unwrap_err().to_string()
    }

    #[test]
    fn expressions_lower_case_keys_and_values() {
        assert_eq!(
            p(json!({"Kind": "Component"})),
            Predicate::equals("kind", "component")
        );
        assert_eq!(
            p(json!({"kind": "a", "spec.replicas": 3})),
            Predicate::All(vec![
                Predicate::equals("kind", "a"),
                Predicate::equals("spec.replicas", "3")
            ])
        );
        assert_eq!(p(json!({})), Predicate::All(vec![]));
        assert_eq!(p(json!({"x": true})), Predicate::equals("x", "true"));
    }

    #[test]
    fn operators() {
        assert_eq!(
            p(json!({"a": {"$exists": false}})),
            Predicate::Exists {
                key: "a".into(),
                exists: false
            }
        );
        assert_eq!(
            p(json!({"a": {"$in": ["X", 1, false]}})),
            Predicate::In {
                key: "a".into(),
                values: vec!["x".into(), "1".into(), "false".into()]
            }
        );
        assert_eq!(
            p(json!({"a": {"$hasPrefix": "Ab_"}})),
            Predicate::HasPrefix {
                key: "a".into(),
                prefix: "ab_".into()
            }
        );
        assert_eq!(
            p(json!({"metadata.tags": {"$contains": "Java"}})),
            Predicate::equals("metadata.tags", "java")
        );
        assert_eq!(
            p(json!({"$not": {"$any": [{"a": "b"}, {"$all": []}]}})),
            Predicate::Not(Box::new(Predicate::Any(vec![
                Predicate::equals("a", "b"),
                Predicate::All(vec![])
            ])))
        );
    }

    #[test]
    fn relations_contains() {
        assert_eq!(
            p(
                json!({"relations": {"$contains": {"type": "ownedBy", "targetRef": "Group:default/A"}}})
            ),
            Predicate::equals("relations.ownedby", "group:default/a")
        );
        assert_eq!(
            p(json!({"Relations": {"$contains": {"type": "ownedBy"}}})),
            Predicate::Exists {
                key: "relations.ownedby".into(),
                exists: true
            }
        );
        assert_eq!(
            p(json!({"relations": {"$contains": {"type": "t", "targetRef": {"$in": ["a", "B"]}}}})),
            Predicate::In {
                key: "relations.t".into(),
                values: vec!["a".into(), "b".into()]
            }
        );
        assert!(
            err(json!({"relations": {"$contains": {"type": "t", "other": 1}}}))
                .starts_with("Invalid query: unsupported key \"other\"")
        );
        assert!(
            err(json!({"relations": {"$contains": {"type": "t", "targetRef": {"$in": []}}}}))
                .starts_with("Invalid query: targetRef must be")
        );
        assert!(
            err(json!({"spec.x": {"$contains": {"a": 1}}}))
                .starts_with("Invalid query: $contains with an object")
        );
    }

    #[test]
    fn errors() {
        assert_eq!(err(json!("kind")), "Query must be an object");
        assert_eq!(err(json!([{"kind": "a"}])), "Query must be an object");
        assert!(
            err(json!({"$all": [{"a": 1}], "b": 2}))
                .starts_with("Invalid query: $all must be the only key")
        );
        assert!(
            err(json!({"$all": {"a": 1}}))
                .starts_with("Invalid query: expected an array at \"$all\"")
        );
        assert!(err(json!({"$foo": 1})).starts_with("Invalid query: unknown operator \"$foo\""));
        assert!(
            err(json!({"a": {"$exists": "yes"}})).starts_with("Invalid query: expected a boolean")
        );
        assert!(
            err(json!({"a": {"$in": [{"x": 1}]}}))
                .starts_with("Invalid query: expected a string, number or boolean")
        );
        assert!(err(json!({"a": null})).starts_with("Invalid query: expected a primitive value"));
        assert!(
            err(json!({"$any": ["kind"]}))
                .starts_with("Invalid query: top-level primitive values are not supported")
        );
    }

    #[test]
    fn json_round_trip() {
        let original = p(json!({"$any": [
            {"kind": "component", "spec.type": {"$in": ["a", "b"]}},
            {"$not": {"x": {"$exists": true}}},
            {"y": {"$hasPrefix": "p"}},
            {"z": {"$in": []}},
        ]}));
        assert_eq!(Predicate::parse(&original.to_json()).unwrap(), original);
    }
}
