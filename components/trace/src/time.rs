//! A line's `time` (RFC 3339, SPEC §3) as Unix microseconds, and back as UTC text.
//!
//! The reader parses the time of every line it reads, so the form tracewire writes
//! (`2026-12-03T17:02:58.301160Z` or with a `+hh:mm` offset) is parsed by hand; any other RFC 3339
//! form goes through chrono.

use chrono::{DateTime, SecondsFormat, Utc};

/// Unix microseconds of an RFC 3339 time, `None` if it is not one.
pub fn parse_micros(text: &str) -> Option<i64> {
    fast(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_micros())
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`, digits checked; `None` hands over to chrono.
fn fast(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let (month, day) = (digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        let frac = digits(&tail[..n])?;
        micros = match n {
            1..=6 => frac * 10i64.pow(6 - n as u32),
            _ => frac / 10i64.pow(n as u32 - 6),
        };
        rest = &tail[n..];
    }
    let offset = match rest {
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let minutes = digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset * 60;
    Some(seconds * 1_000_000 + micros)
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// UTC RFC 3339 with microseconds, as tracewire writes it.
pub fn format_micros(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
        .unwrap_or_else(|| micros.to_string())
}

/// A duration for people: `850µs`, `12.3ms`, `4.56s`, `2m03s`.
pub fn human_duration(micros: i64) -> String {
    let us = micros.max(0);
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 9_995 {
        // The bounds are where rounding would carry into the next unit (`1000.0ms`).
        format!("{:.2}ms", us as f64 / 1e3)
    } else if us < 999_950 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else if us < 59_995_000 {
        format!("{:.2}s", us as f64 / 1e6)
    } else if us < 3_600_000_000 {
        let secs = (us + 500_000) / 1_000_000;
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else if us < 86_400_000_000 {
        format!("{}h{:02}m", us / 3_600_000_000, (us / 60_000_000) % 60)
    } else {
        format!("{}d{:02}h", us / 86_400_000_000, (us / 3_600_000_000) % 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_tracewire_writes_and_other_rfc3339_forms() {
        let cases: &[(&str, Option<i64>, &str)] = &[
            ("1970-01-01T00:00:00.000000Z", Some(0), "the epoch"),
            (
                "2026-12-03T17:02:58.301160Z",
                Some(1_796_317_378_301_160),
                "JSONL's own form",
            ),
            (
                "2026-12-03T18:02:58.301160+01:00",
                Some(1_796_317_378_301_160),
                "local offset",
            ),
            (
                "2026-12-03T17:02:58Z",
                Some(1_796_317_378_000_000),
                "no fraction",
            ),
            (
                "2026-12-03T17:02:58.3Z",
                Some(1_796_317_378_300_000),
                "one digit",
            ),
            (
                "2026-12-03T17:02:58.301160789Z",
                Some(1_796_317_378_301_160),
                "nanoseconds cut",
            ),
            (
                "2024-02-29T00:00:00.000000Z",
                Some(1_709_164_800_000_000),
                "leap day",
            ),
            ("2026-13-03T17:02:58.301160Z", None, "month 13"),
            (
                "2026-12-03 17:02:58.301160Z",
                Some(1_796_317_378_301_160),
                "a space for T (RFC 3339 §5.6 allows it)",
            ),
            ("2026-12-03T17:02:58.301160", None, "no zone"),
            ("2026-12-03T17:02:58.Z", None, "empty fraction"),
            ("17:02:58", None, "a time without a date"),
            ("", None, "empty"),
        ];
        for (text, want, why) in cases {
            assert_eq!(parse_micros(text), *want, "{why}: {text:?}");
        }
    }

    #[test]
    fn formats_back_to_the_same_text() {
        let t = "2026-12-03T17:02:58.301160Z";
        assert_eq!(format_micros(parse_micros(t).unwrap()), t);
    }

    #[test]
    fn durations_read_as_people_write_them() {
        let cases = [
            (850, "850µs"),
            (1_234, "1.23ms"),
            (12_345, "12.3ms"),
            (4_560_000, "4.56s"),
            (123_000_000, "2m03s"),
            (999_950, "1.00s"),
            (59_999_000, "1m00s"),
            (9_996, "10.0ms"),
        ];
        for (us, text) in cases {
            assert_eq!(human_duration(us), text);
        }
    }
}
