//! `core.scheduler` (spec §3.10).

use async_trait::async_trait;
use backstage_backend_common::errors::ApiError;
pub use backstage_backend_common::scheduler::{
    TaskDefinition, TaskDescriptor, TaskFrequency, TaskSchedule, TaskScope, read_task_schedule,
};

/// Recurring tasks of a plugin.
///
/// The stock implementation runs tasks in this process (`global` tasks too, since without a
/// database there is no one to coordinate with); the `database` crate provides one that runs
/// each `global` task on exactly one replica.
#[async_trait]
pub trait SchedulerService: Send + Sync {
    /// Registers and starts a task.
    ///
    /// # Errors
    ///
    /// An invalid id, or an id already scheduled by this plugin.
    async fn schedule_task(&self, task: TaskDefinition) -> Result<(), ApiError>;

    /// Runs a task now: `NotFoundError` for an unknown id, `ConflictError` while it runs.
    ///
    /// # Errors
    ///
    /// As above.
    async fn trigger_task(&self, id: &str) -> Result<(), ApiError>;

    /// Aborts a running task: `NotFoundError` for an unknown id, `ConflictError` when idle.
    ///
    /// # Errors
    ///
    /// As above.
    async fn cancel_task(&self, id: &str) -> Result<(), ApiError>;

    /// Tasks scheduled through this instance.
    ///
    /// # Errors
    ///
    /// When the task store cannot be read.
    async fn scheduled_tasks(&self) -> Result<Vec<TaskDescriptor>, ApiError>;
}
