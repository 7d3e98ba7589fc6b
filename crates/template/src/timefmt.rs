//! Go's reference-time layouts (`2006-01-02T15:04:05Z07:00`) for `timestamp`, applied to a time
//! in UTC: the calendar fields of a Unix time and Go's layout tokens.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, split into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Utc {
    pub unix: i64,
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    /// 1-based day of the year.
    pub yday: u32,
}

/// The current time.
pub(crate) fn now() -> Utc {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    utc(
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_nanos(),
    )
}

/// Calendar fields of `unix` seconds (+ `nanos`) since 1970-01-01T00:00:00Z.
pub(crate) fn utc(unix: i64, nanos: u32) -> Utc {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let yday = (days - days_from_civil(year, 1, 1) + 1) as u32;
    Utc {
        unix,
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
        nanos,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday,
    }
}

/// (year, month, day) of a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a calendar date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `time.RFC3339` layout.
pub(crate) const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// `t` in Go layout `layout`. Text that is not a layout token is copied as is.
pub(crate) fn format(t: &Utc, layout: &str) -> String {
    let month = MONTHS[(t.month as usize + 11) % 12];
    let weekday = DAYS[t.weekday as usize % 7];
    let hour12 = match t.hour % 12 {
        0 => 12,
        h => h,
    };
    let tokens: Vec<(&str, String)> = vec![
        ("January", month.into()),
        ("Jan", month[..3].into()),
        ("Monday", weekday.into()),
        ("Mon", weekday[..3].into()),
        ("MST", "UTC".into()),
        ("2006", format!("{:04}", t.year)),
        ("-070000", "+000000".into()),
        ("-07:00:00", "+00:00:00".into()),
        ("-0700", "+0000".into()),
        ("-07:00", "+00:00".into()),
        ("-07", "+00".into()),
        ("Z070000", "Z".into()),
        ("Z07:00:00", "Z".into()),
        ("Z0700", "Z".into()),
        ("Z07:00", "Z".into()),
        ("Z07", "Z".into()),
        ("002", format!("{:03}", t.yday)),
        ("__2", format!("{:>3}", t.yday)),
        ("_2", format!("{:>2}", t.day)),
        ("01", format!("{:02}", t.month)),
        ("02", format!("{:02}", t.day)),
        ("03", format!("{hour12:02}")),
        ("04", format!("{:02}", t.minute)),
        ("05", format!("{:02}", t.second)),
        ("06", format!("{:02}", t.year.rem_euclid(100))),
        ("15", format!("{:02}", t.hour)),
        ("PM", if t.hour >= 12 { "PM" } else { "AM" }.into()),
        ("pm", if t.hour >= 12 { "pm" } else { "am" }.into()),
        ("1", t.month.to_string()),
        ("2", t.day.to_string()),
        ("3", hour12.to_string()),
        ("4", t.minute.to_string()),
        ("5", t.second.to_string()),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        if let Some((len, text)) = fraction(rest, t.nanos) {
            out.push_str(&text);
            rest = &rest[len..];
            continue;
        }
        for (token, value) in &tokens {
            if rest.starts_with(token) {
                out.push_str(value);
                rest = &rest[token.len()..];
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// A fractional-seconds token at the start of `rest` (`.000`, `,999`, …): its length and text.
fn fraction(rest: &str, nanos: u32) -> Option<(usize, String)> {
    let mut chars = rest.chars();
    let sep = chars.next().filter(|c| *c == '.' || *c == ',')?;
    let digit = chars.next().filter(|c| *c == '0' || *c == '9')?;
    let run = 1 + rest[2..].chars().take_while(|c| *c == digit).count();
    if rest[1 + run..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{nanos:09}");
    let shown = &digits[..run.min(9)];
    let text = if digit == '0' {
        format!("{sep}{shown}")
    } else {
        let trimmed = shown.trim_end_matches('0');
        if trimmed.is_empty() {
            String::new()
        } else {
            format!("{sep}{trimmed}")
        }
    };
    Some((1 + run, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_split_into_calendar_fields() {
        let t = utc(0, 0);
        assert_eq!(
            (t.year, t.month, t.day, t.weekday, t.yday),
            (1970, 1, 1, 4, 1)
        );
        // 2024-02-29T13:05:09Z, a Thursday, day 60.
        let t = utc(1_709_211_909, 0);
        assert_eq!((t.year, t.month, t.day), (2024, 2, 29));
        assert_eq!(
            (t.hour, t.minute, t.second, t.weekday, t.yday),
            (13, 5, 9, 4, 60)
        );
        let t = utc(-1, 0);
        assert_eq!((t.year, t.month, t.day, t.hour), (1969, 12, 31, 23));
    }

    #[test]
    fn go_layouts_format() {
        let t = utc(1_709_211_909, 120_000_000);
        assert_eq!(format(&t, RFC3339), "2024-02-29T13:05:09Z");
        assert_eq!(
            format(&t, "Mon Jan _2 15:04:05.000 MST 2006"),
            "Thu Feb 29 13:05:09.120 UTC 2024"
        );
        assert_eq!(
            format(&t, "3:04PM, Monday 2 January 06"),
            "1:05PM, Thursday 29 February 24"
        );
        assert_eq!(
            format(&t, "2006-01-02 15:04:05.999999"),
            "2024-02-29 13:05:09.12"
        );
        assert_eq!(format(&utc(0, 0), "05.999 -07:00 002"), "00 +00:00 001");
        assert_eq!(format(&t, "literal text"), "literal text");
    }
}
