use serde_json::{Map, Value};

use super::EntityPolicy;
use crate::entity::DEFAULT_NAMESPACE;
use crate::error::Result;

/// Sets `metadata.namespace` when it is absent. An explicit `""` or `null` is kept (and
/// fails later checks), as in Backstage. The output puts `metadata` first and `namespace`
/// first within it, like Backstage's `lodash.merge` does.
#[derive(Debug, Clone)]
pub struct DefaultNamespaceEntityPolicy {
    namespace: String,
}

impl DefaultNamespaceEntityPolicy {
    /// A policy that defaults to `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
        }
    }
}

impl Default for DefaultNamespaceEntityPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_NAMESPACE)
    }
}

impl EntityPolicy for DefaultNamespaceEntityPolicy {
    fn enforce(&self, entity: Value) -> Result<Option<Value>> {
        Ok(Some(self.apply(entity)))
    }
}

impl DefaultNamespaceEntityPolicy {
    /// The policy as an infallible function.
    pub(crate) fn apply(&self, entity: Value) -> Value {
        let truthy = crate::js::get(&entity, "metadata")
            .and_then(|m| crate::js::get(m, "namespace"))
            .is_some_and(|ns| !crate::entity_ref::is_falsy(ns));
        if truthy {
            return entity;
        }
        let Value::Object(root) = entity else {
            return entity;
        };
        let mut out = Map::with_capacity(root.len() + 1);
        let mut rest = root;
        let metadata = rest.shift_remove("metadata");
        let metadata = match metadata {
            Some(Value::Object(meta)) => {
                if meta.contains_key("namespace") {
                    Value::Object(meta)
                } else {
                    let mut m = Map::with_capacity(meta.len() + 1);
                    m.insert("namespace".into(), Value::String(self.namespace.clone()));
                    m.extend(meta);
                    Value::Object(m)
                }
            }
            // lodash.merge keeps the default object when the source is absent or not an object.
            None | Some(Value::Null) => {
                let mut m = Map::new();
                m.insert("namespace".into(), Value::String(self.namespace.clone()));
                Value::Object(m)
            }
            Some(other) => other,
        };
        out.insert("metadata".into(), metadata);
        out.extend(rest);
        Value::Object(out)
    }
}
