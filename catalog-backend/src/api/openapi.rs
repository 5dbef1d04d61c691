//! `GET /openapi.json` (spec 3.0): the catalog API's OpenAPI document, served as Backstage
//! serves it.
//!
//! `openapi.json` here is the `spec` object of `@backstage/plugin-catalog-backend` 4.0.0
//! (`dist/schema/openapi/generated/router.cjs.js`, Apache-2.0, The Backstage Authors),
//! converted to JSON unchanged. Backstage's router wrapper (`@backstage/backend-openapi-utils`
//! 0.7.2) serves it through `openapi-merge` with every path prefixed by the mount point
//! (the request path without `/openapi.json`), which also sets `openapi` to `3.0.3`; this
//! handler does the same. The CLI's compatibility driver compares the two documents.

use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use backstage_core_plugin_api::ApiError;
use serde_json::{Map, Value};

use super::json_response;

/// The document as Backstage publishes it.
const SPEC: &str = include_str!("openapi.json");

/// The route this document is served on, under the mount point.
pub(super) const ROUTE: &str = "/openapi.json";

/// The document with every path prefixed by `prefix`, as `openapi-merge` outputs it.
fn document(prefix: &str) -> serde_json::Result<Value> {
    let mut spec: Value = serde_json::from_str(SPEC)?;
    if let Some(object) = spec.as_object_mut() {
        object.insert("openapi".into(), Value::from("3.0.3"));
        if let Some(Value::Object(paths)) = object.remove("paths") {
            let prefixed: Map<String, Value> = paths
                .into_iter()
                .map(|(path, item)| (format!("{prefix}{path}"), item))
                .collect();
            object.insert("paths".into(), Value::Object(prefixed));
        }
    }
    Ok(spec)
}

pub(super) async fn openapi(OriginalUri(uri): OriginalUri) -> Response {
    let prefix = uri.path().strip_suffix(ROUTE).unwrap_or_default();
    match document(prefix) {
        Ok(document) => json_response(StatusCode::OK, &document),
        Err(error) => ApiError::internal(format!(
            "the bundled OpenAPI document does not parse: {error}"
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_prefixed_and_the_version_is_openapi_merges() {
        let plain: Value = serde_json::from_str(SPEC).unwrap();
        assert_eq!(plain["openapi"], "3.1.0");
        let served = document("/api/catalog").unwrap();
        assert_eq!(served["openapi"], "3.0.3");
        assert_eq!(served["info"], plain["info"]);
        assert_eq!(served["components"], plain["components"]);
        let paths = served["paths"].as_object().unwrap();
        assert_eq!(paths.len(), plain["paths"].as_object().unwrap().len());
        assert_eq!(
            paths["/api/catalog/entities/by-query"],
            plain["paths"]["/entities/by-query"]
        );
        assert!(paths.keys().all(|p| p.starts_with("/api/catalog/")));
    }
}
