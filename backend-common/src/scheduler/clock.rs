//! The wall clock the scheduler reads for cron times and task state timestamps.

use std::fmt;

use chrono::{DateTime, Utc};

/// Where a [`LocalScheduler`](super::LocalScheduler) reads the wall-clock time: for the next
/// time of cron schedules, and for the timestamps of the task states it reports.
///
/// Waiting always uses tokio's timer. [`SchedulerClock::system`] (the default) reads the system
/// clock. [`SchedulerClock::tokio`] starts at a given time and advances with tokio's clock, so
/// it follows `tokio::time::pause` and `tokio::time::advance` in tests, and cron schedules
/// fire at predictable virtual times.
///
/// ```
/// use backstage_backend_common::scheduler::SchedulerClock;
/// use chrono::{TimeZone, Utc};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
/// let clock = SchedulerClock::tokio(start);
/// tokio::time::sleep(std::time::Duration::from_secs(90)).await;
/// assert_eq!(clock.now(), Utc.with_ymd_and_hms(2024, 1, 1, 0, 1, 30).unwrap());
/// # }
/// ```
#[derive(Clone, Default)]
pub struct SchedulerClock {
    kind: Kind,
}

#[derive(Clone, Default)]
enum Kind {
    #[default]
    System,
    Tokio {
        start: DateTime<Utc>,
        anchor: tokio::time::Instant,
    },
}

impl SchedulerClock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Self { kind: Kind::System }
    }

    /// A clock that reads `start` now and then advances with [`tokio::time::Instant`].
    #[must_use]
    pub fn tokio(start: DateTime<Utc>) -> Self {
        Self {
            kind: Kind::Tokio {
                start,
                anchor: tokio::time::Instant::now(),
            },
        }
    }

    /// The current time.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        match &self.kind {
            Kind::System => Utc::now(),
            Kind::Tokio { start, anchor } => {
                let elapsed =
                    chrono::Duration::from_std(anchor.elapsed()).unwrap_or(chrono::Duration::MAX);
                start
                    .checked_add_signed(elapsed)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
        }
    }
}

impl fmt::Debug for SchedulerClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::System => f.write_str("SchedulerClock::System"),
            Kind::Tokio { start, .. } => f
                .debug_struct("SchedulerClock::Tokio")
                .field("start", start)
                .finish_non_exhaustive(),
        }
    }
}

/// `time` as luxon's `DateTime.utc().toISO()` writes it: `2024-01-01T12:00:00.000Z`.
pub(crate) fn iso_timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_virtual_time() {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let clock = SchedulerClock::tokio(start);
        assert_eq!(clock.now(), start);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(iso_timestamp(clock.now()), "2024-01-01T00:00:01.500Z");
        assert_eq!(
            format!("{clock:?}"),
            "SchedulerClock::Tokio { start: 2024-01-01T00:00:00Z, .. }"
        );
    }

    #[test]
    fn system_clock_is_the_default() {
        let clock = SchedulerClock::default();
        assert_eq!(format!("{clock:?}"), "SchedulerClock::System");
        let before = Utc::now();
        assert!(clock.now() >= before);
    }
}
