//! SCM integrations (Backstage's `integrations` config block): which hosts are source
//! control servers, their credentials, and their URL conventions (relative URL resolution,
//! edit URLs, raw file URLs, repository identity).

use std::fmt;

use backstage_core_plugin_api::ConfigReader;
use base64::Engine as _;
use url::Url;

use crate::error::{CatalogError, Result};

/// The kind of an SCM integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IntegrationKind {
    /// `integrations.github`.
    GitHub,
    /// `integrations.gitlab`.
    GitLab,
    /// `integrations.bitbucketServer`.
    BitbucketServer,
    /// `integrations.bitbucketCloud` (host `bitbucket.org`).
    BitbucketCloud,
    /// `integrations.azure`.
    Azure,
    /// `integrations.gitea`.
    Gitea,
}

impl IntegrationKind {
    /// The config key of the kind (`github`, `bitbucketServer`, …).
    pub fn config_key(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::BitbucketServer => "bitbucketServer",
            Self::BitbucketCloud => "bitbucketCloud",
            Self::Azure => "azure",
            Self::Gitea => "gitea",
        }
    }
}

/// One configured (or default) integration.
#[derive(Clone)]
pub struct ScmIntegration {
    kind: IntegrationKind,
    host: String,
    api_base_url: Option<String>,
    raw_base_url: Option<String>,
    auth: Option<String>,
}

impl fmt::Debug for ScmIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScmIntegration")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("api_base_url", &self.api_base_url)
            .field("raw_base_url", &self.raw_base_url)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ScmIntegration {
    /// An integration without credentials. `host` is `name` or `name:port`.
    pub fn new(kind: IntegrationKind, host: impl Into<String>) -> Self {
        Self {
            kind,
            host: host.into(),
            api_base_url: None,
            raw_base_url: None,
            auth: None,
        }
    }

    /// Sets the API base URL (GitHub `apiBaseUrl`, GitLab `apiBaseUrl`).
    #[must_use]
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Sets the raw file base URL (GitHub `rawBaseUrl`).
    #[must_use]
    pub fn raw_base_url(mut self, url: impl Into<String>) -> Self {
        self.raw_base_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Sets a token, sent as Backstage sends it for this kind (`token <t>` for GitHub,
    /// `Bearer <t>` for GitLab and Bitbucket, `Basic base64(":<t>")` for Azure).
    #[must_use]
    pub fn token(mut self, token: &str) -> Self {
        self.auth = Some(match self.kind {
            IntegrationKind::GitHub => format!("token {token}"),
            IntegrationKind::Azure => format!("Basic {}", basic(&format!(":{token}"))),
            _ => format!("Bearer {token}"),
        });
        self
    }

    /// Sets basic credentials (Bitbucket, Gitea).
    #[must_use]
    pub fn basic_auth(mut self, username: &str, password: &str) -> Self {
        self.auth = Some(format!(
            "Basic {}",
            basic(&format!("{username}:{password}"))
        ));
        self
    }

    /// The kind.
    pub fn kind(&self) -> IntegrationKind {
        self.kind
    }

    /// `name` or `name:port`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `Authorization` header value, if credentials are configured.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.auth.as_deref()
    }

    /// The hosts this integration reads from besides its own (API and raw hosts).
    pub(crate) fn extra_hosts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for base in [&self.api_base_url, &self.raw_base_url]
            .into_iter()
            .flatten()
        {
            if let Ok(url) = Url::parse(base) {
                out.push(url_host(&url));
            }
        }
        match (self.kind, self.host.as_str()) {
            (IntegrationKind::GitHub, "github.com") => {
                out.push("api.github.com".into());
                out.push("raw.githubusercontent.com".into());
            }
            (IntegrationKind::BitbucketCloud, _) => out.push("api.bitbucket.org".into()),
            _ => {}
        }
        out
    }

    /// The URL to fetch for a file URL of this integration, and whether it is an API URL
    /// (GitHub's contents API wants `Accept: application/vnd.github.v3.raw`).
    pub(crate) fn fetch_url(&self, url: &Url) -> (Url, bool) {
        match self.kind {
            IntegrationKind::GitHub => self.github_fetch_url(url).unwrap_or((url.clone(), false)),
            IntegrationKind::GitLab => self
                .gitlab_fetch_url(url)
                .map_or((url.clone(), false), |u| (u, false)),
            _ => (url.clone(), false),
        }
    }

    /// `https://<host>/<owner>/<repo>/blob/<ref>/<path>` → the raw URL (no token) or the
    /// contents API URL (with a token), as Backstage's GitHub URL reader does.
    fn github_fetch_url(&self, url: &Url) -> Option<(Url, bool)> {
        let segments: Vec<&str> = url.path_segments()?.collect();
        let [owner, repo, kind, git_ref, path @ ..] = segments.as_slice() else {
            return None;
        };
        if *kind != "blob" || path.is_empty() {
            return None;
        }
        let path = path.join("/");
        let api = self
            .api_base_url
            .clone()
            .or_else(|| (self.host == "github.com").then(|| "https://api.github.com".to_owned()));
        let raw = self.raw_base_url.clone().or_else(|| {
            (self.host == "github.com").then(|| "https://raw.githubusercontent.com".to_owned())
        });
        // Backstage: the API when it is known and there is a token (or no raw URL).
        if let Some(api) = api.filter(|_| self.auth.is_some() || raw.is_none()) {
            let mut fetch =
                Url::parse(&format!("{api}/repos/{owner}/{repo}/contents/{path}")).ok()?;
            fetch.query_pairs_mut().append_pair("ref", git_ref);
            return Some((fetch, true));
        }
        let raw = raw?;
        Some((
            Url::parse(&format!("{raw}/{owner}/{repo}/{git_ref}/{path}")).ok()?,
            false,
        ))
    }

    /// `https://<host>/<project path>/-/blob/<ref>/<path>` → the files API's raw endpoint.
    fn gitlab_fetch_url(&self, url: &Url) -> Option<Url> {
        let path = url.path();
        let (project, rest) = path.split_once("/-/blob/")?;
        let (git_ref, file) = rest.split_once('/')?;
        let project = project.trim_start_matches('/');
        if project.is_empty() || file.is_empty() {
            return None;
        }
        let api = self
            .api_base_url
            .clone()
            .unwrap_or_else(|| format!("{}://{}/api/v4", url.scheme(), self.host));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let encode = |s: &str| percent_encoding::utf8_percent_encode(s, URI_COMPONENT).to_string();
        let mut fetch = Url::parse(&format!(
            "{api}/projects/{}/repository/files/{}/raw",
            encode(&decode(project)),
            encode(&decode(file))
        ))
        .ok()?;
        fetch.query_pairs_mut().append_pair("ref", &decode(git_ref));
        Some(fetch)
    }

    /// The edit URL of a file URL (`/blob/` → `/edit/` on GitHub, `/-/blob/` → `/-/edit/`
    /// on GitLab); other kinds return the URL unchanged.
    pub fn resolve_edit_url(&self, url: &str) -> String {
        match self.kind {
            IntegrationKind::GitHub => replace_url_type(url, false, "edit"),
            IntegrationKind::GitLab => replace_url_type(url, true, "edit"),
            _ => url.to_owned(),
        }
    }

    /// The repository a URL of this integration belongs to (`host/owner/repo`,
    /// lower-cased), for the placeholder same-repository rule.
    pub(crate) fn repository_of(&self, url: &Url) -> Option<String> {
        let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        let repo_path = match self.kind {
            IntegrationKind::GitLab => match url.path().split_once("/-/") {
                Some((project, _)) => project.trim_matches('/').to_owned(),
                // Without `/-/`, the whole path is the project (subgroups included).
                None if segments.len() >= 2 => segments.join("/"),
                None => return None,
            },
            IntegrationKind::BitbucketServer
                if segments.first() == Some(&"projects") && segments.get(2) == Some(&"repos") =>
            {
                segments.get(..4)?.join("/")
            }
            IntegrationKind::Azure => {
                let git = segments.iter().position(|s| *s == "_git")?;
                segments.get(..=git + 1)?.join("/")
            }
            _ => segments.get(..2)?.join("/"),
        };
        let repo_path = repo_path.trim_end_matches(".git");
        Some(format!("{}/{}", url_host(url), repo_path).to_lowercase())
    }

    /// `(owner, name)` of the repository of a URL (for the location analyzer).
    pub(crate) fn owner_and_name(&self, url: &Url) -> Option<(String, String)> {
        let repo = self.repository_of(url)?;
        let path = repo.split_once('/')?.1;
        let original: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        // Take the original spelling back from the URL (repository_of lower-cases).
        let count = path.split('/').count();
        let parts: Vec<&str> = match self.kind {
            IntegrationKind::Azure | IntegrationKind::BitbucketServer => {
                let take = original.get(..count)?;
                vec![take[0], take[count - 1]]
            }
            _ => original.get(..count)?.to_vec(),
        };
        let (name, owner) = parts.split_last()?;
        let name = name.trim_end_matches(".git").to_owned();
        Some((owner.join("/"), name))
    }
}

/// What JavaScript's `encodeURIComponent` escapes: everything but `A-Za-z0-9-_.!~*'()`.
const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

fn basic(credentials: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(credentials)
}

/// Replaces the `blob|tree|edit` segment after `owner/repo` (GitHub) or after `/-/`
/// (GitLab).
fn replace_url_type(url: &str, gitlab: bool, new_type: &str) -> String {
    if gitlab {
        for old in ["/-/blob/", "/-/tree/", "/-/edit/"] {
            if let Some(i) = url.find(old) {
                return format!("{}/-/{new_type}/{}", &url[..i], &url[i + old.len()..]);
            }
        }
        return url.to_owned();
    }
    let Ok(parsed) = Url::parse(url) else {
        return url.to_owned();
    };
    let Some(segments) = parsed.path_segments() else {
        return url.to_owned();
    };
    let segments: Vec<&str> = segments.collect();
    if segments.len() > 3 && matches!(segments[2], "blob" | "tree" | "edit") {
        let mut out = parsed.clone();
        let mut new_segments = segments.clone();
        new_segments[2] = new_type;
        out.set_path(&new_segments.join("/"));
        return out.to_string();
    }
    url.to_owned()
}

/// `host` or `host:port` as JavaScript's `URL.host` gives it (default ports left out).
pub(crate) fn url_host(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// The SCM integrations: configured ones plus Backstage's defaults (`github.com`,
/// `gitlab.com`, `bitbucket.org`, `dev.azure.com`), which read public repositories
/// without credentials.
#[derive(Debug, Clone)]
pub struct ScmIntegrations {
    list: Vec<ScmIntegration>,
}

impl Default for ScmIntegrations {
    fn default() -> Self {
        let mut out = Self { list: Vec::new() };
        out.add_defaults();
        out
    }
}

fn config_error(key: &str, error: impl fmt::Display) -> CatalogError {
    CatalogError::Config(format!("{key}: {error}"))
}

impl ScmIntegrations {
    /// Only the given integrations (no defaults).
    pub fn new(list: Vec<ScmIntegration>) -> Self {
        Self { list }
    }

    fn add_defaults(&mut self) {
        for (kind, host) in [
            (IntegrationKind::GitHub, "github.com"),
            (IntegrationKind::GitLab, "gitlab.com"),
            (IntegrationKind::BitbucketCloud, "bitbucket.org"),
            (IntegrationKind::Azure, "dev.azure.com"),
        ] {
            if !self.list.iter().any(|i| i.kind == kind && i.host == host) {
                self.list.push(ScmIntegration::new(kind, host));
            }
        }
    }

    /// Reads the root config's `integrations` block: `github`, `gitlab`, `bitbucketServer`,
    /// `bitbucketCloud`, `azure` and `gitea` lists of `{host, token, …}`; then adds the
    /// defaults that are not configured.
    ///
    /// # Errors
    /// [`CatalogError::Config`] naming the key, e.g. an entry without `host`.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let mut list = Vec::new();
        let kinds = [
            IntegrationKind::GitHub,
            IntegrationKind::GitLab,
            IntegrationKind::BitbucketServer,
            IntegrationKind::BitbucketCloud,
            IntegrationKind::Azure,
            IntegrationKind::Gitea,
        ];
        for kind in kinds {
            let key = format!("integrations.{}", kind.config_key());
            let entries = config
                .optional_config_array(&key)
                .map_err(|e| config_error(&key, e))?
                .unwrap_or_default();
            for (i, entry) in entries.iter().enumerate() {
                let key = format!("{key}[{i}]");
                let err = |e| config_error(&key, e);
                let host = match kind {
                    IntegrationKind::BitbucketCloud => "bitbucket.org".to_owned(),
                    IntegrationKind::GitHub | IntegrationKind::GitLab | IntegrationKind::Azure => {
                        entry
                            .optional_string("host")
                            .map_err(err)?
                            .unwrap_or_else(|| {
                                match kind {
                                    IntegrationKind::GitHub => "github.com",
                                    IntegrationKind::GitLab => "gitlab.com",
                                    _ => "dev.azure.com",
                                }
                                .to_owned()
                            })
                    }
                    _ => entry.string("host").map_err(err)?,
                };
                let mut integration = ScmIntegration::new(kind, host);
                if let Some(url) = entry.optional_string("apiBaseUrl").map_err(err)? {
                    integration = integration.api_base_url(url);
                }
                if let Some(url) = entry.optional_string("rawBaseUrl").map_err(err)? {
                    integration = integration.raw_base_url(url);
                }
                let token = entry.optional_string("token").map_err(err)?;
                let username = entry.optional_string("username").map_err(err)?;
                let password = match kind {
                    IntegrationKind::BitbucketCloud => entry.optional_string("appPassword"),
                    _ => entry.optional_string("password"),
                }
                .map_err(err)?;
                if let Some(token) = token {
                    integration = integration.token(&token);
                } else if let (Some(u), Some(p)) = (username, password) {
                    integration = integration.basic_auth(&u, &p);
                } else if kind == IntegrationKind::Azure {
                    let credentials = entry
                        .optional_config_array("credentials")
                        .map_err(err)?
                        .unwrap_or_default();
                    for credential in credentials {
                        if let Some(pat) = credential
                            .optional_string("personalAccessToken")
                            .map_err(err)?
                        {
                            integration = integration.token(&pat);
                            break;
                        }
                    }
                }
                list.push(integration);
            }
        }
        let mut out = Self { list };
        out.add_defaults();
        Ok(out)
    }

    /// The integrations, configured ones first.
    pub fn list(&self) -> &[ScmIntegration] {
        &self.list
    }

    /// The integration whose host is the URL's `host[:port]`.
    pub fn by_url(&self, url: &Url) -> Option<&ScmIntegration> {
        let host = url_host(url);
        self.by_host(&host)
    }

    /// The integration with this `host[:port]` (case-insensitive).
    pub fn by_host(&self, host: &str) -> Option<&ScmIntegration> {
        self.list.iter().find(|i| i.host.eq_ignore_ascii_case(host))
    }

    /// Resolves `url` against `base` (Backstage's `resolveUrl`): an absolute URL is returned
    /// verbatim; a path starting with `/` is taken from the repository root for SCM URLs
    /// (`…/blob/<ref>/`) and from the host root otherwise; anything else is resolved like a
    /// browser resolves a relative link. The base's query string is kept.
    ///
    /// # Errors
    /// `Invalid URL` when `base` is not a URL (e.g. a file path) and `url` is relative.
    pub fn resolve_url(&self, url: &str, base: &str) -> std::result::Result<String, String> {
        if Url::parse(url).is_ok() {
            return Ok(url.to_owned());
        }
        let base_url = Url::parse(base).map_err(|_| "Invalid URL".to_owned())?;
        let mut updated = if let Some(absolute) = url.strip_prefix('/') {
            let root = self.repository_root(&base_url);
            let mut u = base_url.clone();
            u.set_query(None);
            u.set_fragment(None);
            u.set_path(&format!("{}/{absolute}", root.trim_end_matches('/')));
            u
        } else {
            base_url.join(url).map_err(|_| "Invalid URL".to_owned())?
        };
        updated.set_query(base_url.query());
        Ok(updated.to_string())
    }

    /// The path of the repository root of a file URL: `/<owner>/<repo>/blob/<ref>` for
    /// GitHub-like URLs, `/<project>/-/blob/<ref>` for GitLab, `/` for anything else.
    fn repository_root(&self, url: &Url) -> String {
        let path = url.path();
        if let Some((project, rest)) = path.split_once("/-/") {
            let mut parts = rest.splitn(3, '/');
            if let (Some(kind), Some(git_ref)) = (parts.next(), parts.next()) {
                return format!("{project}/-/{kind}/{git_ref}");
            }
        }
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if self.by_url(url).is_some()
            && segments.len() >= 4
            && matches!(segments[2], "blob" | "tree" | "edit" | "raw")
        {
            return format!("/{}", segments[..4].join("/"));
        }
        "/".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn defaults_and_config() {
        let i = ScmIntegrations::from_config(&ConfigReader::from_value(json!({"integrations": {
            "github": [{"host": "ghe.example.com", "token": "t1", "apiBaseUrl": "https://ghe.example.com/api/v3"}],
            "gitlab": [{"host": "gitlab.example.com:8443", "token": "t2"}],
            "azure": [{"host": "dev.azure.com", "credentials": [{"personalAccessToken": "pat"}]}],
            "gitea": [{"host": "gitea.local", "username": "u", "password": "p"}],
        }})))
        .unwrap();
        assert_eq!(
            i.by_host("ghe.example.com").unwrap().authorization(),
            Some("token t1")
        );
        assert_eq!(
            i.by_url(&url("https://gitlab.example.com:8443/a/b"))
                .unwrap()
                .authorization(),
            Some("Bearer t2")
        );
        assert!(i.by_url(&url("https://gitlab.example.com/a/b")).is_none());
        assert_eq!(
            i.by_host("dev.azure.com").unwrap().authorization(),
            Some("Basic OnBhdA==")
        );
        assert_eq!(
            i.by_host("gitea.local").unwrap().authorization(),
            Some("Basic dTpw")
        );
        assert!(i.by_host("github.com").unwrap().authorization().is_none());
        assert!(i.by_host("bitbucket.org").is_some());
        let debug = format!("{i:?}");
        assert!(
            !debug.contains("t1") && debug.contains("<redacted>"),
            "{debug}"
        );
        let e = ScmIntegrations::from_config(&ConfigReader::from_value(
            json!({"integrations": {"gitea": [{}]}}),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("integrations.gitea[0]"), "{e}");
    }

    #[test]
    fn github_blob_urls_become_raw_or_api_urls() {
        let public = ScmIntegration::new(IntegrationKind::GitHub, "github.com");
        let (u, api) = public.fetch_url(&url(
            "https://github.com/o/r/blob/main/dir/catalog-info.yaml",
        ));
        assert_eq!(
            u.as_str(),
            "https://raw.githubusercontent.com/o/r/main/dir/catalog-info.yaml"
        );
        assert!(!api);
        let private = ScmIntegration::new(IntegrationKind::GitHub, "github.com").token("x");
        let (u, api) = private.fetch_url(&url("https://github.com/o/r/blob/main/a.yaml"));
        assert_eq!(
            u.as_str(),
            "https://api.github.com/repos/o/r/contents/a.yaml?ref=main"
        );
        assert!(api);
        let (u, _) = public.fetch_url(&url("https://github.com/o/r/raw/main/a.yaml"));
        assert_eq!(u.as_str(), "https://github.com/o/r/raw/main/a.yaml");
    }

    #[test]
    fn gitlab_blob_urls_use_the_files_api() {
        let g = ScmIntegration::new(IntegrationKind::GitLab, "gitlab.com");
        let (u, _) = g.fetch_url(&url(
            "https://gitlab.com/group/sub/repo/-/blob/main/dir/c.yaml",
        ));
        assert_eq!(
            u.as_str(),
            "https://gitlab.com/api/v4/projects/group%2Fsub%2Frepo/repository/files/dir%2Fc.yaml/raw?ref=main"
        );
    }

    #[test]
    fn edit_urls_and_repositories() {
        let gh = ScmIntegration::new(IntegrationKind::GitHub, "github.com");
        assert_eq!(
            gh.resolve_edit_url("https://github.com/o/r/blob/main/c.yaml"),
            "https://github.com/o/r/edit/main/c.yaml"
        );
        let gl = ScmIntegration::new(IntegrationKind::GitLab, "gitlab.com");
        assert_eq!(
            gl.resolve_edit_url("https://gitlab.com/g/r/-/blob/main/c.yaml"),
            "https://gitlab.com/g/r/-/edit/main/c.yaml"
        );
        assert_eq!(
            gh.repository_of(&url("https://github.com/O/R/blob/x/y"))
                .unwrap(),
            "github.com/o/r"
        );
        assert_eq!(
            gl.repository_of(&url("https://gitlab.com/g/s/r/-/blob/x/y"))
                .unwrap(),
            "gitlab.com/g/s/r"
        );
        assert_eq!(
            gh.owner_and_name(&url("https://github.com/O/R.git"))
                .unwrap(),
            ("O".into(), "R".into())
        );
        assert_eq!(
            gl.owner_and_name(&url("https://gitlab.com/g/s/r/-/blob/x/y"))
                .unwrap(),
            ("g/s".into(), "r".into())
        );
        let az = ScmIntegration::new(IntegrationKind::Azure, "dev.azure.com");
        assert_eq!(
            az.owner_and_name(&url(
                "https://dev.azure.com/org/proj/_git/repo?path=/c.yaml"
            ))
            .unwrap(),
            ("org".into(), "repo".into())
        );
    }

    #[test]
    fn resolve_url_like_backstage() {
        let i = ScmIntegrations::default();
        let base = "https://github.com/o/r/blob/main/dir/catalog-info.yaml";
        assert_eq!(
            i.resolve_url("./api.yaml", base).unwrap(),
            "https://github.com/o/r/blob/main/dir/api.yaml"
        );
        assert_eq!(
            i.resolve_url("../x.yaml", base).unwrap(),
            "https://github.com/o/r/blob/main/x.yaml"
        );
        assert_eq!(
            i.resolve_url("/docs/x.md", base).unwrap(),
            "https://github.com/o/r/blob/main/docs/x.md"
        );
        assert_eq!(
            i.resolve_url("https://a.b/c", base).unwrap(),
            "https://a.b/c"
        );
        assert_eq!(
            i.resolve_url("./", base).unwrap(),
            "https://github.com/o/r/blob/main/dir/"
        );
        assert_eq!(
            i.resolve_url("/x", "http://127.0.0.1:80/a/b/c.yaml")
                .unwrap(),
            "http://127.0.0.1/x"
        );
        assert_eq!(
            i.resolve_url("./b.yaml", "https://h/a.yaml?ref=x").unwrap(),
            "https://h/b.yaml?ref=x"
        );
        assert_eq!(
            i.resolve_url("./b", "/abs/path.yaml").unwrap_err(),
            "Invalid URL"
        );
    }
}
