//! `PlaceholderProcessor`: resolves `$text`, `$json` and `$yaml` (spec 4.6).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use backstage_catalog_model::yaml::parse_yaml_documents;
use serde_json::Value;
use url::Url;

use super::error::{ProcessorError, ProcessorResult};
use super::integrations::ScmIntegrations;
use super::processor::{CatalogProcessor, Emitter, ProcessorContext};
use super::url_reader::{ReadUrlOptions, UrlReader};

/// What a [`PlaceholderResolver`] gets: the placeholder and the means to read what it
/// points at.
pub struct PlaceholderParams<'a> {
    key: &'a str,
    value: &'a str,
    base_url: &'a str,
    reader: &'a dyn UrlReader,
    integrations: &'a ScmIntegrations,
    emitter: &'a mut Emitter,
}

impl fmt::Debug for PlaceholderParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaceholderParams")
            .field("key", &self.key)
            .field("value", &self.value)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl PlaceholderParams<'_> {
    /// The resolver key, without `$` (`text`).
    pub fn key(&self) -> &str {
        self.key
    }

    /// The placeholder's value (a URL or a path relative to the entity's location).
    pub fn value(&self) -> &str {
        self.value
    }

    /// The target of the entity's location, against which the value is resolved.
    pub fn base_url(&self) -> &str {
        self.base_url
    }

    /// The emitter of the entity being processed (for refresh keys, relations, …).
    pub fn emit(&mut self) -> &mut Emitter {
        self.emitter
    }

    /// Resolves the value against the entity's location and checks the same-repository
    /// rule.
    ///
    /// # Errors
    /// `Placeholder $<key> could not form a URL out of <base> and <value>, TypeError: …`
    /// (e.g. for entities read from `file` locations, whose paths are not URLs), or
    /// `Placeholder may only reference files from the same repository as the entity`.
    pub fn resolve_url(&self) -> ProcessorResult<String> {
        let resolved = self
            .integrations
            .resolve_url(self.value, self.base_url)
            .map_err(|e| {
                ProcessorError::general(format!(
                    "Placeholder ${} could not form a URL out of {} and {}, TypeError: {e}",
                    self.key, self.base_url, self.value
                ))
            })?;
        if let (Ok(base), Ok(target)) = (Url::parse(self.base_url), Url::parse(&resolved)) {
            let repo_of = |u: &Url| self.integrations.by_url(u).and_then(|i| i.repository_of(u));
            if let (Some(a), Some(b)) = (repo_of(&base), repo_of(&target))
                && a != b
            {
                return Err(ProcessorError::general(
                    "Placeholder may only reference files from the same repository as the entity",
                ));
            }
        }
        Ok(resolved)
    }

    /// Resolves, reads and emits the refresh key `url:<resolved URL>`; returns the text
    /// (Backstage's `readTextLocation`).
    ///
    /// # Errors
    /// Those of [`resolve_url`](Self::resolve_url), and `Placeholder $<key> could not read
    /// location <value>, <Name>: <message>` when the read fails.
    pub async fn read_text(&mut self) -> ProcessorResult<String> {
        let url = self.resolve_url()?;
        let response = self
            .reader
            .read_url(&url, ReadUrlOptions::default())
            .await
            .map_err(|e| {
                ProcessorError::general(format!(
                    "Placeholder ${} could not read location {}, {e}",
                    self.key, self.value
                ))
            })?;
        self.emitter.refresh(format!("url:{url}"));
        Ok(String::from_utf8_lossy(&response.body).into_owned())
    }
}

/// Resolves one kind of placeholder (`$text`, or one of your own).
///
/// ```
/// use async_trait::async_trait;
/// use backstage_catalog_backend::processing::{PlaceholderParams, PlaceholderResolver, ProcessorResult};
/// use serde_json::Value;
///
/// /// `$lines: ./file.txt` → the file's lines as an array.
/// #[derive(Debug)]
/// struct Lines;
///
/// #[async_trait]
/// impl PlaceholderResolver for Lines {
///     async fn resolve(&self, params: &mut PlaceholderParams<'_>) -> ProcessorResult<Value> {
///         let text = params.read_text().await?;
///         Ok(text.lines().map(|l| Value::String(l.to_owned())).collect())
///     }
/// }
/// ```
#[async_trait]
pub trait PlaceholderResolver: Send + Sync + fmt::Debug {
    /// The value that replaces the placeholder object.
    ///
    /// # Errors
    /// Any error fails the entity (`Processor PlaceholderProcessor threw an error while
    /// preprocessing; caused by …`).
    async fn resolve(&self, params: &mut PlaceholderParams<'_>) -> ProcessorResult<Value>;
}

/// `$text`: the file's content as a string.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextResolver;

#[async_trait]
impl PlaceholderResolver for TextResolver {
    async fn resolve(&self, params: &mut PlaceholderParams<'_>) -> ProcessorResult<Value> {
        Ok(Value::String(params.read_text().await?))
    }
}

/// `$json`: the file parsed as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonResolver;

#[async_trait]
impl PlaceholderResolver for JsonResolver {
    async fn resolve(&self, params: &mut PlaceholderParams<'_>) -> ProcessorResult<Value> {
        let text = params.read_text().await?;
        serde_json::from_str(&text).map_err(|e| {
            ProcessorError::general(format!(
                "Placeholder ${} failed to parse JSON data at {}, SyntaxError: {e}",
                params.key(),
                params.value()
            ))
        })
    }
}

/// `$yaml`: the file parsed as YAML; it must hold exactly one document.
#[derive(Debug, Clone, Copy, Default)]
pub struct YamlResolver;

#[async_trait]
impl PlaceholderResolver for YamlResolver {
    async fn resolve(&self, params: &mut PlaceholderParams<'_>) -> ProcessorResult<Value> {
        let text = params.read_text().await?;
        let mut documents = parse_yaml_documents(&text);
        if documents.len() != 1 {
            return Err(ProcessorError::general(format!(
                "Placeholder ${} expected to find exactly one document of data at {}, found {}",
                params.key(),
                params.value(),
                documents.len()
            )));
        }
        match documents.pop() {
            Some(Ok(doc)) => Ok(doc.into_value()),
            Some(Err(e)) => Err(ProcessorError::general(format!(
                "Placeholder ${} found an error in the data at {}, {e}",
                params.key(),
                params.value()
            ))),
            None => Ok(Value::Null),
        }
    }
}

/// Replaces placeholder objects (`{"$text": "./README.md"}`) by what their resolver
/// returns, in the pre-processing stage (spec 4.6). Always installed.
///
/// An object is a placeholder when it has exactly one key, that key is `$<resolver>` for a
/// known resolver, and its value is a string. Objects with several keys (some `$`-prefixed)
/// and unknown resolvers (JSON Schema's `$ref`) are left alone, without looking inside.
#[derive(Debug, Clone)]
pub struct PlaceholderProcessor {
    resolvers: HashMap<String, Arc<dyn PlaceholderResolver>>,
    reader: Arc<dyn UrlReader>,
    integrations: ScmIntegrations,
}

impl PlaceholderProcessor {
    /// The processor with the `text`, `json` and `yaml` resolvers.
    pub fn new(reader: Arc<dyn UrlReader>, integrations: ScmIntegrations) -> Self {
        let mut resolvers: HashMap<String, Arc<dyn PlaceholderResolver>> = HashMap::new();
        resolvers.insert("text".into(), Arc::new(TextResolver));
        resolvers.insert("json".into(), Arc::new(JsonResolver));
        resolvers.insert("yaml".into(), Arc::new(YamlResolver));
        Self {
            resolvers,
            reader,
            integrations,
        }
    }

    /// Adds (or replaces) the resolver of `$<key>`.
    #[must_use]
    pub fn with_resolver(
        mut self,
        key: impl Into<String>,
        resolver: Arc<dyn PlaceholderResolver>,
    ) -> Self {
        self.resolvers.insert(key.into(), resolver);
        self
    }

    /// Collects the paths (object keys / array indices) of the placeholders in `value`.
    fn find(&self, value: &Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if matches!(item, Value::Array(_) | Value::Object(_)) {
                        path.push(PathStep::Index(i));
                        self.find(item, path, out);
                        path.pop();
                    }
                }
            }
            Value::Object(map) => {
                if !map.keys().any(|k| k.starts_with('$')) {
                    for (k, v) in map {
                        if matches!(v, Value::Array(_) | Value::Object(_)) {
                            path.push(PathStep::Key(k.clone()));
                            self.find(v, path, out);
                            path.pop();
                        }
                    }
                } else if map.len() == 1
                    && let Some((k, Value::String(_))) = map.iter().next()
                    && self.resolvers.contains_key(&k[1..])
                {
                    out.push(path.clone());
                }
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn walk_mut<'v>(mut value: &'v mut Value, path: &[PathStep]) -> Option<&'v mut Value> {
    for step in path {
        value = match (step, value) {
            (PathStep::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (PathStep::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

#[async_trait]
impl CatalogProcessor for PlaceholderProcessor {
    fn name(&self) -> &str {
        "PlaceholderProcessor"
    }

    async fn pre_process_entity(
        &self,
        mut entity: Value,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<Value> {
        let mut found = Vec::new();
        self.find(&entity, &mut Vec::new(), &mut found);
        if found.is_empty() {
            return Ok(entity);
        }
        let base_url = ctx.location().target.clone();
        for path in found {
            let Some(slot) = walk_mut(&mut entity, &path) else {
                continue;
            };
            let Some((key, value)) = slot
                .as_object()
                .and_then(|m| m.iter().next())
                .and_then(|(k, v)| Some((k[1..].to_owned(), v.as_str()?.to_owned())))
            else {
                continue;
            };
            let Some(resolver) = self.resolvers.get(&key) else {
                continue;
            };
            let mut params = PlaceholderParams {
                key: &key,
                value: &value,
                base_url: &base_url,
                reader: self.reader.as_ref(),
                integrations: &self.integrations,
                emitter: ctx.emit(),
            };
            *slot = resolver.resolve(&mut params).await?;
        }
        Ok(entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LocationSpec;
    use crate::processing::processor::ProcessorCache;
    use crate::processing::url_reader::{ReadUrlResponse, UrlReadError};
    use serde_json::json;

    #[derive(Debug)]
    struct MapReader(HashMap<String, &'static str>);

    #[async_trait]
    impl UrlReader for MapReader {
        async fn read_url(
            &self,
            url: &str,
            _options: ReadUrlOptions,
        ) -> Result<ReadUrlResponse, UrlReadError> {
            match self.0.get(url) {
                Some(body) => Ok(ReadUrlResponse {
                    body: bytes::Bytes::from_static(body.as_bytes()),
                    etag: None,
                }),
                None => Err(UrlReadError::NotFound(format!(
                    "could not read {url}, 404 Not Found"
                ))),
            }
        }
    }

    fn processor() -> PlaceholderProcessor {
        let base = "https://github.com/o/r/blob/main/dir";
        let files = [
            (format!("{base}/a.txt"), "hello"),
            (format!("{base}/a.json"), "{\"x\": [1, 2]}"),
            (format!("{base}/a.yaml"), "y: true\n"),
            (format!("{base}/two.yaml"), "a: 1\n---\nb: 2\n"),
            (format!("{base}/bad.json"), "{"),
        ];
        PlaceholderProcessor::new(
            Arc::new(MapReader(files.into_iter().collect())),
            ScmIntegrations::default(),
        )
    }

    async fn run(
        p: &PlaceholderProcessor,
        entity: Value,
        target: &str,
    ) -> (ProcessorResult<Value>, Emitter) {
        let location = LocationSpec::new("url", target);
        let mut emitter = Emitter::new(
            "component:default/c",
            location.location_ref(),
            location.location_ref(),
        );
        let mut cache = ProcessorCache::default();
        let mut ctx = ProcessorContext::new(&location, &location, &mut emitter, &mut cache);
        let result = p.pre_process_entity(entity, &mut ctx).await;
        (result, emitter)
    }

    const BASE: &str = "https://github.com/o/r/blob/main/dir/catalog-info.yaml";

    #[tokio::test]
    async fn resolves_text_json_yaml_and_emits_refresh_keys() {
        let (out, emitter) = run(
            &processor(),
            json!({"spec": {
                "a": {"$text": "./a.txt"},
                "b": [{"$json": "a.json"}, {"$yaml": "https://github.com/o/r/blob/main/dir/a.yaml"}],
                "schema": {"$ref": "#/x"},
                "two": {"$text": "./a.txt", "other": 1},
                "num": {"$text": 5},
            }}),
            BASE,
        )
        .await;
        let out = out.unwrap();
        assert_eq!(out["spec"]["a"], "hello");
        assert_eq!(out["spec"]["b"], json!([{"x": [1, 2]}, {"y": true}]));
        assert_eq!(out["spec"]["schema"], json!({"$ref": "#/x"}));
        assert_eq!(out["spec"]["two"], json!({"$text": "./a.txt", "other": 1}));
        assert_eq!(out["spec"]["num"], json!({"$text": 5}));
        assert_eq!(
            emitter.refresh_keys(),
            [
                "url:https://github.com/o/r/blob/main/dir/a.txt",
                "url:https://github.com/o/r/blob/main/dir/a.json",
                "url:https://github.com/o/r/blob/main/dir/a.yaml",
            ]
        );
    }

    #[tokio::test]
    async fn errors_have_backstage_messages() {
        let p = processor();
        let cases = [
            (
                json!({"$text": "./missing.txt"}),
                BASE,
                "Placeholder $text could not read location ./missing.txt, NotFoundError: could not read https://github.com/o/r/blob/main/dir/missing.txt, 404 Not Found",
            ),
            (
                json!({"$yaml": "./two.yaml"}),
                BASE,
                "Placeholder $yaml expected to find exactly one document of data at ./two.yaml, found 2",
            ),
            (
                json!({"$text": "https://github.com/o/other/blob/main/a.txt"}),
                BASE,
                "Placeholder may only reference files from the same repository as the entity",
            ),
            (
                json!({"$text": "./a.txt"}),
                "/srv/catalog-info.yaml",
                "Placeholder $text could not form a URL out of /srv/catalog-info.yaml and ./a.txt, TypeError: Invalid URL",
            ),
        ];
        for (spec, base, message) in cases {
            let (out, _) = run(&p, json!({"spec": {"x": spec}}), base).await;
            let e = out.unwrap_err();
            assert_eq!(e.name(), "Error");
            assert_eq!(e.message(), message);
        }
        let (out, _) = run(&p, json!({"spec": {"x": {"$json": "./bad.json"}}}), BASE).await;
        let e = out.unwrap_err();
        assert!(
            e.message().starts_with(
                "Placeholder $json failed to parse JSON data at ./bad.json, SyntaxError: "
            ),
            "{}",
            e.message()
        );
    }
}
