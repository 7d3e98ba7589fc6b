//! Text output in Nomad's shapes: aligned-column lists, `Key = Value` blocks, short IDs, times
//! (RFC 3339 in UTC and "5m ago"), byte sizes, and pretty JSON for `-json`.

use std::io::Write;

use serde::Serialize;
use tabwriter::TabWriter;

/// Characters of an ID shown unless `-verbose` is given.
pub const SHORT_ID: usize = 8;

/// Shown in place of an empty cell, as Nomad does.
const EMPTY: &str = "<none>";

/// Formats rows as space-aligned columns separated by two spaces. The first row is the header.
/// Empty cells show as `<none>`.
pub fn list<R, C>(rows: R) -> String
where
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: AsRef<str>,
{
    let lines: Vec<String> = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|cell| cell_text(cell.as_ref()))
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect();
    align(&lines, 2)
}

/// Formats `(key, value)` pairs as an aligned `Key = Value` block. Empty values show as
/// `<none>`.
pub fn kv<K, V>(pairs: &[(K, V)]) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let lines: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}\t= {}", cell_text(k.as_ref()), cell_text(v.as_ref())))
        .collect();
    align(&lines, 1)
}

fn cell_text(cell: &str) -> String {
    let cell = cell.replace(['\t', '\n'], " ");
    if cell.trim().is_empty() {
        EMPTY.to_string()
    } else {
        cell
    }
}

fn align(lines: &[String], padding: usize) -> String {
    let mut tw = TabWriter::new(Vec::new()).padding(padding).minwidth(0);
    for line in lines {
        // Writing into a Vec cannot fail.
        let _ = writeln!(tw, "{line}");
    }
    let bytes = tw.into_inner().unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first `len` characters of an ID (all of it when shorter).
pub fn limit(id: &str, len: usize) -> &str {
    match id.char_indices().nth(len) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// How many ID characters to show.
pub fn id_length(verbose: bool) -> usize {
    if verbose { usize::MAX } else { SHORT_ID }
}

/// Unix nanoseconds as RFC 3339 in UTC to the second; empty for zero or pre-epoch times.
pub fn unix_nano(ns: i64) -> String {
    if ns < 1_000_000_000 {
        return String::new();
    }
    drover_api::time::rfc3339_seconds(ns)
}

/// Parses an RFC 3339 time from the API into Unix nanoseconds. Times before 1970 (such as Go's
/// zero time, `0001-01-01T00:00:00Z`) and after 2200 are treated as absent, which also keeps
/// them inside the range of `i64` nanoseconds.
pub fn parse_api_time(text: &str) -> Option<i64> {
    let year: i64 = text.get(0..4)?.parse().ok()?;
    if !(1970..2200).contains(&year) {
        return None;
    }
    drover_api::time::parse_rfc3339(text)
}

/// An RFC 3339 time from the API, to the second in UTC; `N/A` when absent.
pub fn rfc3339_or_na(text: Option<&str>) -> String {
    match text.and_then(parse_api_time) {
        Some(ns) if ns > 0 => unix_nano(ns),
        _ => "N/A".to_string(),
    }
}

/// Now, in Unix nanoseconds.
pub fn now() -> i64 {
    drover_api::time::now_unix_nano()
}

/// The current time as printed in monitor lines.
pub fn now_text() -> String {
    unix_nano(now())
}

/// A short relative time like Nomad's: the two largest non-zero units of the difference,
/// "ago" or "from now" (`"5m10s ago"`, `"2d3h from now"`, `"0s ago"`). Empty for zero times.
pub fn time_ago(then_ns: i64, now_ns: i64) -> String {
    if then_ns <= 0 {
        return String::new();
    }
    let round = |ns: i64| (ns + 500_000_000).div_euclid(1_000_000_000);
    let (then, now) = (round(then_ns), round(now_ns));
    let (secs, suffix) = if now >= then {
        (now - then, " ago")
    } else {
        (then - now, " from now")
    };
    let secs = secs as u64;
    let units: [(u64, &str); 6] = [
        (secs / (86_400 * 30 * 12), "y"),
        ((secs / (86_400 * 30)) % 12, "mo"),
        ((secs / 86_400) % 30, "d"),
        ((secs / 3_600) % 24, "h"),
        ((secs / 60) % 60, "m"),
        (secs % 60, "s"),
    ];
    let parts: Vec<String> = units
        .iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        format!("0s{suffix}")
    } else {
        format!("{}{suffix}", parts.concat())
    }
}

/// Bytes in binary units as Go's humanize.IBytes prints them (`"300 MiB"`, `"1.9 GiB"`).
pub fn ibytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 10 {
        return format!("{bytes} B");
    }
    let mut exp = 0;
    let mut scaled = bytes as f64;
    while scaled >= 1024.0 && exp < UNITS.len() - 1 {
        scaled /= 1024.0;
        exp += 1;
    }
    let rounded = (scaled * 10.0 + 0.5).floor() / 10.0;
    if rounded < 10.0 {
        format!("{rounded:.1} {}", UNITS[exp])
    } else {
        format!("{rounded:.0} {}", UNITS[exp])
    }
}

/// Megabytes as binary units.
pub fn mib(mb: i64) -> String {
    ibytes(mb.max(0) as u64 * 1024 * 1024)
}

/// Pretty JSON with four-space indentation, as Nomad's `-json` prints it.
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    match value.serialize(&mut ser) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("{{\"error\": {:?}}}", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_aligns_columns_with_two_spaces() {
        let out = list(vec![
            vec!["ID", "Type", "Priority", "Status", "Submit Date"],
            vec![
                "example",
                "service",
                "50",
                "running",
                "2026-11-23T20:14:15Z",
            ],
            vec!["b", "batch", "70", "", "x"],
        ]);
        assert_eq!(
            out,
            "ID       Type     Priority  Status   Submit Date\n\
             example  service  50        running  2026-11-23T20:14:15Z\n\
             b        batch    70        <none>   x"
        );
    }

    #[test]
    fn kv_aligns_equals_signs() {
        let out = kv(&[("ID", "example"), ("Submit Date", "now"), ("Status", "")]);
        assert_eq!(
            out,
            "ID          = example\nSubmit Date = now\nStatus      = <none>"
        );
    }

    #[test]
    fn cells_with_tabs_do_not_break_columns() {
        let out = list(vec![vec!["A", "B"], vec!["x\ty", "z"]]);
        assert_eq!(out, "A    B\nx y  z");
    }

    #[test]
    fn limit_shortens_ids() {
        assert_eq!(limit("0f3d1a2b-1111-2222", 8), "0f3d1a2b");
        assert_eq!(limit("abc", 8), "abc");
        assert_eq!(limit("abc", usize::MAX), "abc");
    }

    #[test]
    fn unix_nano_formats_rfc3339_utc() {
        assert_eq!(unix_nano(1_795_464_855_999_000_000), "2026-11-23T20:14:15Z");
        assert_eq!(unix_nano(0), "");
    }

    #[test]
    fn rfc3339_or_na_normalizes_api_times() {
        assert_eq!(
            rfc3339_or_na(Some("2026-11-23T20:14:15.123456Z")),
            "2026-11-23T20:14:15Z"
        );
        assert_eq!(rfc3339_or_na(None), "N/A");
        assert_eq!(rfc3339_or_na(Some("0001-01-01T00:00:00Z")), "N/A");
        assert_eq!(rfc3339_or_na(Some("garbage")), "N/A");
        assert_eq!(parse_api_time("9999-12-31T23:59:59Z"), None);
    }

    #[test]
    fn time_ago_keeps_two_largest_units() {
        let s = 1_000_000_000i64;
        let now = 1_800_000_000 * s;
        assert_eq!(time_ago(now - 21 * s, now), "21s ago");
        assert_eq!(time_ago(now - (68 * s), now), "1m8s ago");
        assert_eq!(time_ago(now - (3 * 3600 + 2 * 60 + 5) * s, now), "3h2m ago");
        assert_eq!(time_ago(now - (2 * 86_400 + 5) * s, now), "2d5s ago");
        assert_eq!(time_ago(now + 90 * s, now), "1m30s from now");
        assert_eq!(time_ago(now, now), "0s ago");
        assert_eq!(time_ago(0, now), "");
    }

    #[test]
    fn ibytes_matches_humanize() {
        assert_eq!(ibytes(0), "0 B");
        assert_eq!(ibytes(300 * 1024 * 1024), "300 MiB");
        assert_eq!(ibytes(1_990_000_000), "1.9 GiB");
        assert_eq!(ibytes(1536), "1.5 KiB");
        assert_eq!(mib(256), "256 MiB");
    }

    #[test]
    fn json_uses_four_space_indent() {
        let out = json(&serde_json::json!({"Job": {"ID": "x"}}));
        assert_eq!(out, "{\n    \"Job\": {\n        \"ID\": \"x\"\n    }\n}");
    }
}
