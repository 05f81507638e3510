//! Business hours: when the team is at work, and deadlines that count only that time.
//!
//! Pure: the time zone is a value (read from the tz database by config, never here), and
//! [`deadline`] is a function of its arguments. Opening hours are wall-clock times in the
//! calendar's zone, so a deadline stays right across daylight-saving changes: on the day the
//! clocks move, the day's window is shorter or longer in real time, exactly as people live it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// How many days ahead a deadline is searched for before giving up (a calendar with every
/// day a holiday): ten years.
const SEARCH_DAYS: usize = 3660;

/// When the team works: a time zone, the working weekdays, the daily opening hours and the
/// holiday dates.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    /// The zone the hours and dates are in.
    pub timezone: TimeZone,
    /// The zone's name, for people ("Europe/Berlin").
    pub timezone_name: String,
    /// Working days, Monday first.
    pub weekdays: [bool; 7],
    /// Opening time, local.
    pub open: Time,
    /// Closing time, local; later than `open`.
    pub close: Time,
    /// Dates (local) on which the team does not work.
    pub holidays: BTreeSet<Date>,
}

impl BusinessHours {
    /// Whether `at` falls in working time.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let at = to_timestamp(at);
        let date = at.to_zoned(self.timezone.clone()).date();
        self.window(date)
            .is_some_and(|(open, close)| open <= at && at < close)
    }

    /// The next moment the team is at work: `at` itself if open, else the next opening.
    /// `None` only for a calendar without a working day in the next ten years.
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut cursor = to_timestamp(at);
        let mut date = cursor.to_zoned(self.timezone.clone()).date();
        for _ in 0..SEARCH_DAYS {
            if let Some((open, close)) = self.window(date) {
                cursor = cursor.max(open);
                if cursor < close {
                    return Some(from_timestamp(cursor));
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The working window of a local date in real time, if it is a working day.
    fn window(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        let weekday = usize::try_from(date.weekday().to_monday_zero_offset()).ok()?;
        if !self.weekdays.get(weekday).copied().unwrap_or(false) || self.holidays.contains(&date) {
            return None;
        }
        // A time inside a DST gap moves forward; in a fold the earlier instant is taken.
        let open = date
            .to_datetime(self.open)
            .to_zoned(self.timezone.clone())
            .ok()?
            .timestamp();
        let close = date
            .to_datetime(self.close)
            .to_zoned(self.timezone.clone())
            .ok()?
            .timestamp();
        (open < close).then_some((open, close))
    }
}

/// When a clock started at `start` with `target` is due. Without business hours that is
/// `start + target`; with them only working time counts: time outside the hours, on closed
/// weekdays and on holidays is skipped. A calendar with no working time ahead falls back to
/// wall-clock time rather than never being due.
pub fn deadline(
    start: DateTime<Utc>,
    target: chrono::Duration,
    hours: Option<&BusinessHours>,
) -> DateTime<Utc> {
    let Some(hours) = hours else {
        return start + target;
    };
    let mut remaining = target.num_milliseconds().max(0);
    let mut cursor = to_timestamp(start);
    let mut date = cursor.to_zoned(hours.timezone.clone()).date();
    for _ in 0..SEARCH_DAYS {
        if let Some((open, close)) = hours.window(date) {
            cursor = cursor.max(open);
            if cursor < close {
                let available = close.as_millisecond() - cursor.as_millisecond();
                if remaining <= available {
                    return from_millis(cursor.as_millisecond() + remaining);
                }
                remaining -= available;
                cursor = close;
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    start + target
}

/// Reads "HH:MM" (24-hour clock).
pub fn parse_clock_time(text: &str) -> Result<Time, String> {
    let invalid = || format!("expected a time like \"09:00\", not \"{text}\"");
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(invalid)?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return Err(invalid());
    }
    let hours: i8 = hours.parse().map_err(|_| invalid())?;
    let minutes: i8 = minutes.parse().map_err(|_| invalid())?;
    Time::new(hours, minutes, 0, 0).map_err(|_| invalid())
}

/// Reads "YYYY-MM-DD".
pub fn parse_date(text: &str) -> Result<Date, String> {
    let trimmed = text.trim();
    let valid_shape = trimmed.len() == 10
        && trimmed.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    valid_shape
        .then(|| trimmed.parse::<Date>().ok())
        .flatten()
        .ok_or_else(|| format!("expected a date like \"2026-12-25\", not \"{text}\""))
}

/// The index (Monday = 0) of a weekday named `mon` … `sun`.
pub fn parse_weekday(text: &str) -> Result<usize, String> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| {
            format!(
                "unknown day \"{text}\", expected one of {}",
                NAMES.join(", ")
            )
        })
}

/// When the day that holds `at` began: midnight in `zone` (the office's day), or UTC
/// midnight without one.
pub fn day_start(at: DateTime<Utc>, zone: Option<&TimeZone>) -> DateTime<Utc> {
    let Some(zone) = zone else {
        return at
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|midnight| midnight.and_utc())
            .unwrap_or(at);
    };
    to_timestamp(at)
        .to_zoned(zone.clone())
        .start_of_day()
        .map(|start| from_timestamp(start.timestamp()))
        .unwrap_or(at)
}

/// `at` as a jiff timestamp (millisecond precision).
pub fn to_timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp::from_millisecond(at.timestamp_millis()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A jiff timestamp as a chrono time (millisecond precision).
pub fn from_timestamp(at: Timestamp) -> DateTime<Utc> {
    from_millis(at.as_millisecond())
}

fn from_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn berlin_office() -> BusinessHours {
        BusinessHours {
            timezone: TimeZone::get("Europe/Berlin").unwrap(),
            timezone_name: "Europe/Berlin".to_string(),
            weekdays: [true, true, true, true, true, false, false],
            open: Time::constant(9, 0, 0, 0),
            close: Time::constant(18, 0, 0, 0),
            holidays: [
                jiff::civil::date(2026, 12, 25),
                jiff::civil::date(2026, 12, 28),
            ]
            .into_iter()
            .collect(),
        }
    }

    /// A UTC instant from "YYYY-MM-DD HH:MM".
    fn utc(text: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        Utc.from_utc_datetime(&naive)
    }

    #[test]
    fn a_day_starts_at_the_offices_midnight_or_utcs() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let check = |at: &str, zone: Option<&TimeZone>, expected: &str| {
            assert_eq!(day_start(utc(at), zone), utc(expected), "{at} in {zone:?}");
        };
        check("2026-03-02 10:30", None, "2026-03-02 00:00");
        check("2026-03-02 00:00", None, "2026-03-02 00:00");
        // Winter: Berlin is UTC+1, so its day began at 23:00 UTC the evening before.
        check("2026-03-02 10:30", Some(&berlin), "2026-03-01 23:00");
        check("2026-03-02 22:59", Some(&berlin), "2026-03-01 23:00");
        check("2026-03-02 23:00", Some(&berlin), "2026-03-02 23:00");
        // Summer: UTC+2.
        check("2026-07-01 12:00", Some(&berlin), "2026-06-30 22:00");
    }

    #[test]
    fn deadlines_count_only_business_time() {
        let hours = berlin_office();
        // (opened, UTC; target in minutes; due, UTC; why). Berlin is UTC+1 in winter and
        // UTC+2 in summer: 09:00-18:00 local is 08:00-17:00 UTC in winter, 07:00-16:00 in summer.
        let table = [
            (
                "2026-03-04 09:00",
                30,
                "2026-03-04 09:30",
                "inside the hours",
            ),
            (
                "2026-03-04 16:50",
                10,
                "2026-03-04 17:00",
                "due exactly at closing",
            ),
            (
                "2026-03-04 16:50",
                30,
                "2026-03-05 08:20",
                "across the evening",
            ),
            (
                "2026-03-04 20:00",
                30,
                "2026-03-05 08:30",
                "opened in the evening",
            ),
            (
                "2026-03-05 05:00",
                30,
                "2026-03-05 08:30",
                "opened before opening",
            ),
            (
                "2026-03-06 16:50",
                30,
                "2026-03-09 08:20",
                "Friday evening to Monday",
            ),
            (
                "2026-03-07 12:00",
                60,
                "2026-03-09 09:00",
                "opened on a Saturday",
            ),
            (
                "2026-03-04 09:00",
                9 * 60 + 30,
                "2026-03-05 09:30",
                "longer than a day",
            ),
            (
                "2026-03-04 09:00",
                5 * 9 * 60,
                "2026-03-11 09:00",
                "a whole working week",
            ),
            (
                "2026-12-24 16:30",
                60,
                "2026-12-29 08:30",
                "Christmas Day and a holiday Monday",
            ),
            // 2026-03-29: Berlin moves from UTC+1 to UTC+2 (a Sunday).
            (
                "2026-03-27 16:50",
                30,
                "2026-03-30 07:20",
                "across the spring change",
            ),
            // 2026-10-25: back from UTC+2 to UTC+1 (a Sunday).
            (
                "2026-10-23 15:50",
                30,
                "2026-10-26 08:20",
                "across the autumn change",
            ),
        ];
        for (opened, minutes, due, why) in table {
            assert_eq!(
                deadline(
                    utc(opened),
                    chrono::Duration::minutes(minutes),
                    Some(&hours)
                ),
                utc(due),
                "{why}"
            );
        }
    }

    #[test]
    fn without_hours_a_deadline_is_wall_clock() {
        assert_eq!(
            deadline(utc("2026-03-07 12:00"), chrono::Duration::minutes(30), None),
            utc("2026-03-07 12:30")
        );
    }

    #[test]
    fn a_window_follows_the_local_clock_on_a_dst_day() {
        // Opening hours across the change itself: 01:00-05:00 local on 2026-03-29 is only
        // three real hours, because 02:00-03:00 does not exist.
        let mut night = berlin_office();
        night.weekdays = [true; 7];
        night.open = Time::constant(1, 0, 0, 0);
        night.close = Time::constant(5, 0, 0, 0);
        assert_eq!(
            deadline(
                utc("2026-03-29 00:00"),
                chrono::Duration::hours(3),
                Some(&night)
            ),
            utc("2026-03-29 03:00"),
            "01:00 CET is 00:00 UTC, 05:00 CEST is 03:00 UTC"
        );
        assert_eq!(
            deadline(
                utc("2026-03-29 00:00"),
                chrono::Duration::hours(4),
                Some(&night)
            ),
            utc("2026-03-30 00:00"),
            "the fourth hour is the next night's first"
        );
    }

    #[test]
    fn open_or_next_opening() {
        let hours = berlin_office();
        let table = [
            ("2026-03-04 09:00", true, "2026-03-04 09:00"),
            ("2026-03-04 07:59", false, "2026-03-04 08:00"),
            ("2026-03-04 17:00", false, "2026-03-05 08:00"),
            ("2026-03-07 10:00", false, "2026-03-09 08:00"),
            ("2026-12-25 10:00", false, "2026-12-29 08:00"),
        ];
        for (at, open, next) in table {
            assert_eq!(hours.is_open(utc(at)), open, "{at}");
            assert_eq!(hours.next_open(utc(at)), Some(utc(next)), "{at}");
        }
    }

    #[test]
    fn config_values_are_read_strictly() {
        assert_eq!(parse_clock_time("09:00"), Ok(Time::constant(9, 0, 0, 0)));
        assert_eq!(parse_clock_time("7:30"), Ok(Time::constant(7, 30, 0, 0)));
        for bad in ["9", "24:00", "09:60", "09:0", "nine", "-1:00", ""] {
            assert!(parse_clock_time(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_date("2026-12-25"),
            Ok(jiff::civil::date(2026, 12, 25))
        );
        for bad in ["2026-02-30", "25/12/2026", "2026-1-5", ""] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_weekday("Sat"), Ok(5));
        assert!(parse_weekday("monday").is_err());
    }

    #[test]
    fn a_calendar_without_working_days_falls_back_to_wall_clock() {
        let mut never = berlin_office();
        never.weekdays = [false; 7];
        assert_eq!(
            deadline(
                utc("2026-03-04 09:00"),
                chrono::Duration::minutes(30),
                Some(&never)
            ),
            utc("2026-03-04 09:30")
        );
        assert_eq!(never.next_open(utc("2026-03-04 09:00")), None);
    }
}
