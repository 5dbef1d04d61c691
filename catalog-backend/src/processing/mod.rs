//! Processors and the orchestrator that runs them on one entity (spec 4.4-4.7, 4.9).
//!
//! (Being written.)

use serde_json::Value;

use crate::model::ProcessingOutput;

/// Runs the processors on one entity.
#[derive(Debug, Default)]
pub struct Orchestrator {}

impl Orchestrator {
    /// Processes one unprocessed entity with the cache state of its previous run.
    pub async fn process(&self, entity: Value, cache: Value) -> ProcessingOutput {
        let _ = (entity, cache);
        ProcessingOutput::default()
    }
}
