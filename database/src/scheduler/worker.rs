//! One global task's loop (Backstage's `TaskWorker`): poll the table, claim the task when it
//! is due, run it while renewing the lease, release it with the next start.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backstage_backend_common::config::ConfigReader;
use backstage_backend_common::scheduler::{
    CancellationToken, TaskDefinition, TaskFrequency, TaskSchedule, join_error_message,
    read_task_schedule, serialize_task_error,
};
use chrono::{Local, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::SchedulerOptions;
use super::store::{StartAt, Store};
use crate::Error;

/// The shortest wait between two polls or lease renewals, so a zero cadence cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Backstage's `workerState.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkerStatus {
    InitialWait,
    Idle,
    Running,
}

impl WorkerStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::InitialWait => "initial-wait",
            WorkerStatus::Idle => "idle",
            WorkerStatus::Running => "running",
        }
    }
}

struct State {
    status: WorkerStatus,
    /// The ticket and token of the run in progress on this worker.
    run: Option<(String, CancellationToken)>,
}

/// The worker of one global task in this process.
pub(crate) struct GlobalWorker {
    id: String,
    plugin_id: String,
    store: Store,
    task: TaskDefinition,
    options: SchedulerOptions,
    state: Mutex<State>,
    wake: Notify,
}

/// What one poll did.
enum Poll {
    /// Nothing to do (not due, or another worker holds it).
    NotReady,
    /// A run happened on this worker.
    Ran,
    /// The row is gone or unreadable: the loop ends.
    Gone,
}

impl GlobalWorker {
    pub(crate) fn new(
        plugin_id: &str,
        store: Store,
        task: TaskDefinition,
        options: SchedulerOptions,
    ) -> Self {
        Self {
            id: task.id().to_owned(),
            plugin_id: plugin_id.to_owned(),
            store,
            task,
            options,
            state: Mutex::new(State {
                status: WorkerStatus::Idle,
                run: None,
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> WorkerStatus {
        self.lock().status
    }

    fn set_status(&self, status: WorkerStatus) {
        self.lock().status = status;
    }

    /// Ends the current wait between polls, so a triggered task is picked up at once.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Fires the token of this worker's run in progress, if any.
    pub(crate) fn abort_run(&self) {
        if let Some((_, token)) = &self.lock().run {
            token.cancel();
        }
    }

    /// Registers the task in the table (Backstage's `persistTask`).
    pub(crate) async fn persist(&self) -> Result<(), Error> {
        let schedule = self.task.schedule();
        let (start, next) = initial_starts(schedule);
        self.store
            .upsert(&self.id, &schedule.settings().to_string(), &start, &next)
            .await
    }

    /// The loop: the initial delay, then poll, run when claimed, wait, … until `stop` fires.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        let schedule = self.task.schedule();
        let mut check_every = self.options.poll_interval;
        if let TaskFrequency::Every(cadence) = schedule.frequency {
            check_every = check_every.min(cadence);
        }
        let check_every = check_every.max(MIN_INTERVAL);

        if let Some(delay) = schedule.initial_delay {
            self.set_status(WorkerStatus::InitialWait);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stop.cancelled() => {}
            }
        }
        self.set_status(WorkerStatus::Idle);

        while !stop.is_cancelled() {
            match self.poll(&stop).await {
                Ok(Poll::Gone) => break,
                Ok(Poll::NotReady | Poll::Ran) => {}
                Err(err) => {
                    tracing::warn!(
                        plugin = %self.plugin_id,
                        task = %self.id,
                        "Task worker failed unexpectedly, {err}"
                    );
                }
            }
            tokio::select! {
                () = tokio::time::sleep(check_every) => {}
                () = self.wake.notified() => {}
                () = stop.cancelled() => {}
            }
        }
        tracing::info!(
            plugin = %self.plugin_id,
            task = %self.id,
            "Task worker finished: {}",
            self.id
        );
    }

    /// One attempt: find out whether the task is due, claim it, run it, release it.
    async fn poll(&self, stop: &CancellationToken) -> Result<Poll, Error> {
        let Some((settings_json, ready)) = self.store.find_ready(&self.id).await? else {
            tracing::info!(
                plugin = %self.plugin_id,
                task = %self.id,
                "No longer able to find task; aborting and assuming that it has been unregistered or expired"
            );
            return Ok(Poll::Gone);
        };
        if !ready {
            return Ok(Poll::NotReady);
        }
        // The stored settings win over this process's: another replica may have registered a
        // newer version of the task.
        let schedule = match parse_settings(&settings_json) {
            Ok(schedule) => schedule,
            Err(err) => {
                tracing::info!(
                    plugin = %self.plugin_id,
                    task = %self.id,
                    "Task \"{}\" is no longer able to parse task settings; aborting and assuming that a newer version of the task has been issued and being handled by other workers, {err}",
                    self.id
                );
                return Ok(Poll::Gone);
            }
        };

        let lease = self
            .options
            .lease_duration
            .min(schedule.timeout)
            .max(MIN_INTERVAL);
        let ticket = new_ticket(&self.options.worker_id);
        let claimed_at = Instant::now();
        if !self.store.claim(&self.id, &ticket, lease).await? {
            return Ok(Poll::NotReady);
        }
        tracing::debug!(
            plugin = %self.plugin_id,
            task = %self.id,
            ticket = %ticket,
            "claimed task {}",
            self.id
        );

        let token = stop.child_token();
        {
            let mut state = self.lock();
            state.status = WorkerStatus::Running;
            state.run = Some((ticket.clone(), token.clone()));
        }
        let (error, lost) = self
            .execute(&ticket, &token, &schedule, lease, claimed_at)
            .await;
        token.cancel();
        {
            let mut state = self.lock();
            state.status = WorkerStatus::Idle;
            state.run = None;
        }

        if !lost {
            let next = next_start(&schedule);
            let released = self
                .store
                .release(&self.id, &ticket, &next, error.as_deref())
                .await?;
            if !released {
                tracing::info!(
                    plugin = %self.plugin_id,
                    task = %self.id,
                    "Task ticket for \"{}\" was lost before the run ended; not recording its result",
                    self.id
                );
            }
        }
        Ok(Poll::Ran)
    }

    /// Runs the function once, renewing the lease until it returns. Returns the run's
    /// serialized error, and whether the ticket was lost (cancelled elsewhere, taken over).
    async fn execute(
        &self,
        ticket: &str,
        token: &CancellationToken,
        schedule: &TaskSchedule,
        lease: Duration,
        claimed_at: Instant,
    ) -> (Option<String>, bool) {
        // The function runs in its own tokio task, so a panic is recorded like an error.
        let run = tokio::spawn(self.task.invoke(token.clone()));
        let timeout = tokio::time::sleep(schedule.timeout);
        tokio::pin!(run, timeout);
        let renew_every = self.options.poll_interval.min(lease / 3).max(MIN_INTERVAL);
        let mut renewed_at = claimed_at;
        let mut timed_out = false;
        let mut lost = false;

        let joined = loop {
            tokio::select! {
                joined = &mut run => break joined,
                () = &mut timeout, if !timed_out => {
                    timed_out = true;
                    tracing::debug!(plugin = %self.plugin_id, task = %self.id, "task run timed out, cancelling it");
                    token.cancel();
                }
                () = tokio::time::sleep(renew_every), if !lost => {
                    let attempt = Instant::now();
                    match self.store.renew(&self.id, ticket, lease, schedule.timeout).await {
                        Ok(true) => renewed_at = attempt,
                        Ok(false) => {
                            tracing::info!(
                                plugin = %self.plugin_id,
                                task = %self.id,
                                "Task ticket for \"{}\" is no longer valid; aborting execution",
                                self.id
                            );
                            lost = true;
                            token.cancel();
                        }
                        Err(err) => {
                            tracing::warn!(
                                plugin = %self.plugin_id,
                                task = %self.id,
                                "Failed to renew the lease of task \"{}\", {err}",
                                self.id
                            );
                            // Past the lease, another replica may take the task over: stop
                            // this run rather than risk two at once.
                            if renewed_at.elapsed() >= lease {
                                tracing::warn!(
                                    plugin = %self.plugin_id,
                                    task = %self.id,
                                    "Lease of task \"{}\" could not be renewed in time; aborting execution",
                                    self.id
                                );
                                lost = true;
                                token.cancel();
                            }
                        }
                    }
                }
            }
        };

        let error = match joined {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                tracing::error!(
                    plugin = %self.plugin_id,
                    task = %self.id,
                    error = %err,
                    "Task {} failed: {err}",
                    self.id
                );
                Some(serialize_task_error(err.as_ref()))
            }
            Err(join) => {
                let message = join_error_message(join);
                tracing::error!(
                    plugin = %self.plugin_id,
                    task = %self.id,
                    error = %message,
                    "Task {} failed: {message}",
                    self.id
                );
                Some(json!({ "name": "Error", "message": message }).to_string())
            }
        };
        (error, lost)
    }
}

/// A new row's first start, and the next start an existing row is moved to when earlier
/// (Backstage's `persistTask`): a duration task starts now (or after its initial delay) and
/// an existing row keeps its start unless it is later than now + cadence; a cron task starts
/// at the next cron time (from one second ago, so `* * * * * *` starts at once); a manual
/// task only when triggered.
pub(crate) fn initial_starts(schedule: &TaskSchedule) -> (StartAt, StartAt) {
    let delayed = schedule.initial_delay.map(StartAt::In);
    match &schedule.frequency {
        TaskFrequency::Every(cadence) => (delayed.unwrap_or(StartAt::Now), StartAt::In(*cadence)),
        TaskFrequency::Cron(cron) => {
            let from = Local::now() - chrono::Duration::seconds(1);
            let next = cron
                .next_after(&from)
                .map_or(StartAt::Never, |at| StartAt::At(at.with_timezone(&Utc)));
            (delayed.unwrap_or_else(|| next.clone()), next)
        }
        TaskFrequency::Manual => (StartAt::Never, StartAt::Never),
    }
}

/// The next start after a run (Backstage's `tryReleaseTask`): previous planned start plus
/// the cadence, or now if that has passed; the next cron time; nothing for manual tasks.
pub(crate) fn next_start(schedule: &TaskSchedule) -> StartAt {
    match &schedule.frequency {
        TaskFrequency::Every(cadence) => StartAt::AfterPrevious(*cadence),
        TaskFrequency::Cron(cron) => cron
            .next_after(&Local::now())
            .map_or(StartAt::Never, |at| StartAt::At(at.with_timezone(&Utc))),
        TaskFrequency::Manual => StartAt::Never,
    }
}

/// Reads stored version 2 settings back into a schedule.
pub(crate) fn parse_settings(settings_json: &str) -> Result<TaskSchedule, String> {
    let settings: Value = serde_json::from_str(settings_json).map_err(|err| err.to_string())?;
    if settings.get("version").and_then(Value::as_u64) != Some(2) {
        return Err(format!("unsupported task settings {settings_json}"));
    }
    let cadence = settings
        .get("cadence")
        .and_then(Value::as_str)
        .ok_or("the task settings have no cadence")?;
    let frequency = if cadence == "manual" {
        json!({ "trigger": "manual" })
    } else if cadence.starts_with('P') {
        Value::from(cadence)
    } else {
        json!({ "cron": cadence })
    };
    let mut config = Map::new();
    config.insert("frequency".to_owned(), frequency);
    if let Some(timeout) = settings.get("timeoutAfterDuration") {
        config.insert("timeout".to_owned(), timeout.clone());
    }
    if let Some(delay) = settings.get("initialDelayDuration") {
        config.insert("initialDelay".to_owned(), delay.clone());
    }
    read_task_schedule(&ConfigReader::from_value(Value::Object(config)))
        .map_err(|err| err.to_string())
}

/// A ticket no other run will ever get: the worker ID, then 128 random bits.
pub(crate) fn new_ticket(worker_id: &str) -> String {
    format!("{worker_id}/{:016x}{:016x}", random_u64(), random_u64())
}

/// 64 random bits from the standard library's randomly seeded hasher.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstage_backend_common::scheduler::{BoxError, CronExpr};

    #[test]
    fn settings_round_trip() {
        let schedules = [
            TaskSchedule::every(Duration::from_millis(1500), Duration::from_secs(60))
                .initial_delay(Duration::from_secs(5)),
            TaskSchedule::cron(
                CronExpr::parse("*/5 * * * * *").unwrap(),
                Duration::from_secs(3),
            ),
            TaskSchedule::manual(Duration::from_secs(3600)),
        ];
        for schedule in schedules {
            let parsed = parse_settings(&schedule.settings().to_string()).unwrap();
            assert_eq!(parsed, schedule);
        }
        assert!(parse_settings("{").is_err());
        assert!(parse_settings(r#"{"version":3,"cadence":"PT1S"}"#).is_err());
        assert!(parse_settings(r#"{"version":2}"#).is_err());
    }

    #[test]
    fn starts_follow_backstage() {
        let every = TaskSchedule::every(Duration::from_secs(60), Duration::from_secs(1));
        assert_eq!(
            initial_starts(&every),
            (StartAt::Now, StartAt::In(Duration::from_secs(60)))
        );
        assert_eq!(
            initial_starts(&every.clone().initial_delay(Duration::from_secs(5))).0,
            StartAt::In(Duration::from_secs(5))
        );
        assert_eq!(
            next_start(&every),
            StartAt::AfterPrevious(Duration::from_secs(60))
        );
        let manual =
            TaskSchedule::manual(Duration::from_secs(1)).initial_delay(Duration::from_secs(5));
        assert_eq!(initial_starts(&manual), (StartAt::Never, StartAt::Never));
        assert_eq!(next_start(&manual), StartAt::Never);
        let cron = TaskSchedule::cron(
            CronExpr::parse("* * * * * *").unwrap(),
            Duration::from_secs(1),
        );
        let (start, next) = initial_starts(&cron);
        assert_eq!(start, next);
        let StartAt::At(at) = start else {
            panic!("cron start should be a time: {start:?}")
        };
        assert!(at <= Utc::now() + chrono::Duration::seconds(1));
        let never = TaskSchedule::cron(
            CronExpr::parse("0 0 30 2 *").unwrap(),
            Duration::from_secs(1),
        );
        assert_eq!(next_start(&never), StartAt::Never);
    }

    #[test]
    fn tickets_are_unique_and_name_the_worker() {
        let a = new_ticket("w1");
        let b = new_ticket("w1");
        assert_ne!(a, b);
        assert!(a.starts_with("w1/"));
        assert_eq!(a.len(), "w1/".len() + 32);
    }

    #[test]
    fn run_errors_are_serialized_like_backstage() {
        let err: BoxError = "boom".into();
        assert_eq!(
            serialize_task_error(err.as_ref()),
            r#"{"name":"Error","message":"boom"}"#
        );
        let err: BoxError = Box::new(backstage_backend_common::errors::ApiError::not_found(
            "no such entity",
        ));
        assert_eq!(
            serialize_task_error(err.as_ref()),
            r#"{"name":"NotFoundError","message":"no such entity"}"#
        );
    }
}
