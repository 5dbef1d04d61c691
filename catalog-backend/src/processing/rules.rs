//! Catalog rules (spec 4.9): which kinds may be emitted from which locations.

use std::path::Path;

use backstage_core_plugin_api::ConfigReader;
use globset::{GlobBuilder, GlobMatcher};
use serde_json::Value;

use crate::error::{CatalogError, Result};
use crate::model::LocationSpec;

/// The rule set of `catalog.rules` and `catalog.locations[].rules` (Backstage's
/// `DefaultCatalogRulesEnforcer`).
///
/// A child entity is allowed when **any** rule matches both its origin location and its
/// kind (and `spec.type`, when the rule names one). Without `catalog.rules`, Components,
/// APIs and Locations are allowed from anywhere; `catalog.rules: []` allows nothing (except
/// what per-location rules allow).
///
/// ```
/// use backstage_catalog_backend::model::LocationSpec;
/// use backstage_catalog_backend::processing::CatalogRules;
/// use backstage_core_plugin_api::ConfigReader;
/// use serde_json::json;
///
/// let rules = CatalogRules::from_config(&ConfigReader::from_value(json!({"catalog": {"rules": [
///     {"allow": ["Component", {"kind": "Resource", "spec.type": "database"}]},
///     {"allow": ["Group"], "locations": [{"type": "url", "pattern": "https://github.com/org/*/blob/main/org.yaml"}]},
/// ]}})))?;
/// let at = LocationSpec::new("url", "https://github.com/org/people/blob/main/org.yaml");
/// assert!(rules.is_allowed(&json!({"kind": "group"}), &at));
/// assert!(rules.is_allowed(&json!({"kind": "Resource", "spec": {"type": "Database"}}), &at));
/// assert!(!rules.is_allowed(&json!({"kind": "Resource", "spec": {"type": "queue"}}), &at));
/// assert!(!rules.is_allowed(&json!({"kind": "Group"}), &LocationSpec::new("url", "https://x/org.yaml")));
/// # Ok::<(), backstage_catalog_backend::CatalogError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CatalogRules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// `None`: any kind.
    allow: Option<Vec<AllowMatcher>>,
    /// `None`: any location.
    locations: Option<Vec<LocationMatcher>>,
}

#[derive(Debug, Clone)]
struct AllowMatcher {
    kind: String,
    spec_type: Option<String>,
}

#[derive(Debug, Clone)]
struct LocationMatcher {
    kind: String,
    exact: Option<String>,
    pattern: Option<GlobMatcher>,
}

impl Default for CatalogRules {
    /// Backstage's default: allow `Component`, `API` and `Location` from anywhere.
    fn default() -> Self {
        Self {
            rules: vec![Rule {
                allow: Some(
                    ["Component", "API", "Location"]
                        .into_iter()
                        .map(|kind| AllowMatcher {
                            kind: kind.to_lowercase(),
                            spec_type: None,
                        })
                        .collect(),
                ),
                locations: None,
            }],
        }
    }
}

fn config_error(key: &str, error: impl std::fmt::Display) -> CatalogError {
    CatalogError::Config(format!("{key}: {error}"))
}

impl CatalogRules {
    /// No rule at all: nothing is allowed.
    pub fn none() -> Self {
        Self { rules: Vec::new() }
    }

    /// A rule set that allows every kind from everywhere.
    pub fn allow_all() -> Self {
        Self {
            rules: vec![Rule {
                allow: None,
                locations: None,
            }],
        }
    }

    /// Reads `catalog.rules` and the `rules` of `catalog.locations[]` from the root config.
    /// `file` targets of `catalog.locations` are resolved against the working directory, as
    /// the config location provider does.
    ///
    /// # Errors
    /// [`CatalogError::Config`] naming the offending key, e.g. for a location matcher with
    /// both `exact` and `pattern` (`A catalog rule location cannot have both exact and pattern
    /// values`), an invalid pattern or a malformed `allow` list.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let base = std::env::current_dir().unwrap_or_default();
        Self::from_config_with_base(config, &base)
    }

    /// Like [`CatalogRules::from_config`], with relative `file` targets resolved against
    /// `base_dir`.
    ///
    /// # Errors
    /// As [`CatalogRules::from_config`].
    pub fn from_config_with_base(config: &ConfigReader, base_dir: &Path) -> Result<Self> {
        let mut rules = Vec::new();
        let has_rules = config
            .has("catalog.rules")
            .map_err(|e| config_error("catalog.rules", e))?;
        if has_rules {
            let list = config
                .config_array("catalog.rules")
                .map_err(|e| config_error("catalog.rules", e))?;
            for (i, rule) in list.iter().enumerate() {
                let key = format!("catalog.rules[{i}]");
                let allow = Some(parse_allow(rule, &key)?);
                let locations = match rule
                    .optional_config_array("locations")
                    .map_err(|e| config_error(&key, e))?
                {
                    None => None,
                    Some(list) => {
                        let mut out = Vec::with_capacity(list.len());
                        for (j, location) in list.iter().enumerate() {
                            let key = format!("{key}.locations[{j}]");
                            out.push(parse_location_matcher(location, &key)?);
                        }
                        Some(out)
                    }
                };
                rules.push(Rule { allow, locations });
            }
        } else {
            rules = Self::default().rules;
        }
        let locations = config
            .optional_config_array("catalog.locations")
            .map_err(|e| config_error("catalog.locations", e))?
            .unwrap_or_default();
        for (i, location) in locations.iter().enumerate() {
            let key = format!("catalog.locations[{i}]");
            let Some(location_rules) = location
                .optional_config_array("rules")
                .map_err(|e| config_error(&key, e))?
            else {
                continue;
            };
            let kind = location.string("type").map_err(|e| config_error(&key, e))?;
            let mut target = location
                .string("target")
                .map_err(|e| config_error(&key, e))?;
            if kind == "file" {
                target = absolute_path(base_dir, &target);
            }
            for (j, rule) in location_rules.iter().enumerate() {
                let allow = Some(parse_allow(rule, &format!("{key}.rules[{j}]"))?);
                rules.push(Rule {
                    allow,
                    locations: Some(vec![LocationMatcher {
                        kind: kind.clone(),
                        exact: Some(target.clone()),
                        pattern: None,
                    }]),
                });
            }
        }
        Ok(Self { rules })
    }

    /// Whether `entity` may be emitted by something originating at `location`.
    pub fn is_allowed(&self, entity: &Value, location: &LocationSpec) -> bool {
        self.rules.iter().any(|rule| {
            matches_location(rule.locations.as_deref(), location)
                && rule
                    .allow
                    .as_deref()
                    .is_none_or(|allow| matches_entity(allow, entity))
        })
    }
}

fn parse_allow(rule: &ConfigReader, key: &str) -> Result<Vec<AllowMatcher>> {
    let key = format!("{key}.allow");
    let value = rule.get("allow").map_err(|e| config_error(&key, e))?;
    let Value::Array(items) = value else {
        return Err(config_error(&key, "expected a list of kinds"));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(kind) => Ok(AllowMatcher {
                kind: kind.to_lowercase(),
                spec_type: None,
            }),
            Value::Object(map) => {
                let kind = match map.get("kind") {
                    Some(Value::String(kind)) => kind.to_lowercase(),
                    _ => return Err(config_error(&key, "an allow item needs a string 'kind'")),
                };
                let spec_type = match map.get("spec.type") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(t)) => Some(t.to_lowercase()),
                    Some(_) => return Err(config_error(&key, "'spec.type' must be a string")),
                };
                Ok(AllowMatcher { kind, spec_type })
            }
            _ => Err(config_error(
                &key,
                "an allow item is a kind or {kind, 'spec.type'}",
            )),
        })
        .collect()
}

fn parse_location_matcher(location: &ConfigReader, key: &str) -> Result<LocationMatcher> {
    let kind = location.string("type").map_err(|e| config_error(key, e))?;
    let exact = location
        .optional_string("exact")
        .map_err(|e| config_error(key, e))?;
    let pattern = location
        .optional_string("pattern")
        .map_err(|e| config_error(key, e))?;
    if exact.is_some() && pattern.is_some() {
        return Err(config_error(
            key,
            "A catalog rule location cannot have both exact and pattern values",
        ));
    }
    let pattern = match pattern {
        None => None,
        Some(p) => Some(
            GlobBuilder::new(&p)
                .case_insensitive(true)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| config_error(key, format!("invalid pattern '{p}': {e}")))?
                .compile_matcher(),
        ),
    };
    Ok(LocationMatcher {
        kind,
        exact,
        pattern,
    })
}

fn matches_location(matchers: Option<&[LocationMatcher]>, location: &LocationSpec) -> bool {
    let Some(matchers) = matchers else {
        return true;
    };
    matchers.iter().any(|m| {
        m.kind == location.kind
            && m.exact.as_ref().is_none_or(|e| *e == location.target)
            && m.pattern
                .as_ref()
                .is_none_or(|p| p.is_match(&location.target))
    })
}

fn matches_entity(matchers: &[AllowMatcher], entity: &Value) -> bool {
    let Some(kind) = entity.get("kind").and_then(Value::as_str) else {
        return false;
    };
    matchers.iter().any(|m| {
        eq_lower(kind, &m.kind)
            && m.spec_type.as_ref().is_none_or(|t| {
                entity
                    .pointer("/spec/type")
                    .and_then(Value::as_str)
                    .is_some_and(|actual| eq_lower(actual, t))
            })
    })
}

/// `a.to_lowercase() == lower` without allocating for ASCII.
fn eq_lower(a: &str, lower: &str) -> bool {
    if a.is_ascii() {
        a.len() == lower.len()
            && a.bytes()
                .zip(lower.bytes())
                .all(|(x, y)| x.to_ascii_lowercase() == y)
    } else {
        a.to_lowercase() == lower
    }
}

/// Node's `path.resolve(base, target)`, without touching the file system.
pub(crate) fn absolute_path(base_dir: &Path, target: &str) -> String {
    let joined = base_dir.join(target);
    normalize_path(&joined)
}

/// Node's `path.normalize` for absolute paths: drops `.` and resolves `..` lexically.
pub(crate) fn normalize_path(path: &Path) -> String {
    use std::path::Component;
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(parts.last(), Some(Component::Normal(_))) {
                    parts.pop();
                }
            }
            other => parts.push(other),
        }
    }
    parts
        .iter()
        .collect::<std::path::PathBuf>()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(config: Value) -> CatalogRules {
        CatalogRules::from_config_with_base(&ConfigReader::from_value(config), Path::new("/srv"))
            .unwrap()
    }

    fn kind(k: &str) -> Value {
        json!({"kind": k, "metadata": {"name": "x"}})
    }

    #[test]
    fn default_allows_component_api_location_only() {
        let r = rules(json!({}));
        let at = LocationSpec::new("url", "https://x/y.yaml");
        for k in ["Component", "api", "LOCATION"] {
            assert!(r.is_allowed(&kind(k), &at), "{k}");
        }
        for k in ["Group", "User", "System", "Resource"] {
            assert!(!r.is_allowed(&kind(k), &at), "{k}");
        }
    }

    #[test]
    fn empty_rules_allow_nothing() {
        let r = rules(json!({"catalog": {"rules": []}}));
        assert!(!r.is_allowed(&kind("Component"), &LocationSpec::new("url", "x")));
    }

    #[test]
    fn location_rules_use_exact_absolute_targets() {
        let r = rules(json!({"catalog": {"rules": [], "locations": [
            {"type": "file", "target": "./org/../org.yaml", "rules": [{"allow": ["User", "Group"]}]},
            {"type": "url", "target": "https://x/other.yaml"},
        ]}}));
        assert!(r.is_allowed(&kind("User"), &LocationSpec::new("file", "/srv/org.yaml")));
        assert!(!r.is_allowed(&kind("User"), &LocationSpec::new("file", "/srv/else.yaml")));
        assert!(!r.is_allowed(&kind("System"), &LocationSpec::new("file", "/srv/org.yaml")));
        assert!(!r.is_allowed(&kind("User"), &LocationSpec::new("url", "/srv/org.yaml")));
    }

    #[test]
    fn patterns_are_case_insensitive_and_do_not_cross_slashes() {
        let r = rules(json!({"catalog": {"rules": [
            {"allow": ["Template"], "locations": [{"type": "url", "pattern": "https://github.com/org/*/blob/main/*.yaml"}]},
            {"allow": ["System"], "locations": [{"type": "url", "exact": "https://x/s.yaml"}]},
        ]}}));
        let t = kind("Template");
        assert!(r.is_allowed(
            &t,
            &LocationSpec::new("url", "https://GitHub.com/org/repo/blob/main/t.yaml")
        ));
        assert!(r.is_allowed(
            &t,
            &LocationSpec::new("url", "https://github.com/org/.hidden/blob/main/t.yaml")
        ));
        assert!(!r.is_allowed(
            &t,
            &LocationSpec::new("url", "https://github.com/org/a/b/blob/main/t.yaml")
        ));
        assert!(r.is_allowed(
            &kind("System"),
            &LocationSpec::new("url", "https://x/s.yaml")
        ));
        assert!(!r.is_allowed(
            &kind("System"),
            &LocationSpec::new("url", "https://X/s.yaml")
        ));
    }

    #[test]
    fn spec_type_must_be_a_matching_string() {
        let r = rules(
            json!({"catalog": {"rules": [{"allow": [{"kind": "Resource", "spec.type": "Database"}]}]}}),
        );
        let at = LocationSpec::new("url", "x");
        assert!(r.is_allowed(
            &json!({"kind": "resource", "spec": {"type": "database"}}),
            &at
        ));
        assert!(!r.is_allowed(&json!({"kind": "Resource", "spec": {"type": 5}}), &at));
        assert!(!r.is_allowed(&json!({"kind": "Resource"}), &at));
    }

    #[test]
    fn config_errors_name_the_key() {
        let e = CatalogRules::from_config(&ConfigReader::from_value(json!({"catalog": {"rules": [
            {"allow": ["A"], "locations": [{"type": "url", "exact": "a", "pattern": "b"}]}
        ]}})))
        .unwrap_err()
        .to_string();
        assert!(e.contains("catalog.rules[0].locations[0]"), "{e}");
        assert!(e.contains("cannot have both exact and pattern"), "{e}");
        let e = CatalogRules::from_config(&ConfigReader::from_value(
            json!({"catalog": {"rules": [{"allow": "A"}]}}),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("catalog.rules[0].allow"), "{e}");
    }

    #[test]
    fn helpers() {
        assert!(
            CatalogRules::allow_all().is_allowed(&kind("Anything"), &LocationSpec::new("x", "y"))
        );
        assert!(
            !CatalogRules::none().is_allowed(&kind("Component"), &LocationSpec::new("url", "x"))
        );
        assert_eq!(
            absolute_path(Path::new("/a/b"), "../c/./d.yaml"),
            "/a/c/d.yaml"
        );
        assert_eq!(absolute_path(Path::new("/a/b"), "/x/y"), "/x/y");
    }
}
