//! When schedules are due: `once` at a time, or a 5-field cron expression evaluated in UTC
//! (parsed by [`croner`]).

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use croner::Cron;
use tern_catalog::ScheduleSpec;

/// Parses a 5-field cron expression (minute, hour, day of month, month, day of week), in UTC.
///
/// Names (`MON`, `JAN`), ranges, steps and lists are accepted; a seconds or year field is not,
/// so `0 3 * * *` means 03:00 every day and nothing else.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "`{expr}` is not a 5-field cron expression (minute hour day-of-month month day-of-week, in UTC): it has \
             {fields} field{}",
            if fields == 1 { "" } else { "s" }
        ));
    }
    Cron::from_str(expr).map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))
}

/// Checks a schedule's timing.
pub fn validate(spec: &ScheduleSpec) -> Result<(), String> {
    match spec {
        ScheduleSpec::Once(_) => Ok(()),
        ScheduleSpec::Cron(expr) => parse_cron(expr).map(|_| ()),
    }
}

/// The latest time in `(after, now]` at which `spec` is due, if any. Runs missed while no node
/// was up are not replayed one by one: the latest of them runs once.
pub fn latest_due(spec: &ScheduleSpec, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let due = match spec {
        ScheduleSpec::Once(at) => Some(*at),
        ScheduleSpec::Cron(expr) => parse_cron(expr).ok()?.find_previous_occurrence(&now, true).ok(),
    }?;
    (due > after && due <= now).then_some(due)
}

/// The first time after `after` at which `spec` is due, if it ever is again.
pub fn next_due(spec: &ScheduleSpec, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match spec {
        ScheduleSpec::Once(at) => (*at > after).then_some(*at),
        ScheduleSpec::Cron(expr) => parse_cron(expr).ok()?.find_next_occurrence(&after, false).ok(),
    }
}

/// The latest multiple of `interval` (counted from the Unix epoch) in `(after, now]`: the due
/// times of the log-archiving and replication loops, the same on every node.
pub fn interval_due(interval: std::time::Duration, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let step = i64::try_from(interval.as_millis()).ok().filter(|s| *s > 0)?;
    let due_ms = now.timestamp_millis().div_euclid(step) * step;
    let due = DateTime::<Utc>::from_timestamp_millis(due_ms)?;
    (due > after).then_some(due)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, h, m, 0).unwrap()
    }

    #[test]
    fn cron_needs_five_fields() {
        assert!(parse_cron("0 3 * * *").is_ok());
        let six = parse_cron("0 0 3 * * *").unwrap_err();
        assert!(six.contains("6 fields"), "{six}");
        assert!(parse_cron("").unwrap_err().contains("0 fields"));
        let bad = parse_cron("61 * * * *").unwrap_err();
        assert!(bad.contains("not a valid cron expression"), "{bad}");
        assert!(parse_cron("*/15 1-5 * JAN MON-FRI").is_ok());
    }

    #[test]
    fn latest_due_is_in_the_half_open_interval() {
        let daily = ScheduleSpec::Cron("0 3 * * *".into());
        assert_eq!(latest_due(&daily, at(2, 0), at(3, 0)), Some(at(3, 0)));
        assert_eq!(latest_due(&daily, at(3, 0), at(4, 0)), None, "already handled at 03:00");
        assert_eq!(latest_due(&daily, at(2, 0), at(2, 59)), None);
        // Missed runs collapse into the latest.
        let hourly = ScheduleSpec::Cron("0 * * * *".into());
        assert_eq!(latest_due(&hourly, at(1, 30), at(5, 10)), Some(at(5, 0)));
        let once = ScheduleSpec::Once(at(4, 0));
        assert_eq!(latest_due(&once, at(3, 0), at(3, 59)), None);
        assert_eq!(latest_due(&once, at(3, 0), at(4, 0)), Some(at(4, 0)));
        assert_eq!(latest_due(&once, at(4, 0), at(9, 0)), None);
    }

    #[test]
    fn next_due_and_intervals() {
        let daily = ScheduleSpec::Cron("30 3 * * *".into());
        assert_eq!(next_due(&daily, at(3, 30)), Some(at(3, 30) + chrono::Duration::days(1)));
        assert_eq!(next_due(&ScheduleSpec::Once(at(1, 0)), at(2, 0)), None);
        let five = std::time::Duration::from_secs(300);
        assert_eq!(interval_due(five, at(1, 0), at(1, 7)), Some(at(1, 5)));
        assert_eq!(interval_due(five, at(1, 5), at(1, 9)), None);
        assert_eq!(interval_due(std::time::Duration::ZERO, at(1, 0), at(2, 0)), None);
    }
}
