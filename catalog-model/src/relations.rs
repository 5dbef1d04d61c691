//! Relation types, their pairs, and the relations the built-in kinds emit (the catalog's
//! classic `BuiltinKindsEntityProcessor` rules).

use std::cmp::Ordering;

use serde_json::Value;

use crate::entity_ref::{CompoundEntityRef, RefContext, parse_entity_ref_value};
use crate::error::{Error, Result};

/// `ownedBy`: an entity is owned by a Group or User.
pub const RELATION_OWNED_BY: &str = "ownedBy";
/// `ownerOf`: reverse of [`RELATION_OWNED_BY`].
pub const RELATION_OWNER_OF: &str = "ownerOf";
/// `consumesApi`: a component consumes an API.
pub const RELATION_CONSUMES_API: &str = "consumesApi";
/// `apiConsumedBy`: reverse of [`RELATION_CONSUMES_API`].
pub const RELATION_API_CONSUMED_BY: &str = "apiConsumedBy";
/// `providesApi`: a component provides an API.
pub const RELATION_PROVIDES_API: &str = "providesApi";
/// `apiProvidedBy`: reverse of [`RELATION_PROVIDES_API`].
pub const RELATION_API_PROVIDED_BY: &str = "apiProvidedBy";
/// `dependsOn`: an entity depends on another.
pub const RELATION_DEPENDS_ON: &str = "dependsOn";
/// `dependencyOf`: reverse of [`RELATION_DEPENDS_ON`].
pub const RELATION_DEPENDENCY_OF: &str = "dependencyOf";
/// `parentOf`: a group is the parent of another.
pub const RELATION_PARENT_OF: &str = "parentOf";
/// `childOf`: reverse of [`RELATION_PARENT_OF`].
pub const RELATION_CHILD_OF: &str = "childOf";
/// `memberOf`: a user is a member of a group.
pub const RELATION_MEMBER_OF: &str = "memberOf";
/// `hasMember`: reverse of [`RELATION_MEMBER_OF`].
pub const RELATION_HAS_MEMBER: &str = "hasMember";
/// `partOf`: an entity is part of a system, domain or component.
pub const RELATION_PART_OF: &str = "partOf";
/// `hasPart`: reverse of [`RELATION_PART_OF`].
pub const RELATION_HAS_PART: &str = "hasPart";

/// Every well-known relation type with its reverse.
pub const RELATION_PAIRS: &[(&str, &str)] = &[
    (RELATION_OWNED_BY, RELATION_OWNER_OF),
    (RELATION_OWNER_OF, RELATION_OWNED_BY),
    (RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
    (RELATION_API_CONSUMED_BY, RELATION_CONSUMES_API),
    (RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
    (RELATION_API_PROVIDED_BY, RELATION_PROVIDES_API),
    (RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF),
    (RELATION_DEPENDENCY_OF, RELATION_DEPENDS_ON),
    (RELATION_PARENT_OF, RELATION_CHILD_OF),
    (RELATION_CHILD_OF, RELATION_PARENT_OF),
    (RELATION_MEMBER_OF, RELATION_HAS_MEMBER),
    (RELATION_HAS_MEMBER, RELATION_MEMBER_OF),
    (RELATION_PART_OF, RELATION_HAS_PART),
    (RELATION_HAS_PART, RELATION_PART_OF),
];

/// The reverse of a well-known relation type.
pub fn reverse_relation(relation_type: &str) -> Option<&'static str> {
    RELATION_PAIRS
        .iter()
        .find(|(forward, _)| *forward == relation_type)
        .map(|(_, reverse)| *reverse)
}

/// A declared relation pair of the default model (for documentation and UIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelationPairDeclaration {
    /// Forward type and title.
    pub forward: (&'static str, &'static str),
    /// Reverse type and title.
    pub reverse: (&'static str, &'static str),
    /// Kinds the forward relation starts from.
    pub from_kinds: &'static [&'static str],
    /// Kinds it points to.
    pub to_kinds: &'static [&'static str],
}

/// The relation pairs Backstage's default catalog model declares (spec §9.2).
pub const DEFAULT_MODEL_RELATIONS: &[RelationPairDeclaration] = &[
    RelationPairDeclaration {
        forward: (RELATION_OWNED_BY, "owned by"),
        reverse: (RELATION_OWNER_OF, "owner of"),
        from_kinds: &[
            "API",
            "Component",
            "Domain",
            "Group",
            "Location",
            "Resource",
            "System",
            "User",
        ],
        to_kinds: &["Group", "User"],
    },
    RelationPairDeclaration {
        forward: (RELATION_PROVIDES_API, "provides API"),
        reverse: (RELATION_API_PROVIDED_BY, "API provided by"),
        from_kinds: &["Component"],
        to_kinds: &["API"],
    },
    RelationPairDeclaration {
        forward: (RELATION_CONSUMES_API, "consumes API"),
        reverse: (RELATION_API_CONSUMED_BY, "API consumed by"),
        from_kinds: &["Component"],
        to_kinds: &["API"],
    },
    RelationPairDeclaration {
        forward: (RELATION_DEPENDS_ON, "depends on"),
        reverse: (RELATION_DEPENDENCY_OF, "dependency of"),
        from_kinds: &["Component", "Resource"],
        to_kinds: &["Component", "Resource"],
    },
    RelationPairDeclaration {
        forward: (RELATION_PARENT_OF, "parent of"),
        reverse: (RELATION_CHILD_OF, "child of"),
        from_kinds: &["Group"],
        to_kinds: &["Group"],
    },
    RelationPairDeclaration {
        forward: (RELATION_MEMBER_OF, "member of"),
        reverse: (RELATION_HAS_MEMBER, "has member"),
        from_kinds: &["User"],
        to_kinds: &["Group"],
    },
    RelationPairDeclaration {
        forward: (RELATION_PART_OF, "part of"),
        reverse: (RELATION_HAS_PART, "has part"),
        from_kinds: &["Component", "API", "Resource"],
        to_kinds: &["Component", "System"],
    },
    RelationPairDeclaration {
        forward: (RELATION_PART_OF, "part of"),
        reverse: (RELATION_HAS_PART, "has part"),
        from_kinds: &["System"],
        to_kinds: &["Domain"],
    },
    RelationPairDeclaration {
        forward: (RELATION_PART_OF, "part of"),
        reverse: (RELATION_HAS_PART, "has part"),
        from_kinds: &["Domain"],
        to_kinds: &["Domain"],
    },
];

/// A relation between two entities. Refs keep the case written at emission time; compare
/// or store them through their canonical string (`to_string()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The entity the relation starts from.
    pub source: CompoundEntityRef,
    /// The relation type, e.g. `ownedBy`.
    pub relation_type: &'static str,
    /// The entity it points to.
    pub target: CompoundEntityRef,
}

/// (kind, spec field, default kind for short refs, forward, reverse), in emission order.
const RULES: &[(&str, &str, Option<&str>, &str, &str)] = &[
    (
        "Component",
        "owner",
        Some("Group"),
        RELATION_OWNED_BY,
        RELATION_OWNER_OF,
    ),
    (
        "Component",
        "subcomponentOf",
        Some("Component"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    (
        "Component",
        "providesApis",
        Some("API"),
        RELATION_PROVIDES_API,
        RELATION_API_PROVIDED_BY,
    ),
    (
        "Component",
        "consumesApis",
        Some("API"),
        RELATION_CONSUMES_API,
        RELATION_API_CONSUMED_BY,
    ),
    (
        "Component",
        "dependsOn",
        None,
        RELATION_DEPENDS_ON,
        RELATION_DEPENDENCY_OF,
    ),
    (
        "Component",
        "dependencyOf",
        None,
        RELATION_DEPENDENCY_OF,
        RELATION_DEPENDS_ON,
    ),
    (
        "Component",
        "system",
        Some("System"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    (
        "API",
        "owner",
        Some("Group"),
        RELATION_OWNED_BY,
        RELATION_OWNER_OF,
    ),
    (
        "API",
        "system",
        Some("System"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    (
        "Resource",
        "owner",
        Some("Group"),
        RELATION_OWNED_BY,
        RELATION_OWNER_OF,
    ),
    (
        "Resource",
        "dependsOn",
        None,
        RELATION_DEPENDS_ON,
        RELATION_DEPENDENCY_OF,
    ),
    (
        "Resource",
        "dependencyOf",
        None,
        RELATION_DEPENDENCY_OF,
        RELATION_DEPENDS_ON,
    ),
    (
        "Resource",
        "system",
        Some("System"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    (
        "System",
        "owner",
        Some("Group"),
        RELATION_OWNED_BY,
        RELATION_OWNER_OF,
    ),
    (
        "System",
        "domain",
        Some("Domain"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    (
        "Domain",
        "owner",
        Some("Group"),
        RELATION_OWNED_BY,
        RELATION_OWNER_OF,
    ),
    (
        "Domain",
        "subdomainOf",
        Some("Domain"),
        RELATION_PART_OF,
        RELATION_HAS_PART,
    ),
    (
        "User",
        "memberOf",
        Some("Group"),
        RELATION_MEMBER_OF,
        RELATION_HAS_MEMBER,
    ),
    (
        "Group",
        "parent",
        Some("Group"),
        RELATION_CHILD_OF,
        RELATION_PARENT_OF,
    ),
    (
        "Group",
        "children",
        Some("Group"),
        RELATION_PARENT_OF,
        RELATION_CHILD_OF,
    ),
    (
        "Group",
        "members",
        Some("User"),
        RELATION_HAS_MEMBER,
        RELATION_MEMBER_OF,
    ),
];

/// The relations the catalog's built-in kinds processor emits for an entity: for each ref in
/// a relation field, `self --forward--> target` and `target --reverse--> self`.
///
/// Short refs take the entity's **own** namespace and the field's default kind; `dependsOn`
/// and `dependencyOf` have no default kind. Kind matching is exact (`Component`, not
/// `component`); other kinds (Location included) emit nothing. Array fields are read in the
/// order [`sort_relation_fields`] leaves them; call it first to match the catalog exactly.
///
/// ```
/// use backstage_catalog_model::relations::emit_relations;
/// use serde_json::json;
/// let rels = emit_relations(&json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": { "name": "me", "namespace": "ns1" },
///     "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" }
/// }))?;
/// assert_eq!(rels[0].target.to_string(), "group:ns1/team-a");
/// assert_eq!(rels[1].relation_type, "ownerOf");
/// # Ok::<(), backstage_catalog_model::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidEntityRef`] for a malformed ref in a relation field (e.g. a `dependsOn`
/// entry without a kind); the catalog fails the whole entity in that case.
pub fn emit_relations(entity: &Value) -> Result<Vec<Relation>> {
    let Some(kind) = entity.get("kind").and_then(Value::as_str) else {
        return Ok(Vec::new());
    };
    let namespace = entity
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .unwrap_or(crate::entity::DEFAULT_NAMESPACE);
    let name = entity
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let source = CompoundEntityRef::new(kind, namespace, name);
    let spec = entity.get("spec");
    let mut out = Vec::new();
    for (rule_kind, field, default_kind, forward, reverse) in RULES {
        if *rule_kind != kind {
            continue;
        }
        let Some(value) = spec.and_then(|s| s.get(*field)) else {
            continue;
        };
        if crate::entity_ref::is_falsy(value) {
            continue;
        }
        let context = RefContext {
            default_kind: *default_kind,
            default_namespace: Some(namespace),
        };
        let one = std::slice::from_ref(value);
        let targets = match value {
            Value::Array(items) => items.as_slice(),
            _ => one,
        };
        for target in targets {
            let target = parse_entity_ref_value(target, &context).map_err(|e| match e {
                Error::InvalidEntityRef { message } => Error::InvalidEntityRef { message },
                other => other,
            })?;
            out.push(Relation {
                source: source.clone(),
                relation_type: forward,
                target: target.clone(),
            });
            out.push(Relation {
                source: target,
                relation_type: reverse,
                target: source.clone(),
            });
        }
    }
    Ok(out)
}

/// The spec fields the catalog sorts before validation, for every kind.
pub const SORTED_RELATION_FIELDS: &[&str] = &[
    "providesApis",
    "consumesApis",
    "dependsOn",
    "dependencyOf",
    "memberOf",
    "children",
    "members",
];

/// Sorts, in place, the arrays at [`SORTED_RELATION_FIELDS`] whose elements are all strings,
/// in JavaScript's default order (by UTF-16 code units), as the catalog does before
/// validation.
pub fn sort_relation_fields(entity: &mut Value) {
    let Some(spec) = entity.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, value) in spec.iter_mut() {
        // A `match` compiles to a length switch: cheaper than scanning the list.
        if !matches!(
            field.as_str(),
            "providesApis"
                | "consumesApis"
                | "dependsOn"
                | "dependencyOf"
                | "memberOf"
                | "children"
                | "members"
        ) {
            continue;
        }
        if let Value::Array(items) = value
            && items.iter().all(Value::is_string)
            && !items.is_sorted_by(|a, b| {
                cmp_utf16(a.as_str().unwrap_or(""), b.as_str().unwrap_or("")) != Ordering::Greater
            })
        {
            items.sort_by(|a, b| match (a.as_str(), b.as_str()) {
                (Some(a), Some(b)) => cmp_utf16(a, b),
                _ => Ordering::Equal,
            });
        }
    }
}

/// Compares strings by UTF-16 code units, like JavaScript's default sort.
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order equals UTF-16 order except between U+E000..=U+FFFF (lead bytes EE, EF)
    // and supplementary characters (lead bytes F0..=F4). The first differing byte decides
    // unless it is such a lead byte.
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match x.iter().zip(y).position(|(p, q)| p != q) {
        None => x.len().cmp(&y.len()),
        Some(i) if x[i] < 0xEE && y[i] < 0xEE => x[i].cmp(&y[i]),
        Some(_) => a.encode_utf16().cmp(b.encode_utf16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(entity: Value) -> Vec<String> {
        let mut e = entity;
        sort_relation_fields(&mut e);
        emit_relations(&e)
            .unwrap()
            .iter()
            .map(|r| format!("{} {} {}", r.source, r.relation_type, r.target))
            .collect()
    }

    #[test]
    fn spec_9_4_component_example() {
        let got = lines(json!({
            "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": "me", "namespace": "ns1"},
            "spec": {
                "type": "service", "lifecycle": "production", "owner": "team-a",
                "system": "sys", "subcomponentOf": "parent",
                "providesApis": ["z-api", "a-api"], "consumesApis": ["other/api-c"],
                "dependsOn": ["resource:db", "component:lib"], "dependencyOf": ["component:web"]
            }
        }));
        let forward: Vec<_> = got.iter().step_by(2).cloned().collect();
        assert_eq!(
            forward,
            [
                "component:ns1/me ownedBy group:ns1/team-a",
                "component:ns1/me partOf component:ns1/parent",
                "component:ns1/me providesApi api:ns1/a-api",
                "component:ns1/me providesApi api:ns1/z-api",
                "component:ns1/me consumesApi api:other/api-c",
                "component:ns1/me dependsOn component:ns1/lib",
                "component:ns1/me dependsOn resource:ns1/db",
                "component:ns1/me dependencyOf component:ns1/web",
                "component:ns1/me partOf system:ns1/sys",
            ]
        );
        assert_eq!(got[1], "group:ns1/team-a ownerOf component:ns1/me");
        assert_eq!(got[15], "component:ns1/web dependsOn component:ns1/me");
        assert_eq!(got.len(), 18);
    }

    #[test]
    fn spec_9_4_user_and_group_examples() {
        let user = lines(
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User",
            "metadata": {"name": "me", "namespace": "corp"}, "spec": {"memberOf": ["g2", "other/g1"]}}),
        );
        assert_eq!(
            user,
            [
                "user:corp/me memberOf group:corp/g2",
                "group:corp/g2 hasMember user:corp/me",
                "user:corp/me memberOf group:other/g1",
                "group:other/g1 hasMember user:corp/me",
            ]
        );
        let group = lines(
            json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group",
            "metadata": {"name": "me"}, "spec": {"type": "team", "parent": "p", "children": ["c2", "c1"], "members": ["u2", "u1"]}}),
        );
        let forward: Vec<_> = group.iter().step_by(2).cloned().collect();
        assert_eq!(
            forward,
            [
                "group:default/me childOf group:default/p",
                "group:default/me parentOf group:default/c1",
                "group:default/me parentOf group:default/c2",
                "group:default/me hasMember user:default/u1",
                "group:default/me hasMember user:default/u2",
            ]
        );
    }

    #[test]
    fn explicit_kind_wins_and_targets_are_not_restricted() {
        let got = lines(json!({"kind": "Component", "metadata": {"name": "c"},
            "spec": {"owner": "system:x", "dependsOn": ["api:x"]}}));
        assert!(got.contains(&"component:default/c ownedBy system:default/x".to_owned()));
        assert!(got.contains(&"api:default/x dependencyOf component:default/c".to_owned()));
    }

    #[test]
    fn depends_on_without_kind_fails_the_entity() {
        let e = emit_relations(
            &json!({"kind": "Component", "metadata": {"name": "c"}, "spec": {"dependsOn": ["x"]}}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("had missing or empty kind"), "{e}");
        let e = emit_relations(
            &json!({"kind": "Component", "metadata": {"name": "c"}, "spec": {"owner": "group:"}}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("was not on the form"), "{e}");
    }

    #[test]
    fn kind_match_is_exact_and_location_emits_nothing() {
        assert!(
            lines(json!({"kind": "component", "metadata": {"name": "c"}, "spec": {"owner": "x"}}))
                .is_empty()
        );
        assert!(
            lines(json!({"kind": "Location", "metadata": {"name": "l"}, "spec": {"target": "x"}}))
                .is_empty()
        );
        assert!(lines(json!({"kind": "Component", "metadata": {"name": "c"}})).is_empty());
        assert!(lines(json!([1, 2])).is_empty());
    }

    #[test]
    fn target_case_is_kept_until_stringified() {
        let rels = emit_relations(&json!({"kind": "Component", "metadata": {"name": "c"},
            "spec": {"owner": "Group:Default/Team-A"}}))
        .unwrap();
        assert_eq!(rels[0].target.name, "Team-A");
        assert_eq!(rels[0].target.to_string(), "group:default/team-a");
    }

    #[test]
    fn sort_uses_utf16_order_and_skips_mixed_arrays() {
        let mut e = json!({"spec": {"members": ["a", "_", "B", "\u{FFFF}", "\u{1F600}"], "children": ["b", 1, "a"], "other": ["b", "a"]}});
        sort_relation_fields(&mut e);
        assert_eq!(
            e["spec"]["members"],
            json!(["B", "_", "a", "\u{1F600}", "\u{FFFF}"])
        );
        assert_eq!(e["spec"]["children"], json!(["b", 1, "a"]));
        assert_eq!(e["spec"]["other"], json!(["b", "a"]));
    }

    #[test]
    fn utf16_order_matches_encode_utf16() {
        let words = [
            "",
            "a",
            "ab",
            "B",
            "_",
            "é",
            "\u{E000}",
            "\u{FFFF}",
            "\u{10000}",
            "\u{1F600}",
            "a\u{FFFF}",
            "a\u{1F600}",
            "ä",
            "z",
        ];
        for a in words {
            for b in words {
                let expected = a.encode_utf16().cmp(b.encode_utf16());
                assert_eq!(cmp_utf16(a, b), expected, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn sorted_field_list_matches_the_sort() {
        for field in SORTED_RELATION_FIELDS {
            let mut e = json!({"spec": {*field: ["b", "a"]}});
            sort_relation_fields(&mut e);
            assert_eq!(e["spec"][*field], json!(["a", "b"]), "{field}");
        }
    }

    #[test]
    fn every_pair_reverses_back() {
        for (f, r) in RELATION_PAIRS {
            assert_eq!(reverse_relation(r), Some(*f));
        }
        assert_eq!(reverse_relation("custom"), None);
    }
}
