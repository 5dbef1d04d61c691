//! [`Orchestrator`]: runs the processors on one entity (spec 4.4), and the in-memory dry
//! run of `POST /locations?dryRun=true` (spec 3.12).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use backstage_catalog_model::kinds::KindValidator;
use backstage_catalog_model::location::{parse_location_ref, parse_location_ref_value};
use backstage_catalog_model::policy::EntityPolicy;
use backstage_catalog_model::{EntityValidator, stringify_entity_ref_value};
use backstage_core_plugin_api::ConfigReader;
use serde_json::{Map, Value};

use super::annotate::AnnotateLocationEntityProcessor;
use super::builtin_kinds::BuiltinKindsEntityProcessor;
use super::error::ProcessorError;
use super::file_reader::FileReaderProcessor;
use super::integrations::ScmIntegrations;
use super::placeholder::{PlaceholderProcessor, PlaceholderResolver};
use super::processor::{CatalogProcessor, Emitter, ProcessorCache, ProcessorContext};
use super::rules::{CatalogRules, normalize_path};
use super::url_reader::{HttpUrlReader, ReadingAllowRule, UrlReader, reading_allow_from_config};
use super::url_reader_processor::UrlReaderProcessor;
use crate::error::{CatalogError, Result};
use crate::model::{
    ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION, LocationSpec, Presence, ProcessingOutput,
    SerializedError,
};

/// Most entities one dry run processes.
const MAX_DRY_RUN_ENTITIES: usize = 10_000;

/// `catalog.processorOptions.<name>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessorOptions {
    /// `disabled: true` removes the processor.
    pub disabled: bool,
    /// Overrides the processor's priority (lower runs first).
    pub priority: Option<i32>,
}

/// Everything the [`Orchestrator`] is configured with; [`OrchestratorOptions::from_config`]
/// reads it from the root config, `Default` is Backstage's defaults.
#[derive(Clone)]
#[non_exhaustive]
pub struct OrchestratorOptions {
    /// `catalog.rules` and `catalog.locations[].rules`.
    pub rules: CatalogRules,
    /// `catalog.allowedLocationTypes` (ours; default `["url"]`): the types `POST /locations`
    /// accepts, and the types a Location entity may switch to from its own type.
    pub allowed_location_types: Vec<String>,
    /// `catalog.disableDefaultProcessors`: drops the file, url and annotate processors.
    pub disable_default_processors: bool,
    /// `catalog.processorOptions`.
    pub processor_options: HashMap<String, ProcessorOptions>,
    /// The `integrations` block.
    pub integrations: ScmIntegrations,
    /// `backend.reading.allow`.
    pub reading_allow: Vec<ReadingAllowRule>,
    /// Policies run after the default chain.
    pub policies: Vec<Arc<dyn EntityPolicy>>,
    /// Extra placeholder resolvers, by key (without `$`).
    pub placeholder_resolvers: Vec<(String, Arc<dyn PlaceholderResolver>)>,
    /// Extra kind validators for the built-in kinds processor (e.g. `Template`).
    pub kind_validators: Vec<Arc<dyn KindValidator>>,
}

impl fmt::Debug for OrchestratorOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrchestratorOptions")
            .field("rules", &self.rules)
            .field("allowed_location_types", &self.allowed_location_types)
            .field(
                "disable_default_processors",
                &self.disable_default_processors,
            )
            .field("processor_options", &self.processor_options)
            .field("integrations", &self.integrations)
            .field("reading_allow", &self.reading_allow)
            .field("policies", &self.policies.len())
            .field("placeholder_resolvers", &self.placeholder_resolvers)
            .field("kind_validators", &self.kind_validators.len())
            .finish()
    }
}

impl Default for OrchestratorOptions {
    fn default() -> Self {
        Self {
            rules: CatalogRules::default(),
            allowed_location_types: vec!["url".to_owned()],
            disable_default_processors: false,
            processor_options: HashMap::new(),
            integrations: ScmIntegrations::default(),
            reading_allow: Vec::new(),
            policies: Vec::new(),
            placeholder_resolvers: Vec::new(),
            kind_validators: Vec::new(),
        }
    }
}

fn config_error(key: &str, error: impl fmt::Display) -> CatalogError {
    CatalogError::Config(format!("{key}: {error}"))
}

impl OrchestratorOptions {
    /// Reads `catalog.rules`, `catalog.locations[].rules`, `catalog.allowedLocationTypes`,
    /// `catalog.disableDefaultProcessors`, `catalog.processorOptions`, `integrations` and
    /// `backend.reading.allow` from the root config.
    ///
    /// # Errors
    /// [`CatalogError::Config`] naming the key that is wrong.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        let mut out = Self {
            rules: CatalogRules::from_config(config)?,
            integrations: ScmIntegrations::from_config(config)?,
            reading_allow: reading_allow_from_config(config)?,
            ..Self::default()
        };
        if let Some(types) = config
            .optional_string_array("catalog.allowedLocationTypes")
            .map_err(|e| config_error("catalog.allowedLocationTypes", e))?
        {
            out.allowed_location_types = types;
        }
        out.disable_default_processors = config
            .optional_boolean("catalog.disableDefaultProcessors")
            .map_err(|e| config_error("catalog.disableDefaultProcessors", e))?
            .unwrap_or(false);
        let key = "catalog.processorOptions";
        match config.optional(key).map_err(|e| config_error(key, e))? {
            None => {}
            Some(Value::Object(map)) => {
                for (name, options) in map {
                    let key = format!("{key}.{name}");
                    let Value::Object(options) = options else {
                        return Err(config_error(&key, "expected an object"));
                    };
                    let disabled = match options.get("disabled") {
                        None | Some(Value::Null) => false,
                        Some(Value::Bool(b)) => *b,
                        Some(_) => return Err(config_error(&key, "'disabled' must be a boolean")),
                    };
                    let priority = match options.get("priority") {
                        None | Some(Value::Null) => None,
                        Some(Value::Number(n)) => {
                            Some(n.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(
                                || config_error(&key, "'priority' must be an integer"),
                            )?)
                        }
                        Some(_) => return Err(config_error(&key, "'priority' must be a number")),
                    };
                    out.processor_options
                        .insert(name, ProcessorOptions { disabled, priority });
                }
            }
            Some(_) => return Err(config_error(key, "expected an object")),
        }
        Ok(out)
    }
}

/// Accepts every entity: lets [`EntityValidator`] run only its policy chain (kinds are the
/// processors' business).
#[derive(Debug)]
struct AnyKind;

impl KindValidator for AnyKind {
    fn check(&self, _entity: &Value) -> backstage_catalog_model::Result<bool> {
        Ok(true)
    }
}

/// Runs the processors on one entity (spec 4.4): envelope check, location context,
/// pre-processing, policies, kind validation, reading of Location targets,
/// post-processing and the catalog rules on the emitted children.
///
/// `Default` is Backstage's default set-up without configuration: the placeholder,
/// built-in kinds, file reader, URL reader and annotate processors; default rules; the
/// default integrations (public GitHub, GitLab, Bitbucket, Azure) and no other readable
/// host; `url` as the only allowed location type.
///
/// ```
/// # tokio_test_block_on(async {
/// use backstage_catalog_backend::processing::Orchestrator;
/// use serde_json::{Value, json};
///
/// let orchestrator = Orchestrator::default();
/// let output = orchestrator.process(json!({
///     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
///     "metadata": {"name": "svc", "annotations": {
///         "backstage.io/managed-by-location": "url:https://example.com/c.yaml",
///         "backstage.io/managed-by-origin-location": "url:https://example.com/c.yaml"}},
///     "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
/// }), Value::Null).await;
/// assert!(output.ok, "{:?}", output.errors);
/// assert_eq!(output.entity.unwrap()["metadata"]["namespace"], "default");
/// assert_eq!(output.relations[0].target_ref, "group:default/team-a");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
pub struct Orchestrator {
    processors: Vec<Arc<dyn CatalogProcessor>>,
    policy: EntityValidator,
    rules: CatalogRules,
    allowed_location_types: Vec<String>,
    integrations: ScmIntegrations,
    url_reader: Arc<dyn UrlReader>,
}

impl fmt::Debug for Orchestrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Orchestrator")
            .field(
                "processors",
                &self.processors.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .field("rules", &self.rules)
            .field("allowed_location_types", &self.allowed_location_types)
            .field("integrations", &self.integrations)
            .field("url_reader", &self.url_reader)
            .finish_non_exhaustive()
    }
}

impl Default for Orchestrator {
    fn default() -> Self {
        Self::new(OrchestratorOptions::default(), Vec::new(), None)
    }
}

/// Why a dry run failed (spec 3.12); `Display` is the message of the `400` answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DryRunError {
    /// An entity failed to process: its errors. Displayed as Backstage does,
    /// `<Name>: <message>` joined by `, `.
    Processing(Vec<SerializedError>),
    /// Two processed entities have the same ref: `Duplicate nested entity: <ref>`.
    DuplicateEntity(String),
    /// The location expands to more entities than a dry run processes.
    TooManyEntities(usize),
}

impl fmt::Display for DryRunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Processing(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", e.name, e.message)?;
                }
                Ok(())
            }
            Self::DuplicateEntity(r) => write!(f, "Duplicate nested entity: {r}"),
            Self::TooManyEntities(n) => {
                write!(f, "The location expands to more than {n} entities")
            }
        }
    }
}

impl std::error::Error for DryRunError {}

impl From<DryRunError> for CatalogError {
    fn from(error: DryRunError) -> Self {
        CatalogError::Input(error.to_string())
    }
}

impl Orchestrator {
    /// An orchestrator with the built-in processors (as configured by `options`) followed
    /// by `extra_processors`, ordered by priority (stable). An extra processor with the
    /// name of a built-in one replaces it. Without a `url_reader`, an [`HttpUrlReader`] over
    /// the options' integrations and `backend.reading.allow` is used.
    pub fn new(
        options: OrchestratorOptions,
        extra_processors: Vec<Arc<dyn CatalogProcessor>>,
        url_reader: Option<Arc<dyn UrlReader>>,
    ) -> Self {
        let OrchestratorOptions {
            rules,
            allowed_location_types,
            disable_default_processors,
            processor_options,
            integrations,
            reading_allow,
            policies,
            placeholder_resolvers,
            kind_validators,
        } = options;
        let url_reader: Arc<dyn UrlReader> = url_reader
            .unwrap_or_else(|| Arc::new(HttpUrlReader::new(integrations.clone(), reading_allow)));
        let mut placeholder = PlaceholderProcessor::new(url_reader.clone(), integrations.clone());
        for (key, resolver) in placeholder_resolvers {
            placeholder = placeholder.with_resolver(key, resolver);
        }
        let mut builtin = BuiltinKindsEntityProcessor::new();
        for validator in kind_validators {
            builtin = builtin.with_kind_validator(validator);
        }
        let mut processors: Vec<Arc<dyn CatalogProcessor>> =
            vec![Arc::new(placeholder), Arc::new(builtin)];
        if !disable_default_processors {
            processors.push(Arc::new(FileReaderProcessor::new()));
            processors.push(Arc::new(UrlReaderProcessor::new(url_reader.clone())));
            processors.push(Arc::new(AnnotateLocationEntityProcessor::new(
                integrations.clone(),
            )));
        }
        processors.retain(|p| !extra_processors.iter().any(|e| e.name() == p.name()));
        processors.extend(extra_processors);
        processors.retain(|p| !processor_options.get(p.name()).is_some_and(|o| o.disabled));
        processors.sort_by_key(|p| {
            processor_options
                .get(p.name())
                .and_then(|o| o.priority)
                .unwrap_or_else(|| p.priority())
        });
        let mut policy = EntityValidator::builder()
            .kind_validators(vec![Arc::new(AnyKind)])
            .sort_relation_fields(false);
        for p in policies {
            policy = policy.policy(p);
        }
        Self {
            processors,
            policy: policy.build(),
            rules,
            allowed_location_types,
            integrations,
            url_reader,
        }
    }

    /// An orchestrator configured from the root config ([`OrchestratorOptions::from_config`]),
    /// with no extra processor and the default URL reader.
    ///
    /// # Errors
    /// [`CatalogError::Config`] naming the key that is wrong.
    pub fn from_config(config: &ConfigReader) -> Result<Self> {
        Ok(Self::new(
            OrchestratorOptions::from_config(config)?,
            Vec::new(),
            None,
        ))
    }

    /// The location types `POST /locations` accepts (`catalog.allowedLocationTypes`,
    /// default `["url"]`).
    pub fn allowed_location_types(&self) -> &[String] {
        &self.allowed_location_types
    }

    /// The processors, in the order they run.
    pub fn processors(&self) -> &[Arc<dyn CatalogProcessor>] {
        &self.processors
    }

    /// The SCM integrations.
    pub fn integrations(&self) -> &ScmIntegrations {
        &self.integrations
    }

    /// The URL reader the processors use.
    pub fn url_reader(&self) -> &Arc<dyn UrlReader> {
        &self.url_reader
    }

    /// The catalog rules.
    pub fn rules(&self) -> &CatalogRules {
        &self.rules
    }

    /// Processes one unprocessed entity with the processor cache state of its previous run
    /// (the `cache` of that run's [`ProcessingOutput`], or `Null`).
    ///
    /// The output is `ok` when nothing was thrown or emitted as an error; then `entity` is
    /// what the catalog stores (namespace defaulted, annotations added, placeholders
    /// resolved), and `cache` the state to persist (`Null` when there is none). When not
    /// `ok`, `errors` says why and `cache` is the input state unchanged (the engine keeps it,
    /// decrementing its TTL).
    pub async fn process(&self, entity: Value, cache: Value) -> ProcessingOutput {
        let mut caches = CacheSet::new(cache, self.processors.len());
        let mut emitter = None;
        match self.run(entity, &mut caches, &mut emitter).await {
            Ok(entity) => {
                let mut emitter = emitter.unwrap_or_default();
                let mut refresh_keys = std::mem::take(&mut emitter.refresh_keys);
                refresh_keys.sort_unstable();
                refresh_keys.dedup();
                let ok = emitter.errors.is_empty();
                ProcessingOutput {
                    ok,
                    entity: Some(entity),
                    children: emitter.children,
                    relations: emitter.relations,
                    errors: emitter.errors,
                    refresh_keys,
                    cache: if ok {
                        caches.collect()
                    } else {
                        caches.restore()
                    },
                }
            }
            Err(error) => {
                let mut errors = emitter.map(|e| e.errors).unwrap_or_default();
                errors.push(error.into_serialized());
                ProcessingOutput {
                    ok: false,
                    entity: None,
                    children: Vec::new(),
                    relations: Vec::new(),
                    errors,
                    refresh_keys: Vec::new(),
                    cache: caches.restore(),
                }
            }
        }
    }

    async fn run<'s>(
        &'s self,
        mut entity: Value,
        caches: &mut CacheSet<'s>,
        emitter_slot: &mut Option<Emitter>,
    ) -> Result<Value, ProcessorError> {
        // 1. The envelope.
        if !super::envelope_is_valid(&entity) {
            let cause = match backstage_catalog_model::schema::validate_envelope(&entity) {
                Err(e) => e.to_string(),
                Ok(()) => "malformed envelope".to_owned(),
            };
            return Err(ProcessorError::input(
                "Entity envelope failed validation before processing",
            )
            .with_cause(ProcessorError::type_error(cause)));
        }
        let entity_ref = stringify_entity_ref_value(&entity)
            .map_err(|e| ProcessorError::type_error(e.to_string()))?;

        // 2. The location context.
        let (location_raw, location) =
            location_annotation(&entity, ANNOTATION_LOCATION, &entity_ref)?;
        let (origin_raw, origin) =
            location_annotation(&entity, ANNOTATION_ORIGIN_LOCATION, &entity_ref)?;
        let emitter =
            emitter_slot.insert(Emitter::new(entity_ref.as_str(), location_raw, origin_raw));

        // 3. Pre-processing.
        for (i, processor) in self.processors.iter().enumerate() {
            let cache = caches.main(i, processor.name());
            let mut ctx = ProcessorContext::new(&location, &origin, emitter, cache);
            entity = processor
                .pre_process_entity(entity, &mut ctx)
                .await
                .map_err(|e| {
                    ProcessorError::input(format!(
                        "Processor {} threw an error while preprocessing",
                        processor.name()
                    ))
                    .with_cause(e)
                })?;
        }

        // 4. Policies.
        entity = self.policy.validate(entity).map_err(|e| {
            let message = e.to_string();
            let cause = if message.starts_with("Malformed envelope") {
                ProcessorError::type_error(message)
            } else {
                ProcessorError::general(message)
            };
            ProcessorError::input(format!("Policy check failed for {entity_ref}")).with_cause(cause)
        })?;

        // 5. Validation.
        if stringify_entity_ref_value(&entity).ok().as_deref() != Some(entity_ref.as_str()) {
            return Err(ProcessorError::conflict(
                "Fatal: The entity kind, namespace, or name changed during processing",
            ));
        }
        let mut valid = false;
        for processor in &self.processors {
            let recognised = processor.validate_entity_kind(&entity).await.map_err(|e| {
                ProcessorError::input(format!(
                    "Processor {} threw an error while validating the entity {entity_ref}",
                    processor.name()
                ))
                .with_cause(e)
            })?;
            valid |= recognised;
        }
        if !valid {
            return Err(ProcessorError::input(format!(
                "No processor recognized the entity {entity_ref} as valid, possibly caused by a foreign kind or apiVersion"
            )));
        }

        // 6. Location entities: read their targets.
        if entity.get("kind").and_then(Value::as_str) == Some("Location") {
            self.read_location_targets(&entity, &entity_ref, &location, &origin, emitter, caches)
                .await?;
        }

        // 7. Post-processing.
        for (i, processor) in self.processors.iter().enumerate() {
            let cache = caches.main(i, processor.name());
            let mut ctx = ProcessorContext::new(&location, &origin, emitter, cache);
            entity = processor
                .post_process_entity(entity, &mut ctx)
                .await
                .map_err(|e| {
                    ProcessorError::input(format!(
                        "Processor {} threw an error while postprocessing",
                        processor.name()
                    ))
                    .with_cause(e)
                })?;
        }

        // 8. Catalog rules, against the origin location.
        for child in &emitter.children {
            if !self.rules.is_allowed(&child.entity, &origin) {
                let child_ref = stringify_entity_ref_value(&child.entity).unwrap_or_default();
                return Err(ProcessorError::not_allowed(format!(
                    "Entity {child_ref} at {}, originated at {}, is not of an allowed kind for that location",
                    location.location_ref(),
                    origin.location_ref()
                )));
            }
        }
        Ok(entity)
    }

    async fn read_location_targets<'s>(
        &'s self,
        entity: &Value,
        entity_ref: &str,
        location: &LocationSpec,
        origin: &LocationSpec,
        emitter: &mut Emitter,
        caches: &mut CacheSet<'s>,
    ) -> Result<(), ProcessorError> {
        let spec = entity.get("spec");
        let field = |name: &str| spec.and_then(|s| s.get(name)).and_then(Value::as_str);
        let kind = field("type").unwrap_or(&location.kind).to_owned();
        let presence = match field("presence") {
            Some("optional") => Presence::Optional,
            _ => Presence::Required,
        };
        let mut targets: Vec<&str> = Vec::new();
        if let Some(target) = field("target").filter(|t| !t.is_empty()) {
            targets.push(target);
        }
        if let Some(list) = spec
            .and_then(|s| s.get("targets"))
            .and_then(Value::as_array)
        {
            targets.extend(list.iter().filter_map(Value::as_str));
        }
        for relative in targets {
            if kind == "file" && relative.ends_with(std::path::MAIN_SEPARATOR) {
                emitter.error(
                    location,
                    ProcessorError::input(format!(
                        "LocationEntityProcessor cannot handle {kind} type location with target {} that ends with a path separator",
                        location.target
                    )),
                );
                continue;
            }
            if kind != location.kind && !self.allowed_location_types.contains(&kind) {
                emitter.error(
                    location,
                    ProcessorError::not_allowed(format!(
                        "Location {entity_ref} may not read {kind}:{relative}: the type '{kind}' differs from its own location type '{}' and is not an allowed location type {:?}",
                        location.kind, self.allowed_location_types
                    )),
                );
                continue;
            }
            let target = self.to_absolute(location, &kind, relative);
            let spec = LocationSpec {
                kind: kind.clone(),
                target,
                presence,
            };
            let mut handled = false;
            for (i, processor) in self.processors.iter().enumerate() {
                let cache = caches.sub(i, processor.name(), &spec.target);
                let mut ctx = ProcessorContext::new(location, origin, emitter, cache);
                let read = processor
                    .read_location(&spec, presence == Presence::Optional, &mut ctx)
                    .await
                    .map_err(|e| {
                        ProcessorError::input(format!(
                            "Processor {} threw an error while reading {}",
                            processor.name(),
                            spec.location_ref()
                        ))
                        .with_cause(e)
                    })?;
                if read {
                    handled = true;
                    break;
                }
            }
            if !handled {
                return Err(ProcessorError::input(format!(
                    "No processor was able to handle reading of {}",
                    spec.location_ref()
                )));
            }
        }
        Ok(())
    }

    /// A Location entity's target, resolved against the entity's own location when the
    /// types agree (Backstage's `toAbsoluteUrl`).
    fn to_absolute(&self, base: &LocationSpec, kind: &str, target: &str) -> String {
        if base.kind != kind {
            return target.to_owned();
        }
        match kind {
            "file" if target.starts_with('.') => {
                let dir = std::path::Path::new(&base.target)
                    .parent()
                    .unwrap_or_else(|| std::path::Path::new(""));
                normalize_path(&dir.join(target))
            }
            "url" => self
                .integrations
                .resolve_url(target, &base.target)
                .unwrap_or_else(|_| target.to_owned()),
            _ => target.to_owned(),
        }
    }

    /// Processes the Location entity of `spec` and, recursively, everything it emits, in
    /// memory (no cache, no database): the dry run of `POST /locations?dryRun=true`
    /// (spec 3.12). Returns the processed entities, the Location entity first.
    ///
    /// # Errors
    /// The first entity that fails to process ([`DryRunError::Processing`]), or two
    /// processed entities with the same ref ([`DryRunError::DuplicateEntity`]).
    pub async fn dry_run_location(
        &self,
        spec: &LocationSpec,
    ) -> std::result::Result<Vec<Value>, DryRunError> {
        let mut queue = VecDeque::from([spec.to_root_location_entity()]);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        while let Some(entity) = queue.pop_front() {
            if out.len() >= MAX_DRY_RUN_ENTITIES {
                return Err(DryRunError::TooManyEntities(MAX_DRY_RUN_ENTITIES));
            }
            let output = self.process(entity, Value::Null).await;
            let Some(processed) = output.entity.filter(|_| output.ok) else {
                return Err(DryRunError::Processing(output.errors));
            };
            let entity_ref = stringify_entity_ref_value(&processed).unwrap_or_default();
            if !seen.insert(entity_ref.clone()) {
                return Err(DryRunError::DuplicateEntity(entity_ref));
            }
            queue.extend(output.children.into_iter().map(|c| c.entity));
            out.push(processed);
        }
        Ok(out)
    }

    /// Runs the full pipeline on an entity sent to `POST /validate-entity`, with both
    /// location annotations defaulted to `location_ref` (the entity's own values win).
    /// Returns the errors; empty means valid.
    pub async fn validate_entity(
        &self,
        mut entity: Value,
        location_ref: &str,
    ) -> Vec<SerializedError> {
        if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if !annotations.is_object() {
                *annotations = Value::Object(Map::new());
            }
            if let Value::Object(map) = annotations {
                for key in [ANNOTATION_LOCATION, ANNOTATION_ORIGIN_LOCATION] {
                    map.entry(key)
                        .or_insert_with(|| Value::String(location_ref.to_owned()));
                }
            }
        }
        let output = self.process(entity, Value::Null).await;
        if output.ok { Vec::new() } else { output.errors }
    }
}

/// Reads a location annotation: `(raw value, parsed)`.
fn location_annotation(
    entity: &Value,
    key: &str,
    entity_ref: &str,
) -> Result<(String, LocationSpec), ProcessorError> {
    let value = entity
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .filter(|v| match v {
            Value::Null | Value::Bool(false) => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            _ => true,
        });
    let Some(value) = value else {
        return Err(ProcessorError::input(format!(
            "Entity '{entity_ref}' does not have the annotation {key}"
        )));
    };
    let parsed = match value {
        Value::String(s) => parse_location_ref(s).map(|l| (s.clone(), l)),
        other => parse_location_ref_value(other).map(|l| (other.to_string(), l)),
    }
    .map_err(|e| ProcessorError::type_error(e.to_string()))?;
    let (raw, parsed) = parsed;
    Ok((raw, LocationSpec::new(parsed.location_type, parsed.target)))
}

/// The processor caches of one run (Backstage's `ProcessorCacheManager`): one per
/// processor, plus one per processor and target in `read_location`.
struct CacheSet<'a> {
    /// Input state of processors not looked at yet.
    input: Map<String, Value>,
    slots: Vec<Option<Slot<'a>>>,
}

struct Slot<'a> {
    name: &'a str,
    cache: ProcessorCache,
    subs: Vec<(String, ProcessorCache)>,
}

impl<'a> CacheSet<'a> {
    fn new(state: Value, processors: usize) -> Self {
        let input = match state {
            Value::Object(mut map) => {
                // The engine's TTL counter sits beside the processors' states.
                map.remove("ttl");
                map
            }
            _ => Map::new(),
        };
        Self {
            input,
            slots: (0..processors).map(|_| None).collect(),
        }
    }

    fn slot(&mut self, index: usize, name: &'a str) -> &mut Slot<'a> {
        let input = &mut self.input;
        self.slots[index].get_or_insert_with(|| Slot {
            name,
            cache: ProcessorCache::from_existing(input.remove(name)),
            subs: Vec::new(),
        })
    }

    fn main(&mut self, index: usize, name: &'a str) -> &mut ProcessorCache {
        &mut self.slot(index, name).cache
    }

    fn sub(&mut self, index: usize, name: &'a str, key: &str) -> &mut ProcessorCache {
        let slot = self.slot(index, name);
        let position = match slot.subs.iter().position(|(k, _)| k == key) {
            Some(p) => p,
            None => {
                let existing = if slot.cache.get(key).is_some_and(Value::is_object) {
                    slot.cache.take_existing(key)
                } else {
                    None
                };
                slot.subs
                    .push((key.to_owned(), ProcessorCache::from_existing(existing)));
                slot.subs.len() - 1
            }
        };
        &mut slot.subs[position].1
    }

    /// The state to persist after a successful run; `Null` when empty.
    fn collect(self) -> Value {
        let mut out = Map::new();
        for slot in self.slots.into_iter().flatten() {
            let mut state = slot.cache.collect();
            for (key, sub) in slot.subs {
                if let Some(sub) = sub.collect() {
                    state
                        .get_or_insert_with(Map::new)
                        .insert(key, Value::Object(sub));
                }
            }
            if let Some(state) = state {
                out.insert(slot.name.to_owned(), Value::Object(state));
            }
        }
        if out.is_empty() {
            Value::Null
        } else {
            Value::Object(out)
        }
    }

    /// The input state, unchanged.
    fn restore(self) -> Value {
        let mut out = self.input;
        for slot in self.slots.into_iter().flatten() {
            let mut state = slot.cache.into_existing();
            for (key, sub) in slot.subs {
                if let Some(sub) = sub.into_existing() {
                    state
                        .get_or_insert_with(Map::new)
                        .insert(key, Value::Object(sub));
                }
            }
            if let Some(state) = state {
                out.insert(slot.name.to_owned(), Value::Object(state));
            }
        }
        if out.is_empty() {
            Value::Null
        } else {
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn located(mut entity: Value, location: &str) -> Value {
        entity["metadata"]["annotations"] = json!({
            ANNOTATION_LOCATION: location,
            ANNOTATION_ORIGIN_LOCATION: location,
        });
        entity
    }

    fn component(name: &str) -> Value {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
               "metadata": {"name": name},
               "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}})
    }

    #[tokio::test]
    async fn valid_entity_is_completed() {
        let o = Orchestrator::default();
        let out = o
            .process(
                located(component("c"), "url:https://example.com/c.yaml"),
                Value::Null,
            )
            .await;
        assert!(out.ok, "{:?}", out.errors);
        let e = out.entity.unwrap();
        assert_eq!(e["metadata"]["namespace"], "default");
        assert_eq!(
            e["metadata"]["annotations"]["backstage.io/view-url"],
            "https://example.com/c.yaml"
        );
        assert_eq!(out.relations.len(), 2);
        assert_eq!(out.cache, Value::Null);
    }

    #[tokio::test]
    async fn thrown_errors_have_backstage_messages() {
        let o = Orchestrator::default();
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({"kind": "Component", "metadata": {"name": "x"}}),
                "InputError",
                "Entity envelope failed validation before processing; caused by TypeError: ",
            ),
            (
                component("c"),
                "InputError",
                "Entity 'component:default/c' does not have the annotation backstage.io/managed-by-location",
            ),
            (
                located(component("c"), "https://x"),
                "TypeError",
                "Invalid location ref 'https://x', please prefix it with 'url:', e.g. 'url:https://x'",
            ),
            (
                located(
                    json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "a b"}, "spec": {}}),
                    "url:https://x",
                ),
                "InputError",
                "Policy check failed for component:default/a b; caused by Error: \"metadata.name\" is not valid;",
            ),
            (
                located(
                    json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "c"}, "spec": {"type": "service"}}),
                    "url:https://x",
                ),
                "InputError",
                "Processor BuiltinKindsEntityProcessor threw an error while validating the entity component:default/c; caused by TypeError: /spec must have required property 'lifecycle'",
            ),
            (
                located(
                    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
                    "url:https://x",
                ),
                "InputError",
                "No processor recognized the entity widget:default/w as valid, possibly caused by a foreign kind or apiVersion",
            ),
        ];
        for (entity, name, message) in cases {
            let out = o.process(entity, json!({"a": {"b": 1}})).await;
            assert!(!out.ok);
            assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
            assert_eq!(out.errors[0].name, name);
            assert!(
                out.errors[0].message.starts_with(message),
                "{} vs {message}",
                out.errors[0].message
            );
            assert_eq!(
                out.cache,
                json!({"a": {"b": 1}}),
                "the input cache is kept on failure"
            );
        }
    }

    #[derive(Debug)]
    struct Renamer;

    #[async_trait::async_trait]
    impl CatalogProcessor for Renamer {
        fn name(&self) -> &str {
            "Renamer"
        }
        async fn pre_process_entity(
            &self,
            mut e: Value,
            ctx: &mut ProcessorContext<'_>,
        ) -> super::super::ProcessorResult<Value> {
            let n = ctx.cache().get("n").and_then(Value::as_i64).unwrap_or(0);
            ctx.cache().set("n", json!(n + 1));
            if e["metadata"]["name"] == "rename-me" {
                e["metadata"]["name"] = json!("renamed");
            }
            Ok(e)
        }
    }

    #[tokio::test]
    async fn ref_changes_conflict_and_caches_persist() {
        let o = Orchestrator::new(
            OrchestratorOptions::default(),
            vec![Arc::new(Renamer)],
            None,
        );
        let out = o
            .process(
                located(component("rename-me"), "url:https://x"),
                Value::Null,
            )
            .await;
        assert_eq!(out.errors[0].name, "ConflictError");
        assert_eq!(
            out.errors[0].message,
            "Fatal: The entity kind, namespace, or name changed during processing"
        );
        let out = o
            .process(
                located(component("c"), "url:https://x"),
                json!({"Renamer": {"n": 4}, "Gone": {}}),
            )
            .await;
        assert!(out.ok);
        assert_eq!(out.cache, json!({"Renamer": {"n": 5}}));
    }

    #[test]
    fn options_from_config() {
        let o = OrchestratorOptions::from_config(&ConfigReader::from_value(json!({"catalog": {
            "allowedLocationTypes": ["url", "file"],
            "disableDefaultProcessors": true,
            "processorOptions": {"BuiltinKindsEntityProcessor": {"priority": 5}, "PlaceholderProcessor": {"disabled": true}},
        }})))
        .unwrap();
        assert_eq!(o.allowed_location_types, ["url", "file"]);
        let orchestrator = Orchestrator::new(o, vec![], None);
        let names: Vec<&str> = orchestrator.processors().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["BuiltinKindsEntityProcessor"]);
        let e = OrchestratorOptions::from_config(&ConfigReader::from_value(
            json!({"catalog": {"processorOptions": {"x": {"priority": "high"}}}}),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("catalog.processorOptions.x"), "{e}");
        let default = Orchestrator::default();
        let names: Vec<&str> = default.processors().iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "PlaceholderProcessor",
                "BuiltinKindsEntityProcessor",
                "FileReaderProcessor",
                "url-reader",
                "AnnotateLocationEntityProcessor"
            ]
        );
        assert_eq!(default.allowed_location_types(), ["url"]);
    }

    #[test]
    fn dry_run_messages() {
        let e = DryRunError::Processing(vec![
            SerializedError::new("InputError", "a"),
            SerializedError::new("Error", "b"),
        ]);
        assert_eq!(e.to_string(), "InputError: a, Error: b");
        assert_eq!(
            DryRunError::DuplicateEntity("component:default/x".into()).to_string(),
            "Duplicate nested entity: component:default/x"
        );
    }
}
