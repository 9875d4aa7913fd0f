//! AWS's six-field cron: `minutes hours day-of-month month day-of-week year`.
//!
//! The grammar is Quartz's without the seconds field, as EventBridge documents it:
//!
//! | field        | values                 | wildcards         |
//! |--------------|------------------------|-------------------|
//! | minutes      | 0-59                   | `, - * /`         |
//! | hours        | 0-23                   | `, - * /`         |
//! | day-of-month | 1-31                   | `, - * ? / L W`   |
//! | month        | 1-12 or JAN-DEC        | `, - * /`         |
//! | day-of-week  | 1-7 or SUN-SAT (1=SUN) | `, - * ? L #`     |
//! | year         | 1970-2199              | `, - * /`         |
//!
//! Exactly one of day-of-month and day-of-week is `?`. `L`, `W` and `#` stand alone in their
//! field (Quartz refuses them in lists); a range whose end is below its start wraps around
//! (`FRI-MON`, `22-2`), as in Quartz.

use jiff::civil::{Date, DateTime};

pub(crate) const FIRST_YEAR: i16 = 1970;
pub(crate) const LAST_YEAR: i16 = 2199;

/// A parsed cron expression's fields, as sets of the values each allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    months: u16,
    days: Days,
    /// Bit `y - 1970` of the word `(y - 1970) / 64`.
    years: [u64; 4],
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    OfMonth(DayOfMonth),
    OfWeek(DayOfWeek),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfMonth {
    /// Bits 1..=31.
    Days(u32),
    /// `L`: the month's last day.
    Last,
    /// `LW`: the month's last weekday (Monday to Friday).
    LastWeekday,
    /// `15W`: the weekday nearest the 15th, within the month.
    NearestWeekday(i8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DayOfWeek {
    /// Bits 1..=7, 1 = Sunday.
    Days(u8),
    /// `5L`: the month's last Thursday.
    Last(i8),
    /// `3#2`: the month's second Tuesday.
    Nth { weekday: i8, nth: i8 },
}

/// Why a cron body was refused; AWS answers every one with the same message, this is for logs
/// and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("expected 6 fields, found {0}")]
    FieldCount(usize),
    #[error("invalid {field} field `{text}`")]
    Field { field: &'static str, text: String },
    #[error("exactly one of day-of-month and day-of-week must be `?`")]
    QuestionMark,
}

#[derive(Clone, Copy)]
struct Spec {
    name: &'static str,
    min: i32,
    max: i32,
    names: &'static [&'static str],
    /// Quartz refuses increments past these.
    max_step: i32,
}

const MINUTES: Spec = Spec {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
    max_step: 59,
};
const HOURS: Spec = Spec {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
    max_step: 23,
};
const DAY_OF_MONTH: Spec = Spec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
    max_step: 31,
};
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
    max_step: 12,
};
const DAY_OF_WEEK: Spec = Spec {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    max_step: 7,
};
const YEAR: Spec = Spec {
    name: "year",
    min: FIRST_YEAR as i32,
    max: LAST_YEAR as i32,
    names: &[],
    max_step: (LAST_YEAR - FIRST_YEAR) as i32,
};

impl Cron {
    /// Parses the text between `cron(` and `)`.
    pub fn parse(body: &str) -> Result<Cron, CronError> {
        let fields: Vec<&str> = body.split(' ').collect();
        if fields.len() != 6 {
            return Err(CronError::FieldCount(fields.len()));
        }
        let bits = |text: &str, spec: Spec| -> Result<u64, CronError> {
            Ok(list(text, spec)?
                .into_iter()
                .fold(0u64, |bits, v| bits | 1 << v))
        };
        let minutes = bits(fields[0], MINUTES)?;
        let hours = bits(fields[1], HOURS)? as u32;
        let months = bits(fields[3], MONTH)? as u16;
        let mut years = [0u64; 4];
        for year in list(fields[5], YEAR)? {
            let index = (year - YEAR.min) as usize;
            years[index / 64] |= 1 << (index % 64);
        }
        let days = match (fields[2], fields[4]) {
            ("?", "?") => return Err(CronError::QuestionMark),
            ("?", dow) => Days::OfWeek(day_of_week(dow)?),
            (dom, "?") => Days::OfMonth(day_of_month(dom)?),
            _ => return Err(CronError::QuestionMark),
        };
        Ok(Cron {
            minutes,
            hours,
            months,
            days,
            years,
        })
    }

    /// Whether a local minute is one of the expression's (seconds are ignored).
    pub fn matches(&self, at: DateTime) -> bool {
        self.matches_date(at.date())
            && self.hours & (1 << at.hour()) != 0
            && self.minutes & (1 << at.minute()) != 0
    }

    fn year_allowed(&self, year: i16) -> bool {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
            return false;
        }
        let index = (year - FIRST_YEAR) as usize;
        self.years[index / 64] & (1 << (index % 64)) != 0
    }

    fn month_allowed(&self, month: i8) -> bool {
        self.months & (1 << month) != 0
    }

    pub(crate) fn matches_date(&self, date: Date) -> bool {
        self.year_allowed(date.year()) && self.month_allowed(date.month()) && self.day_allowed(date)
    }

    fn day_allowed(&self, date: Date) -> bool {
        let day = date.day();
        let last = date.days_in_month();
        let weekday = date.weekday().to_sunday_one_offset();
        match &self.days {
            Days::OfMonth(DayOfMonth::Days(bits)) => bits & (1 << day) != 0,
            Days::OfMonth(DayOfMonth::Last) => day == last,
            Days::OfMonth(DayOfMonth::LastWeekday) => day == last_weekday(date),
            Days::OfMonth(DayOfMonth::NearestWeekday(target)) => {
                nearest_weekday(date, *target) == Some(day)
            }
            Days::OfWeek(DayOfWeek::Days(bits)) => bits & (1 << weekday) != 0,
            Days::OfWeek(DayOfWeek::Last(wanted)) => weekday == *wanted && day + 7 > last,
            Days::OfWeek(DayOfWeek::Nth {
                weekday: wanted,
                nth,
            }) => weekday == *wanted && (day - 1) / 7 + 1 == *nth,
        }
    }

    /// The first local minute at or after `from` (seconds ignored) that the expression names
    /// and for which `accept` says yes, scanning to the end of 2199. `accept` lets the caller
    /// skip minutes that do not exist in its zone or come before its bound.
    pub(crate) fn scan(
        &self,
        from: DateTime,
        mut accept: impl FnMut(DateTime) -> bool,
    ) -> Option<DateTime> {
        let mut date = from.date();
        let mut first_day = true;
        let last_date = Date::new(LAST_YEAR, 12, 31).ok()?;
        while date <= last_date {
            if !self.year_allowed(date.year()) {
                date = Date::new(date.year().checked_add(1)?, 1, 1).ok()?;
                first_day = false;
                continue;
            }
            if !self.month_allowed(date.month()) {
                date = date
                    .first_of_month()
                    .checked_add(jiff::Span::new().months(1))
                    .ok()?;
                first_day = false;
                continue;
            }
            if self.day_allowed(date) {
                let (start_hour, start_minute) = if first_day {
                    (from.hour(), from.minute())
                } else {
                    (0, 0)
                };
                for hour in start_hour..24 {
                    if self.hours & (1 << hour) == 0 {
                        continue;
                    }
                    let minute_from = if hour == start_hour { start_minute } else { 0 };
                    for minute in minute_from..60 {
                        if self.minutes & (1 << minute) == 0 {
                            continue;
                        }
                        let candidate = date.at(hour, minute, 0, 0);
                        if accept(candidate) {
                            return Some(candidate);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
            first_day = false;
        }
        None
    }
}

/// `LW`: the last Monday-to-Friday of `date`'s month.
fn last_weekday(date: Date) -> i8 {
    let last = date.last_of_month();
    match last.weekday().to_sunday_one_offset() {
        7 => last.day() - 1, // Saturday
        1 => last.day() - 2, // Sunday
        _ => last.day(),
    }
}

/// `nW`: the weekday nearest the `target`th of `date`'s month, never leaving the month
/// (Quartz: `1W` on a Saturday is Monday the 3rd). None when the month is shorter.
fn nearest_weekday(date: Date, target: i8) -> Option<i8> {
    let last = date.days_in_month();
    if target > last {
        return None;
    }
    let day = Date::new(date.year(), date.month(), target).ok()?;
    Some(match day.weekday().to_sunday_one_offset() {
        7 if target == 1 => 3,
        7 => target - 1,
        1 if target == last => target - 2,
        1 => target + 1,
        _ => target,
    })
}

/// Every value a comma-separated list of items names, checked against the field.
fn list(text: &str, spec: Spec) -> Result<Vec<i32>, CronError> {
    let wrong = || CronError::Field {
        field: spec.name,
        text: text.to_owned(),
    };
    if text.is_empty() {
        return Err(wrong());
    }
    let mut out = Vec::new();
    for item in text.split(',') {
        item_values(item, spec, &mut out).ok_or_else(wrong)?;
    }
    Ok(out)
}

fn item_values(item: &str, spec: Spec, out: &mut Vec<i32>) -> Option<()> {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => {
            let step = number(step)?;
            if step < 1 || step > spec.max_step {
                return None;
            }
            (range, Some(step))
        }
        None => (item, None),
    };
    let (start, end) = if range == "*" {
        (spec.min, spec.max)
    } else if let Some((low, high)) = range.split_once('-') {
        (value(low, spec)?, value(high, spec)?)
    } else {
        let single = value(range, spec)?;
        // `5/15` runs from 5 to the field's end; `5` alone is just 5.
        (single, if step.is_some() { spec.max } else { single })
    };
    let step = step.unwrap_or(1);
    let span = spec.max - spec.min + 1;
    // A range that ends below its start wraps past the field's maximum (Quartz's `FRI-MON`).
    let length = if end >= start {
        end - start
    } else {
        end + span - start
    };
    let mut offset = 0;
    while offset <= length {
        let mut v = start + offset;
        if v > spec.max {
            v -= span;
        }
        out.push(v);
        offset += step;
    }
    Some(())
}

fn number(text: &str) -> Option<i32> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn value(text: &str, spec: Spec) -> Option<i32> {
    let v = match number(text) {
        Some(v) => v,
        None => {
            let index = spec
                .names
                .iter()
                .position(|name| name.eq_ignore_ascii_case(text))?;
            spec.min + index as i32
        }
    };
    (spec.min..=spec.max).contains(&v).then_some(v)
}

fn day_of_month(text: &str) -> Result<DayOfMonth, CronError> {
    let wrong = || CronError::Field {
        field: DAY_OF_MONTH.name,
        text: text.to_owned(),
    };
    if text.eq_ignore_ascii_case("L") {
        return Ok(DayOfMonth::Last);
    }
    if text.eq_ignore_ascii_case("LW") {
        return Ok(DayOfMonth::LastWeekday);
    }
    if let Some(day) = text.strip_suffix(['W', 'w']) {
        let day = number(day)
            .filter(|d| (1..=31).contains(d))
            .ok_or_else(wrong)?;
        return Ok(DayOfMonth::NearestWeekday(day as i8));
    }
    let mut bits = 0u32;
    for day in list(text, DAY_OF_MONTH)? {
        bits |= 1 << day;
    }
    Ok(DayOfMonth::Days(bits))
}

fn day_of_week(text: &str) -> Result<DayOfWeek, CronError> {
    let wrong = || CronError::Field {
        field: DAY_OF_WEEK.name,
        text: text.to_owned(),
    };
    if text.eq_ignore_ascii_case("L") {
        // Alone, `L` is the week's last day: Saturday.
        return Ok(DayOfWeek::Days(1 << 7));
    }
    if let Some((weekday, nth)) = text.split_once('#') {
        let weekday = value(weekday, DAY_OF_WEEK).ok_or_else(wrong)?;
        let nth = number(nth)
            .filter(|n| (1..=5).contains(n))
            .ok_or_else(wrong)?;
        return Ok(DayOfWeek::Nth {
            weekday: weekday as i8,
            nth: nth as i8,
        });
    }
    if let Some(weekday) = text.strip_suffix(['L', 'l']) {
        let weekday = value(weekday, DAY_OF_WEEK).ok_or_else(wrong)?;
        return Ok(DayOfWeek::Last(weekday as i8));
    }
    if text.contains('/') {
        // AWS lists no `/` for day-of-week.
        return Err(wrong());
    }
    let mut bits = 0u8;
    for day in list(text, DAY_OF_WEEK)? {
        bits |= 1 << day;
    }
    Ok(DayOfWeek::Days(bits))
}
