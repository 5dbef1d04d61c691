//! [`ConfigLayer`]: one source's data.

use std::fmt;

use serde_json::Value;

/// The data of one config source and the name of that source: Backstage's `AppConfig`.
///
/// A loaded configuration is a list of layers, lowest priority first. `context` names the source
/// in error messages: the file's base name (`app-config.yaml`), `env` for the `APP_CONFIG_*`
/// layer, or anything a caller chooses.
///
/// `Debug` shows the context and the top-level keys, never the values, since config holds
/// secrets.
#[derive(Clone, PartialEq)]
pub struct ConfigLayer {
    /// The layer's data: a JSON object.
    pub data: Value,
    /// The source's name, e.g. `app-config.yaml`.
    pub context: String,
}

impl ConfigLayer {
    /// A layer from its data and context.
    #[must_use]
    pub fn new(data: Value, context: impl Into<String>) -> Self {
        Self {
            data,
            context: context.into(),
        }
    }
}

impl fmt::Debug for ConfigLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&String> = self
            .data
            .as_object()
            .map(|map| map.keys().collect())
            .unwrap_or_default();
        f.debug_struct("ConfigLayer")
            .field("context", &self.context)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_shows_context_and_keys_but_no_values() {
        let layer = ConfigLayer::new(
            json!({ "backend": { "auth": { "keys": [{ "secret": "hunter2" }] } }, "app": {} }),
            "app-config.yaml",
        );
        let debug = format!("{layer:?}");
        assert!(debug.contains("app-config.yaml"), "{debug}");
        assert!(debug.contains("backend"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
