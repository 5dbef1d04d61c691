//! `UrlReaderProcessor` (name `url-reader`): reads `url` locations.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::error::{ProcessorError, ProcessorResult};
use super::parse::{ParsedItem, parse_entity_yaml};
use super::processor::{CatalogProcessor, ProcessorContext};
use super::url_reader::{ReadUrlOptions, UrlReadError, UrlReader};
use crate::model::LocationSpec;

/// The cache key of the processor's state (Backstage's, so that the state is shared with a
/// Node catalog on the same database).
const CACHE_KEY: &str = "v1";

/// Reads `url` locations through a [`UrlReader`], parses the YAML (one entity per
/// document) and emits the entities and the refresh key `url:<target>`.
///
/// With an ETag from the previous run (kept in the processor cache together with the
/// entities read), a "not modified" answer replays the cached entities without parsing.
/// A missing target is `NotFoundError: Unable to read url, NotFoundError: …` unless the
/// location is optional; other failures are `Error: Unable to read url, <Name>: …`.
/// Targets with glob characters in their path go to [`UrlReader::search`].
#[derive(Debug, Clone)]
pub struct UrlReaderProcessor {
    reader: Arc<dyn UrlReader>,
}

impl UrlReaderProcessor {
    /// The processor over a reader.
    pub fn new(reader: Arc<dyn UrlReader>) -> Self {
        Self { reader }
    }

    /// Reads the target (or the files matching it) with the cached ETag.
    async fn read(
        &self,
        target: &str,
        etag: Option<String>,
    ) -> Result<(Vec<(String, bytes::Bytes)>, Option<String>), UrlReadError> {
        let is_glob = url::Url::parse(target).is_ok_and(|u| u.path().contains(['*', '?']));
        let options = ReadUrlOptions::with_etag(etag);
        if is_glob {
            let response = self.reader.search(target, options).await?;
            let files = response
                .files
                .into_iter()
                .map(|f| (f.url, f.content))
                .collect();
            Ok((files, response.etag))
        } else {
            let response = self.reader.read_url(target, options).await?;
            Ok((vec![(target.to_owned(), response.body)], response.etag))
        }
    }
}

#[async_trait]
impl CatalogProcessor for UrlReaderProcessor {
    fn name(&self) -> &str {
        "url-reader"
    }

    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        ctx: &mut ProcessorContext<'_>,
    ) -> ProcessorResult<bool> {
        if location.kind != "url" {
            return Ok(false);
        }
        let cached_etag = ctx
            .cache()
            .get(CACHE_KEY)
            .and_then(|item| item.get("etag"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let has_cache = cached_etag.is_some();
        match self.read(&location.target, cached_etag).await {
            Ok((files, etag)) => {
                let mut cached = Vec::new();
                let mut only_entities = true;
                for (url, data) in files {
                    let at = LocationSpec::new("url", url);
                    for item in parse_entity_yaml(&data, &at) {
                        match item {
                            ParsedItem::Entity(entity) => {
                                if etag.is_some() {
                                    cached.push(json!({
                                        "type": "entity",
                                        "entity": entity.clone(),
                                        "location": {"type": at.kind, "target": at.target},
                                    }));
                                }
                                ctx.emit().entity(&at, entity);
                            }
                            ParsedItem::Error(e) => {
                                only_entities = false;
                                ctx.emit().error(&at, e);
                            }
                        }
                    }
                }
                if let Some(etag) = etag
                    && only_entities
                {
                    ctx.cache()
                        .set(CACHE_KEY, json!({"etag": etag, "value": cached}));
                }
            }
            Err(UrlReadError::NotModified) if has_cache => {
                let items = ctx
                    .cache()
                    .get(CACHE_KEY)
                    .and_then(|item| item.get("value"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for item in items {
                    let Value::Object(mut item) = item else {
                        continue;
                    };
                    let at = item
                        .get("location")
                        .and_then(|l| {
                            Some(LocationSpec::new(
                                l.get("type")?.as_str()?,
                                l.get("target")?.as_str()?,
                            ))
                        })
                        .unwrap_or_else(|| location.clone());
                    if let Some(entity) = item.remove("entity") {
                        ctx.emit().entity(&at, entity);
                    }
                }
            }
            Err(error) => {
                let message = format!("Unable to read {}, {error}", location.kind);
                match error {
                    UrlReadError::NotFound(_) => {
                        if !optional {
                            ctx.emit()
                                .error(location, ProcessorError::not_found(message));
                        }
                    }
                    _ => ctx.emit().error(location, ProcessorError::general(message)),
                }
            }
        }
        ctx.emit()
            .refresh(format!("{}:{}", location.kind, location.target));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processing::processor::{Emitter, ProcessorCache};
    use crate::processing::url_reader::ReadUrlResponse;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct FakeReader {
        calls: Mutex<Vec<Option<String>>>,
    }

    #[async_trait]
    impl UrlReader for FakeReader {
        async fn read_url(
            &self,
            url: &str,
            options: ReadUrlOptions,
        ) -> Result<ReadUrlResponse, UrlReadError> {
            self.calls.lock().unwrap().push(options.etag.clone());
            if url.ends_with("missing.yaml") {
                return Err(UrlReadError::NotFound(format!(
                    "could not read {url}, 404 Not Found"
                )));
            }
            if options.etag.as_deref() == Some("\"e1\"") {
                return Err(UrlReadError::NotModified);
            }
            Ok(ReadUrlResponse {
                body: bytes::Bytes::from_static(
                    b"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\n",
                ),
                etag: Some("\"e1\"".into()),
            })
        }
    }

    async fn read(
        p: &UrlReaderProcessor,
        target: &str,
        optional: bool,
        cache: &mut ProcessorCache,
    ) -> Emitter {
        let parent = LocationSpec::new("url", "https://h/root.yaml");
        let mut emitter = Emitter::new(
            "location:default/l",
            parent.location_ref(),
            parent.location_ref(),
        );
        let mut ctx = ProcessorContext::new(&parent, &parent, &mut emitter, cache);
        assert!(
            p.read_location(&LocationSpec::new("url", target), optional, &mut ctx)
                .await
                .unwrap()
        );
        emitter
    }

    #[tokio::test]
    async fn etag_is_cached_and_replayed() {
        let reader = Arc::new(FakeReader::default());
        let p = UrlReaderProcessor::new(reader.clone());
        let mut cache = ProcessorCache::default();
        let first = read(&p, "https://h/a.yaml", false, &mut cache).await;
        assert_eq!(first.children().len(), 1);
        assert_eq!(first.refresh_keys(), ["url:https://h/a.yaml"]);
        let state = cache.collect().unwrap();
        assert_eq!(state["v1"]["etag"], "\"e1\"");
        let mut cache = ProcessorCache::from_existing(Some(Value::Object(state)));
        let second = read(&p, "https://h/a.yaml", false, &mut cache).await;
        assert_eq!(second.children(), first.children());
        assert!(second.errors().is_empty());
        assert_eq!(
            *reader.calls.lock().unwrap(),
            [None, Some("\"e1\"".to_owned())]
        );
        assert!(!cache.has_new(), "a replay keeps the previous state");
    }

    #[tokio::test]
    async fn missing_targets_and_globs() {
        let p = UrlReaderProcessor::new(Arc::new(FakeReader::default()));
        let mut cache = ProcessorCache::default();
        let e = read(&p, "https://h/missing.yaml", false, &mut cache).await;
        assert_eq!(e.errors()[0].name, "NotFoundError");
        assert_eq!(
            e.errors()[0].message,
            "Unable to read url, NotFoundError: could not read https://h/missing.yaml, 404 Not Found"
        );
        let e = read(&p, "https://h/missing.yaml", true, &mut cache).await;
        assert!(e.errors().is_empty());
        let e = read(&p, "https://h/dir/*.yaml", false, &mut cache).await;
        assert_eq!(e.errors()[0].name, "Error");
        assert!(
            e.errors()[0]
                .message
                .starts_with("Unable to read url, NotImplementedError: ")
        );
    }
}
