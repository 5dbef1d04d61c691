//! `AnnotateLocationEntityProcessor`: the location annotations (spec 4.5).

use async_trait::async_trait;
use backstage_catalog_model::annotations::{
    ANNOTATION_EDIT_URL, ANNOTATION_SOURCE_LOCATION, ANNOTATION_VIEW_URL,
};
use serde_json::{Map, Value};
use url::Url;

use super::error::ProcessorResult;
use super::integrations::ScmIntegrations;
use super::processor::{CatalogProcessor, ProcessorContext};
use crate::model::{ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION};

/// Defaults `backstage.io/managed-by-location` and `…/managed-by-origin-location`, and for
/// `url` locations `backstage.io/view-url` (the target), `backstage.io/edit-url` (the SCM
/// integration's edit URL, skipped when the URL contains a commit hash) and
/// `backstage.io/source-location` (`url:<directory of the target>/`, SCM integrations
/// only). Values the entity already has win.
#[derive(Debug, Clone, Default)]
pub struct AnnotateLocationEntityProcessor {
    integrations: ScmIntegrations,
}

impl AnnotateLocationEntityProcessor {
    /// The processor over these integrations.
    pub fn new(integrations: ScmIntegrations) -> Self {
        Self { integrations }
    }
}

/// Whether `s` contains a run of 40 or more lower-case hex digits between word boundaries
/// (Backstage's `/\b[0-9a-f]{40,}\b/`).
fn has_commit_hash(s: &str) -> bool {
    let bytes = s.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'a'..=b'f') {
            i += 1;
        }
        if i - start >= 40
            && (start == 0 || !word(bytes[start - 1]))
            && (i == bytes.len() || !word(bytes[i]))
        {
            return true;
        }
        i = if i == start { i + 1 } else { i };
    }
    false
}

#[async_trait]
impl CatalogProcessor for AnnotateLocationEntityProcessor {
    fn name(&self) -> &str {
        "AnnotateLocationEntityProcessor"
    }

    async fn pre_process_entity(
        &self,
        mut entity: Value,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<Value> {
        let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) else {
            return Ok(entity);
        };
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if annotations.is_null() {
            *annotations = Value::Object(Map::new());
        }
        let Value::Object(map) = annotations else {
            return Ok(entity);
        };
        // lodash `merge` keeps the entity's value unless it is `undefined`: only absent (or
        // null) keys get a default, computed only when needed.
        let missing = |map: &Map<String, Value>, key: &str| map.get(key).is_none_or(Value::is_null);
        let location = ctx.location();
        if missing(map, ANNOTATION_LOCATION) {
            map.insert(
                ANNOTATION_LOCATION.to_owned(),
                Value::String(location.location_ref()),
            );
        }
        if missing(map, ANNOTATION_ORIGIN_LOCATION) {
            map.insert(
                ANNOTATION_ORIGIN_LOCATION.to_owned(),
                Value::String(ctx.origin_location().location_ref()),
            );
        }
        if location.kind == "url" {
            let target = &location.target;
            if missing(map, ANNOTATION_VIEW_URL) {
                map.insert(
                    ANNOTATION_VIEW_URL.to_owned(),
                    Value::String(target.clone()),
                );
            }
            let integration = Url::parse(target)
                .ok()
                .and_then(|u| self.integrations.by_url(&u).cloned());
            if let Some(integration) = integration {
                if missing(map, ANNOTATION_EDIT_URL) && !has_commit_hash(target) {
                    map.insert(
                        ANNOTATION_EDIT_URL.to_owned(),
                        Value::String(integration.resolve_edit_url(target)),
                    );
                }
                if missing(map, ANNOTATION_SOURCE_LOCATION)
                    && let Ok(dir) = self.integrations.resolve_url("./", target)
                {
                    map.insert(
                        ANNOTATION_SOURCE_LOCATION.to_owned(),
                        Value::String(format!("url:{dir}")),
                    );
                }
            }
        }
        Ok(entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LocationSpec;
    use crate::processing::processor::{Emitter, ProcessorCache};
    use serde_json::json;

    async fn annotate(entity: Value, location: &LocationSpec) -> Value {
        let p = AnnotateLocationEntityProcessor::default();
        let origin = LocationSpec::new("url", "https://github.com/o/r/blob/main/all.yaml");
        let mut emitter = Emitter::default();
        let mut cache = ProcessorCache::default();
        let mut ctx = ProcessorContext::new(location, &origin, &mut emitter, &mut cache);
        p.pre_process_entity(entity, &mut ctx).await.unwrap()
    }

    #[tokio::test]
    async fn github_url_locations_get_view_edit_and_source_annotations() {
        let loc = LocationSpec::new("url", "https://github.com/o/r/blob/main/dir/c.yaml");
        let out = annotate(
            json!({"metadata": {"name": "c", "annotations": {"backstage.io/view-url": "mine"}}}),
            &loc,
        )
        .await;
        assert_eq!(
            out["metadata"]["annotations"],
            json!({
                "backstage.io/view-url": "mine",
                "backstage.io/managed-by-location": "url:https://github.com/o/r/blob/main/dir/c.yaml",
                "backstage.io/managed-by-origin-location": "url:https://github.com/o/r/blob/main/all.yaml",
                "backstage.io/edit-url": "https://github.com/o/r/edit/main/dir/c.yaml",
                "backstage.io/source-location": "url:https://github.com/o/r/blob/main/dir/",
            })
        );
    }

    #[tokio::test]
    async fn commit_urls_have_no_edit_url_and_other_hosts_only_a_view_url() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let loc = LocationSpec::new("url", format!("https://github.com/o/r/blob/{sha}/c.yaml"));
        let out = annotate(json!({"metadata": {"name": "c"}}), &loc).await;
        assert!(
            out["metadata"]["annotations"]
                .get("backstage.io/edit-url")
                .is_none()
        );
        assert!(
            out["metadata"]["annotations"]
                .get("backstage.io/source-location")
                .is_some()
        );
        let loc = LocationSpec::new("url", "https://example.com/c.yaml");
        let out = annotate(json!({"metadata": {"name": "c"}}), &loc).await;
        let a = out["metadata"]["annotations"].as_object().unwrap();
        assert_eq!(a.len(), 3, "{a:?}");
        let loc = LocationSpec::new("file", "/x/c.yaml");
        let out = annotate(
            json!({"metadata": {"name": "c", "annotations": null}}),
            &loc,
        )
        .await;
        assert_eq!(
            out["metadata"]["annotations"]["backstage.io/managed-by-location"],
            "file:/x/c.yaml"
        );
        assert!(
            has_commit_hash(sha) && !has_commit_hash(&format!("x{sha}")) && !has_commit_hash("abc")
        );
    }
}
