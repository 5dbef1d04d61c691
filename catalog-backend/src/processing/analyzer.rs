//! The default location analyzer of `POST /analyze-location` (spec 3.19).

use serde_json::{Value, json};
use url::Url;

use super::integrations::{IntegrationKind, ScmIntegrations};
use crate::error::{CatalogError, Result};
use crate::model::LocationSpec;

/// Proposes a Component for a repository URL, as Backstage's `RepoLocationAnalyzer` does
/// when no SCM analyzer finds existing descriptor files: named after the repository,
/// `spec: {type: other, lifecycle: unknown}`, with a `<host>/project-slug` annotation
/// (`github.com`, `gitlab.com`, `bitbucket.org`, `dev.azure.com`) when the URL belongs to
/// such an integration. Returns the response body
/// `{existingEntityFiles: [], generateEntities: [{entity, fields: []}]}`.
///
/// # Errors
/// [`CatalogError::Input`] `The given location.target is not a URL` when the target does
/// not parse as a URL with a host.
pub fn analyze_location(integrations: &ScmIntegrations, location: &LocationSpec) -> Result<Value> {
    let not_a_url = || CatalogError::Input("The given location.target is not a URL".to_owned());
    let url = Url::parse(&location.target).map_err(|_| not_a_url())?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(not_a_url());
    }
    let integration = integrations.by_url(&url);
    let (owner, name) = integration
        .and_then(|i| i.owner_and_name(&url))
        .unwrap_or_else(|| generic_owner_and_name(&url));
    let prefix = integration.and_then(|i| match i.kind() {
        IntegrationKind::GitHub => Some("github.com"),
        IntegrationKind::GitLab => Some("gitlab.com"),
        IntegrationKind::BitbucketCloud | IntegrationKind::BitbucketServer => Some("bitbucket.org"),
        IntegrationKind::Azure => Some("dev.azure.com"),
        _ => None,
    });
    let mut entity = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "other", "lifecycle": "unknown"},
    });
    if let Some(prefix) = prefix {
        entity["metadata"]["annotations"] =
            json!({ format!("{prefix}/project-slug"): format!("{owner}/{name}") });
    }
    Ok(json!({
        "existingEntityFiles": [],
        "generateEntities": [{"entity": entity, "fields": []}],
    }))
}

/// `git-url-parse` on a URL of no known integration: the first two path segments.
fn generic_owner_and_name(url: &Url) -> (String, String) {
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    match segments.as_slice() {
        [] => (String::new(), url.host_str().unwrap_or_default().to_owned()),
        [name] => (String::new(), name.trim_end_matches(".git").to_owned()),
        [owner, name, ..] => (
            (*owner).to_owned(),
            name.trim_end_matches(".git").to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyze(target: &str) -> Result<Value> {
        analyze_location(
            &ScmIntegrations::default(),
            &LocationSpec::new("url", target),
        )
    }

    #[test]
    fn proposes_a_component_named_after_the_repository() {
        let out = analyze("https://github.com/backstage/demo/blob/main/catalog-info.yaml").unwrap();
        assert_eq!(
            out,
            json!({"existingEntityFiles": [], "generateEntities": [{"entity": {
                "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                "metadata": {"name": "demo", "annotations": {"github.com/project-slug": "backstage/demo"}},
                "spec": {"type": "other", "lifecycle": "unknown"}}, "fields": []}]})
        );
        let out = analyze("https://gitlab.com/group/sub/repo").unwrap();
        assert_eq!(
            out["generateEntities"][0]["entity"]["metadata"],
            json!({"name": "repo", "annotations": {"gitlab.com/project-slug": "group/sub/repo"}})
        );
        let out = analyze("https://git.example.com/team/tool.git").unwrap();
        assert_eq!(
            out["generateEntities"][0]["entity"]["metadata"],
            json!({"name": "tool"})
        );
    }

    #[test]
    fn non_urls_are_input_errors() {
        for target in ["not a url", "/local/path", "mailto:x"] {
            let e = analyze(target).unwrap_err();
            assert!(
                matches!(e, CatalogError::Input(ref m) if m == "The given location.target is not a URL"),
                "{target}: {e}"
            );
        }
    }
}
