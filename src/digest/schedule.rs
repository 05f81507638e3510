//! When the weekly digest is due: a weekday and a wall-clock time in a time zone. Pure: the
//! zone is a value and "now" is an argument.
//!
//! Weeks are ISO weeks of the local date (Monday first); each has one due instant (the
//! weekday at the time, local, so it stays at 09:00 across daylight-saving changes; a time in
//! a DST gap moves forward, in a fold the earlier instant is taken) and one period: the seven
//! local days before the due day.

use chrono::{DateTime, Utc};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use crate::domain::{from_timestamp, to_timestamp};

/// The digest's weekly slot.
#[derive(Debug, Clone, PartialEq)]
pub struct WeeklySchedule {
    /// The zone the weekday and time are in.
    pub zone: TimeZone,
    /// Its name, for people.
    pub zone_name: String,
    /// Monday = 0.
    pub weekday: usize,
    /// Local time.
    pub time: Time,
}

/// One week's digest slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The ISO week, `2026-W13`: what the store remembers as posted.
    pub week: String,
    /// When it is due.
    pub due: DateTime<Utc>,
    /// Start of the period (local midnight seven days before the due day).
    pub from: DateTime<Utc>,
    /// End of the period (local midnight of the due day).
    pub to: DateTime<Utc>,
    /// The local midnights of the period's seven days and the end, for daily figures.
    pub days: Vec<(Date, DateTime<Utc>)>,
}

impl WeeklySchedule {
    /// The slot of the ISO week that `at` falls in (local date).
    pub fn slot_at(&self, at: DateTime<Utc>) -> Slot {
        self.slot_of_monday(self.monday_of(at))
    }

    /// The first due instant strictly after `at`.
    pub fn next_due_after(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let monday = self.monday_of(at);
        let slot = self.slot_of_monday(monday);
        if slot.due > at {
            return slot.due;
        }
        let next = monday
            .checked_add(jiff::Span::new().days(7))
            .unwrap_or(monday);
        self.slot_of_monday(next).due
    }

    fn monday_of(&self, at: DateTime<Utc>) -> Date {
        let local = to_timestamp(at).to_zoned(self.zone.clone()).date();
        local
            .checked_sub(jiff::Span::new().days(local.weekday().to_monday_zero_offset()))
            .unwrap_or(local)
    }

    fn slot_of_monday(&self, monday: Date) -> Slot {
        let day = |offset: i64| {
            monday
                .checked_add(jiff::Span::new().days(offset))
                .unwrap_or(monday)
        };
        let due_date = day(self.weekday as i64);
        let due = self.instant(due_date, self.time);
        let days: Vec<(Date, DateTime<Utc>)> = (0..=7)
            .map(|back| {
                let date = due_date
                    .checked_sub(jiff::Span::new().days(7 - back))
                    .unwrap_or(due_date);
                (date, self.instant(date, Time::midnight()))
            })
            .collect();
        let iso = monday.iso_week_date();
        Slot {
            week: format!("{}-W{:02}", iso.year(), iso.week()),
            due,
            from: days[0].1,
            to: days[7].1,
            days,
        }
    }

    fn instant(&self, date: Date, time: Time) -> DateTime<Utc> {
        date.to_datetime(time)
            .to_zoned(self.zone.clone())
            .map(|zoned| from_timestamp(zoned.timestamp()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn berlin_monday_nine() -> WeeklySchedule {
        WeeklySchedule {
            zone: TimeZone::get("Europe/Berlin").unwrap(),
            zone_name: "Europe/Berlin".into(),
            weekday: 0,
            time: Time::new(9, 0, 0, 0).unwrap(),
        }
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn the_slot_stays_at_local_nine_across_the_spring_change() {
        let schedule = berlin_monday_nine();
        // Winter: 09:00 CET is 08:00 UTC.
        let slot = schedule.slot_at(utc(2026, 3, 25, 12, 0));
        assert_eq!(slot.week, "2026-W13");
        assert_eq!(slot.due, utc(2026, 3, 23, 8, 0));
        assert_eq!(slot.from, utc(2026, 3, 15, 23, 0));
        assert_eq!(slot.to, utc(2026, 3, 22, 23, 0));
        // Clocks go forward on Sunday 29 March: 09:00 CEST is 07:00 UTC.
        assert_eq!(
            schedule.next_due_after(utc(2026, 3, 23, 8, 0)),
            utc(2026, 3, 30, 7, 0)
        );
        let next = schedule.slot_at(utc(2026, 3, 30, 7, 0));
        assert_eq!(next.week, "2026-W14");
        // The period's last day (Sunday 29) is 23 hours long.
        assert_eq!(next.days[6].1, utc(2026, 3, 28, 23, 0));
        assert_eq!(next.days[7].1, utc(2026, 3, 29, 22, 0));
    }

    #[test]
    fn next_due_is_this_week_before_the_slot_and_next_week_after() {
        let schedule = WeeklySchedule {
            zone: TimeZone::UTC,
            zone_name: "UTC".into(),
            weekday: 4,
            time: Time::new(16, 30, 0, 0).unwrap(),
        };
        assert_eq!(
            schedule.next_due_after(utc(2026, 11, 16, 0, 0)),
            utc(2026, 11, 20, 16, 30)
        );
        assert_eq!(
            schedule.next_due_after(utc(2026, 11, 20, 16, 30)),
            utc(2026, 11, 27, 16, 30)
        );
        // Sunday late is still the week of Monday 16 (ISO weeks start on Monday).
        assert_eq!(schedule.slot_at(utc(2026, 11, 22, 23, 59)).week, "2026-W47");
    }

    #[test]
    fn the_week_key_follows_iso_years() {
        let schedule = berlin_monday_nine();
        // Monday 29 December 2025 is in ISO week 1 of 2026.
        assert_eq!(schedule.slot_at(utc(2025, 12, 30, 12, 0)).week, "2026-W01");
    }
}
