//! Behaviour of [`LocalScheduler`] under tokio's paused clock: every time below is virtual and
//! exact.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;
use crate::errors::ErrorKind;

const SECOND: Duration = Duration::from_secs(1);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Lets spawned tasks run without moving the clock.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Records when runs start, in whole seconds since the recorder was made.
#[derive(Clone)]
struct Recorder {
    origin: Instant,
    starts: Arc<Mutex<Vec<u64>>>,
}

impl Recorder {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            starts: Arc::default(),
        }
    }

    fn record(&self) -> u64 {
        let at = self.origin.elapsed().as_secs();
        self.starts.lock().unwrap().push(at);
        at
    }

    fn starts(&self) -> Vec<u64> {
        self.starts.lock().unwrap().clone()
    }

    fn now(&self) -> u64 {
        self.origin.elapsed().as_secs()
    }
}

/// A task that records its start, then works for `work` (or until cancelled).
fn working_task(
    id: &str,
    schedule: TaskSchedule,
    recorder: &Recorder,
    work: Duration,
) -> TaskDefinition {
    let recorder = recorder.clone();
    TaskDefinition::new(id, schedule, move |cancel: CancellationToken| {
        let recorder = recorder.clone();
        async move {
            recorder.record();
            tokio::select! {
                () = tokio::time::sleep(work) => Ok(()),
                () = cancel.cancelled() => Err("cancelled".into()),
            }
        }
    })
}

fn task_json(scheduler: &LocalScheduler, id: &str) -> Value {
    let body = scheduler.tasks_json();
    body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["taskId"] == id)
        .cloned()
        .unwrap()
}

fn scheduler() -> (LocalScheduler, CancellationToken) {
    let shutdown = CancellationToken::new();
    (LocalScheduler::new("test", shutdown.clone()), shutdown)
}

#[tokio::test(start_paused = true)]
async fn duration_cadence_spaces_runs_start_to_start() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let schedule = TaskSchedule::every(secs(10), secs(60));
    scheduler
        .schedule_task(working_task("t", schedule, &recorder, secs(3)))
        .unwrap();
    tokio::time::sleep(secs(35)).await;
    assert_eq!(recorder.starts(), [0, 10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn slow_runs_never_overlap() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let running = Arc::new(AtomicUsize::new(0));
    let max_running = Arc::new(AtomicUsize::new(0));
    let task = {
        let (recorder, running, max_running) = (
            recorder.clone(),
            Arc::clone(&running),
            Arc::clone(&max_running),
        );
        TaskDefinition::new(
            "slow",
            TaskSchedule::every(secs(10), secs(60)),
            move |_cancel: CancellationToken| {
                let (recorder, running, max_running) = (
                    recorder.clone(),
                    Arc::clone(&running),
                    Arc::clone(&max_running),
                );
                async move {
                    recorder.record();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_running.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(secs(15)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        )
    };
    scheduler.schedule_task(task).unwrap();
    tokio::time::sleep(secs(50)).await;
    assert_eq!(recorder.starts(), [0, 15, 30, 45]);
    assert_eq!(max_running.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn timeout_fires_the_runs_token() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let cancelled_at = Arc::new(Mutex::new(None));
    let task = {
        let (recorder, cancelled_at) = (recorder.clone(), Arc::clone(&cancelled_at));
        TaskDefinition::new(
            "t",
            TaskSchedule::every(secs(3600), secs(5)),
            move |cancel: CancellationToken| {
                let (recorder, cancelled_at) = (recorder.clone(), Arc::clone(&cancelled_at));
                async move {
                    cancel.cancelled().await;
                    *cancelled_at.lock().unwrap() = Some(recorder.now());
                    Err("gave up".into())
                }
            },
        )
    };
    scheduler.schedule_task(task).unwrap();
    tokio::time::sleep(secs(6)).await;
    assert_eq!(*cancelled_at.lock().unwrap(), Some(5));
    let state = task_json(&scheduler, "t");
    assert_eq!(state["taskState"]["status"], "idle");
    assert_eq!(
        state["taskState"]["lastRunError"],
        r#"{"name":"Error","message":"gave up"}"#
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_that_ignores_its_token_delays_the_next_run() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let schedule = TaskSchedule::every(secs(10), secs(2));
    let task = {
        let recorder = recorder.clone();
        TaskDefinition::new("stubborn", schedule, move |_cancel: CancellationToken| {
            let recorder = recorder.clone();
            async move {
                recorder.record();
                tokio::time::sleep(secs(12)).await;
                Ok(())
            }
        })
    };
    scheduler.schedule_task(task).unwrap();
    tokio::time::sleep(secs(30)).await;
    assert_eq!(recorder.starts(), [0, 12, 24]);
}

#[tokio::test(start_paused = true)]
async fn initial_delay_postpones_the_first_run() {
    let shutdown = CancellationToken::new();
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let scheduler =
        LocalScheduler::with_clock("test", shutdown.clone(), SchedulerClock::tokio(start));
    let recorder = Recorder::new();
    let schedule = TaskSchedule::every(secs(60), secs(10)).initial_delay(secs(30));
    scheduler
        .schedule_task(working_task("t", schedule, &recorder, SECOND))
        .unwrap();
    settle().await;
    let state = task_json(&scheduler, "t");
    assert_eq!(state["workerState"], json!({ "status": "initial-wait" }));
    assert_eq!(
        state["taskState"],
        json!({ "status": "idle", "startsAt": "2024-01-01T00:00:30.000Z" })
    );
    tokio::time::sleep(secs(95)).await;
    assert_eq!(recorder.starts(), [30, 90]);
}

#[tokio::test(start_paused = true)]
async fn trigger_cuts_the_wait_short() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let schedule = TaskSchedule::every(secs(3600), secs(60));
    scheduler
        .schedule_task(working_task("t", schedule, &recorder, secs(5)))
        .unwrap();
    tokio::time::sleep(secs(10)).await;
    scheduler.trigger_task("t").unwrap();
    settle().await;
    assert_eq!(recorder.starts(), [0, 10]);

    let err = scheduler.trigger_task("t").unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Conflict));
    assert_eq!(err.message(), "Task t is currently running");

    let err = scheduler.trigger_task("other").unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotFound));
    assert_eq!(err.message(), "Task other does not exist");

    // The cadence counts from the triggered run.
    tokio::time::sleep(secs(3601)).await;
    assert_eq!(recorder.starts(), [0, 10, 3610]);
}

#[tokio::test(start_paused = true)]
async fn trigger_ends_the_initial_delay() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let schedule = TaskSchedule::every(secs(60), secs(10)).initial_delay(secs(600));
    scheduler
        .schedule_task(working_task("t", schedule, &recorder, SECOND))
        .unwrap();
    tokio::time::sleep(secs(5)).await;
    scheduler.trigger_task("t").unwrap();
    tokio::time::sleep(secs(61)).await;
    assert_eq!(recorder.starts(), [5, 65]);
}

#[tokio::test(start_paused = true)]
async fn cancel_fires_the_running_token() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let schedule = TaskSchedule::every(secs(60), secs(600));
    scheduler
        .schedule_task(working_task("t", schedule, &recorder, secs(300)))
        .unwrap();
    tokio::time::sleep(secs(2)).await;
    scheduler.cancel_task("t").unwrap();
    settle().await;
    let state = task_json(&scheduler, "t");
    assert_eq!(state["taskState"]["status"], "idle");
    assert_eq!(
        state["taskState"]["lastRunError"],
        r#"{"name":"Error","message":"cancelled"}"#
    );

    let err = scheduler.cancel_task("t").unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Conflict));
    assert_eq!(err.message(), "Task t is not running");
    let err = scheduler.cancel_task("nope").unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::NotFound));
    assert_eq!(err.message(), "Task nope does not exist");

    // The loop carries on: cadence 60 s from the cancelled run's start.
    tokio::time::sleep(secs(60)).await;
    assert_eq!(recorder.starts(), [0, 60]);
}

#[tokio::test(start_paused = true)]
async fn run_errors_are_recorded_and_cleared_by_a_successful_run() {
    let (scheduler, _shutdown) = scheduler();
    let calls = Arc::new(AtomicUsize::new(0));
    let task = {
        let calls = Arc::clone(&calls);
        TaskDefinition::new(
            "flaky",
            TaskSchedule::every(secs(10), secs(5)),
            move |_cancel: CancellationToken| {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if call == 0 {
                        Err(crate::errors::ApiError::not_found("no such location").into())
                    } else {
                        Ok(())
                    }
                }
            },
        )
    };
    scheduler.schedule_task(task).unwrap();
    settle().await;
    let state = task_json(&scheduler, "flaky");
    assert_eq!(
        state["taskState"]["lastRunError"],
        r#"{"name":"NotFoundError","message":"no such location"}"#
    );
    assert!(state["taskState"]["lastRunEndedAt"].is_string());
    tokio::time::sleep(secs(10)).await;
    settle().await;
    let state = task_json(&scheduler, "flaky");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(state["taskState"].get("lastRunError").is_none(), "{state}");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_task_keeps_its_loop_and_the_scheduler_alive() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let task = {
        let recorder = recorder.clone();
        TaskDefinition::new(
            "panics",
            TaskSchedule::every(secs(10), secs(5)),
            move |_cancel: CancellationToken| {
                let recorder = recorder.clone();
                async move {
                    recorder.record();
                    panic!("index out of bounds");
                }
            },
        )
    };
    scheduler.schedule_task(task).unwrap();
    let other = Recorder::new();
    scheduler
        .schedule_task(working_task(
            "other",
            TaskSchedule::every(secs(10), secs(5)),
            &other,
            SECOND,
        ))
        .unwrap();
    tokio::time::sleep(secs(25)).await;
    assert_eq!(recorder.starts(), [0, 10, 20]);
    assert_eq!(other.starts(), [0, 10, 20]);
    assert_eq!(
        task_json(&scheduler, "panics")["taskState"]["lastRunError"],
        r#"{"name":"Error","message":"Task panicked: index out of bounds"}"#
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_loop_and_fires_running_tokens() {
    let (scheduler, shutdown) = scheduler();
    let fast = Recorder::new();
    let slow = Recorder::new();
    scheduler
        .schedule_task(working_task(
            "fast",
            TaskSchedule::every(secs(5), secs(60)),
            &fast,
            SECOND,
        ))
        .unwrap();
    scheduler
        .schedule_task(working_task(
            "slow",
            TaskSchedule::every(secs(600), secs(6000)),
            &slow,
            secs(3000),
        ))
        .unwrap();
    tokio::time::sleep(secs(12)).await;
    shutdown.cancel();
    // `slow` is mid-run: its token fires and it returns at once.
    tokio::time::timeout(SECOND, scheduler.stopped())
        .await
        .unwrap();
    assert!(
        task_json(&scheduler, "slow")["taskState"]["lastRunError"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
    tokio::time::sleep(secs(600)).await;
    assert_eq!(fast.starts(), [0, 5, 10]);
    assert_eq!(slow.starts(), [0]);
    // A stopped loop waits for nothing, so a trigger finds the task busy, as in Backstage.
    assert_eq!(
        scheduler.trigger_task("fast").unwrap_err().kind(),
        Some(ErrorKind::Conflict)
    );
}

#[tokio::test(start_paused = true)]
async fn a_tasks_signal_stops_only_that_task() {
    let (scheduler, _shutdown) = scheduler();
    let (stopped, kept) = (Recorder::new(), Recorder::new());
    let signal = CancellationToken::new();
    let schedule = TaskSchedule::every(secs(10), secs(5));
    scheduler
        .schedule_task(working_task("a", schedule.clone(), &stopped, SECOND).signal(signal.clone()))
        .unwrap();
    scheduler
        .schedule_task(working_task("b", schedule, &kept, SECOND))
        .unwrap();
    tokio::time::sleep(secs(15)).await;
    signal.cancel();
    tokio::time::sleep(secs(20)).await;
    assert_eq!(stopped.starts(), [0, 10]);
    assert_eq!(kept.starts(), [0, 10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn manual_tasks_only_run_when_triggered() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let schedule = TaskSchedule::manual(secs(60)).initial_delay(secs(10));
    scheduler
        .schedule_task(working_task("m", schedule, &recorder, SECOND))
        .unwrap();
    tokio::time::sleep(secs(3600)).await;
    assert!(recorder.starts().is_empty());
    assert_eq!(
        task_json(&scheduler, "m")["taskState"],
        json!({ "status": "idle" })
    );
    scheduler.trigger_task("m").unwrap();
    tokio::time::sleep(secs(3600)).await;
    scheduler.trigger_task("m").unwrap();
    tokio::time::sleep(secs(3600)).await;
    assert_eq!(recorder.starts(), [3600, 7200]);
}

#[tokio::test(start_paused = true)]
async fn cron_tasks_run_at_once_then_at_cron_times() {
    let shutdown = CancellationToken::new();
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 10).unwrap();
    let scheduler =
        LocalScheduler::with_clock("test", shutdown.clone(), SchedulerClock::tokio(start));
    let recorder = Recorder::new();
    let schedule = TaskSchedule::cron(CronExpr::parse("*/30 * * * * *").unwrap(), secs(60));
    scheduler
        .schedule_task(working_task("c", schedule, &recorder, secs(2)))
        .unwrap();
    tokio::time::sleep(secs(5)).await;
    // After the first run (00:00:10–00:00:12) the task waits for 00:00:30.
    assert_eq!(
        task_json(&scheduler, "c")["taskState"],
        json!({
            "status": "idle",
            "startsAt": "2024-01-01T00:00:30.000Z",
            "lastRunEndedAt": "2024-01-01T00:00:12.000Z",
        })
    );
    tokio::time::sleep(secs(50)).await;
    assert_eq!(recorder.starts(), [0, 20, 50]);
}

#[tokio::test(start_paused = true)]
async fn task_and_worker_states_have_backstages_shapes() {
    let shutdown = CancellationToken::new();
    let start = Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap();
    let scheduler =
        LocalScheduler::with_clock("catalog", shutdown.clone(), SchedulerClock::tokio(start));
    let recorder = Recorder::new();
    scheduler
        .schedule_task(working_task(
            "refresh",
            TaskSchedule::every(secs(60), secs(30)).scope(TaskScope::Local),
            &recorder,
            secs(10),
        ))
        .unwrap();
    settle().await;
    assert_eq!(
        task_json(&scheduler, "refresh"),
        json!({
            "taskId": "refresh",
            "pluginId": "catalog",
            "scope": "local",
            "settings": { "version": 2, "cadence": "PT1M", "timeoutAfterDuration": "PT30S" },
            "taskState": {
                "status": "running",
                "startedAt": "2024-05-06T07:08:09.000Z",
                "timesOutAt": "2024-05-06T07:08:39.000Z",
            },
            "workerState": { "status": "running" },
        })
    );
    tokio::time::sleep(secs(15)).await;
    assert_eq!(
        task_json(&scheduler, "refresh")["taskState"],
        json!({
            "status": "idle",
            "startsAt": "2024-05-06T07:09:09.000Z",
            "lastRunEndedAt": "2024-05-06T07:08:19.000Z",
        })
    );
    assert_eq!(
        task_json(&scheduler, "refresh")["workerState"],
        json!({ "status": "idle" })
    );
    // Key order is Backstage's.
    let keys: Vec<String> = task_json(&scheduler, "refresh")
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        [
            "taskId",
            "pluginId",
            "scope",
            "settings",
            "taskState",
            "workerState"
        ]
    );
}

#[tokio::test]
async fn ids_must_be_non_blank_and_unique() {
    let (scheduler, _shutdown) = scheduler();
    let noop = |id: &str| {
        TaskDefinition::new(
            id,
            TaskSchedule::manual(SECOND),
            |_cancel: CancellationToken| async { Ok(()) },
        )
    };
    let err = scheduler.schedule_task(noop("  ")).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Input));
    assert_eq!(
        err.message(),
        "   is not a valid ID, expected non-empty string"
    );
    let err = scheduler.schedule_task(noop("")).unwrap_err();
    assert_eq!(
        err.message(),
        " is not a valid ID, expected non-empty string"
    );

    scheduler.schedule_task(noop("a")).unwrap();
    let err = scheduler.schedule_task(noop("a")).unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::Conflict));
    assert_eq!(err.message(), "Task a is already scheduled for plugin test");
    assert_eq!(scheduler.scheduled_tasks().len(), 1);
}

#[tokio::test]
async fn scheduled_tasks_are_described_in_registration_order() {
    let (scheduler, _shutdown) = scheduler();
    let noop = |id: &str, schedule: TaskSchedule| {
        TaskDefinition::new(id, schedule, |_cancel: CancellationToken| async { Ok(()) })
    };
    scheduler
        .schedule_task(noop(
            "b",
            TaskSchedule::every(secs(2), secs(60)).initial_delay(secs(90)),
        ))
        .unwrap();
    scheduler
        .schedule_task(noop(
            "a",
            TaskSchedule::cron(CronExpr::parse("0 * * * *").unwrap(), secs(60))
                .scope(TaskScope::Local),
        ))
        .unwrap();
    assert_eq!(
        scheduler.scheduled_tasks(),
        [
            TaskDescriptor {
                id: "b".into(),
                scope: TaskScope::Global,
                settings: json!({
                    "version": 2,
                    "cadence": "PT2S",
                    "initialDelayDuration": "PT1M30S",
                    "timeoutAfterDuration": "PT1M",
                }),
            },
            TaskDescriptor {
                id: "a".into(),
                scope: TaskScope::Local,
                settings: json!({
                    "version": 2,
                    "cadence": "0 * * * *",
                    "timeoutAfterDuration": "PT1M",
                }),
            },
        ]
    );
    assert_eq!(scheduler.plugin_id(), "test");
    assert_eq!(
        format!("{scheduler:?}"),
        "LocalScheduler { plugin_id: \"test\", tasks: [\"b\", \"a\"], clock: SchedulerClock::System, .. }"
    );
}

#[test]
fn scheduling_outside_a_runtime_is_an_error_not_a_panic() {
    let (scheduler, _shutdown) = scheduler();
    let task = TaskDefinition::new(
        "t",
        TaskSchedule::manual(SECOND),
        |_cancel: CancellationToken| async { Ok(()) },
    );
    let err = scheduler.schedule_task(task).unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(err.message().contains("tokio runtime"), "{err}");
    assert!(scheduler.scheduled_tasks().is_empty());
}

#[tokio::test(start_paused = true)]
async fn scheduling_after_shutdown_registers_a_stopped_task() {
    let (scheduler, shutdown) = scheduler();
    shutdown.cancel();
    let recorder = Recorder::new();
    scheduler
        .schedule_task(working_task(
            "late",
            TaskSchedule::every(secs(1), secs(1)),
            &recorder,
            SECOND,
        ))
        .unwrap();
    scheduler.stopped().await;
    assert!(recorder.starts().is_empty());
    assert_eq!(scheduler.scheduled_tasks().len(), 1);
}

#[test]
fn task_definition_debug_hides_the_function() {
    let task = TaskDefinition::new(
        "t",
        TaskSchedule::manual(SECOND),
        |_cancel: CancellationToken| async { Ok(()) },
    );
    assert_eq!(task.schedule().frequency, TaskFrequency::Manual);
    assert_eq!(
        format!("{task:?}"),
        "TaskDefinition { id: \"t\", schedule: TaskSchedule { frequency: Manual, timeout: 1s, \
         initial_delay: None, scope: Global }, signal: false, .. }"
    );
}

/// Collects `<LEVEL> task=<task> <message>` of every info, warning or error event that has a
/// `task` field.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        #[derive(Default)]
        struct Fields {
            message: String,
            task: Option<String>,
        }
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "message" => self.message = format!("{value:?}"),
                    "task" => self.task = Some(format!("{value:?}")),
                    _ => {}
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let verbose = *event.metadata().level() > tracing::Level::INFO;
        if let Some(task) = fields.task.filter(|_| !verbose) {
            self.0.lock().unwrap().push(format!(
                "{} task={task} {}",
                event.metadata().level(),
                fields.message
            ));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn registration_and_run_failures_are_logged_with_the_task_id() {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));

    let (scheduler, shutdown) = scheduler();
    let task = TaskDefinition::new(
        "failing",
        TaskSchedule::every(secs(10), secs(5)),
        |_cancel: CancellationToken| async { Err("database unavailable".into()) },
    );
    scheduler.schedule_task(task).unwrap();
    settle().await;
    shutdown.cancel();
    scheduler.stopped().await;

    let logs = captured.0.lock().unwrap().clone();
    assert_eq!(
        logs,
        [
            "INFO task=failing Registered scheduled task: failing, \
             {\"version\":2,\"cadence\":\"PT10S\",\"timeoutAfterDuration\":\"PT5S\"}",
            "ERROR task=failing Task failing failed: database unavailable",
            "INFO task=failing Task worker finished: failing",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn huge_durations_do_not_overflow() {
    let (scheduler, _shutdown) = scheduler();
    let recorder = Recorder::new();
    let schedule = TaskSchedule::every(Duration::MAX, Duration::MAX).initial_delay(Duration::MAX);
    scheduler
        .schedule_task(working_task("forever", schedule, &recorder, SECOND))
        .unwrap();
    settle().await;
    assert_eq!(
        task_json(&scheduler, "forever")["taskState"],
        json!({ "status": "idle" })
    );
    scheduler.trigger_task("forever").unwrap();
    settle().await;
    let state = task_json(&scheduler, "forever")["taskState"].clone();
    assert_eq!(state["status"], "running");
    assert!(state.get("timesOutAt").is_none(), "{state}");
    tokio::time::sleep(secs(2)).await;
    assert_eq!(recorder.starts(), [0]);
    assert_eq!(
        task_json(&scheduler, "forever")["taskState"]["status"],
        "idle"
    );
}
