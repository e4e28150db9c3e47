//! RFC 3339 timestamps with microseconds, written by hand: `core::fmt` costs a fifth of a
//! tracing-subscriber line, and the civil-date arithmetic is a few integer operations.
//!
//! The clock is read through `quanta` (the CPU's invariant TSC where the kernel trusts it, the
//! monotonic clock otherwise), which is cheaper than `clock_gettime` (BENCHMARKS.md, "Parts"),
//! and a span lifecycle reads it four times. Wall-clock times are derived from those readings
//! through a per-thread anchor pair re-read once a second.

use std::{
    cell::Cell,
    time::{Duration, SystemTime},
};

pub(crate) use quanta::Instant;

use chrono::{Offset, TimeZone as _};

/// Timestamps in UTC or in an offset from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeZone {
    /// `Z`.
    #[default]
    Utc,
    /// The machine's local offset at each instant (daylight saving included).
    Local,
    /// A fixed offset in seconds east of UTC, for tests and pinned deployments.
    Fixed(i32),
}

impl std::str::FromStr for TimeZone {
    type Err = crate::settings::Rejected;
    /// A boolean: whether times are local (`DYN_LOG_USE_LOCAL_TZ`, `local_tz`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::settings::Flag::choose(s, TimeZone::Local, TimeZone::Utc)
    }
}

crate::setting_value!(TimeZone, FLAG, crate::settings::Flag::EXPECTING);

/// The last second formatted on a thread: lines come many per second, so the date arithmetic
/// runs once a second.
struct SecondCache {
    secs: i64,
    zone: TimeZone,
    /// `YYYY-MM-DDTHH:MM:SS`
    date: [u8; 19],
    /// `Z` or `+HH:MM`.
    suffix: [u8; 6],
    suffix_len: usize,
}

thread_local! {
    static LAST_SECOND: std::cell::RefCell<SecondCache> = const {
        std::cell::RefCell::new(SecondCache { secs: i64::MIN, zone: TimeZone::Utc, date: [0; 19], suffix: [0; 6], suffix_len: 0 })
    };
}

/// Microseconds since the Unix epoch (negative before it): the time a line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct UnixMicros(pub(crate) i64);

impl From<SystemTime> for UnixMicros {
    fn from(t: SystemTime) -> Self {
        UnixMicros(floor_div(unix_nanos(t), 1000).0)
    }
}

/// Nanoseconds since the Unix epoch, negative before it.
fn unix_nanos(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i64,
        Err(e) => -(e.duration().as_nanos() as i64),
    }
}

impl UnixMicros {
    pub(crate) fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_micros(self.0.unsigned_abs());
        if self.0 >= 0 {
            SystemTime::UNIX_EPOCH + magnitude
        } else {
            SystemTime::UNIX_EPOCH - magnitude
        }
    }
}

/// Whole nanoseconds in a `u64` (584 years): `Duration::as_nanos` gives a `u128`, whose
/// division by 1000 is a library call.
pub(crate) fn nanos(d: Duration) -> u64 {
    d.as_secs() * 1_000_000_000 + u64::from(d.subsec_nanos())
}

/// `value` divided by `by` rounded down, and the remainder (never negative); unsigned
/// arithmetic for times after 1970, the usual case, which compiles to fewer instructions than
/// Euclidean division.
#[inline(always)] // `by` must stay a constant at each call: a division by a variable is slow
fn floor_div(value: i64, by: u64) -> (i64, u64) {
    match u64::try_from(value) {
        Ok(v) => ((v / by) as i64, v % by),
        Err(_) => (
            value.div_euclid(by as i64),
            value.rem_euclid(by as i64) as u64,
        ),
    }
}

/// `00` to `99`.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// Appends `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (or `+HH:MM` in `zone`).
pub(crate) fn write_rfc3339(buf: &mut Vec<u8>, t: UnixMicros, zone: TimeZone) {
    let (secs, micros) = floor_div(t.0, 1_000_000);
    let micros = micros as u32;
    let cached = LAST_SECOND.with(|cell| {
        let cache = cell.borrow();
        (cache.secs == secs && cache.zone == zone).then(|| {
            // Assembled on the stack, the digits two at a time, and appended as a fixed-size
            // copy (which compiles to two vector moves, not a `memcpy` call) trimmed after.
            let mut text = [0u8; 32];
            text[..19].copy_from_slice(&cache.date);
            text[19] = b'.';
            let (high, low) = (micros / 10_000, micros % 10_000);
            text[20..22].copy_from_slice(&DIGIT_PAIRS[high as usize % 100]);
            text[22..24].copy_from_slice(&DIGIT_PAIRS[(low / 100) as usize]);
            text[24..26].copy_from_slice(&DIGIT_PAIRS[(low % 100) as usize]);
            text[26..].copy_from_slice(&cache.suffix);
            buf.extend_from_slice(&text);
            buf.truncate(buf.len() - (6 - cache.suffix_len));
        })
    });
    if cached.is_some() {
        return;
    }
    let start = buf.len();
    write_uncached(buf, secs, micros, zone);
    LAST_SECOND.with(|cell| {
        let mut cache = cell.borrow_mut();
        let line = &buf[start..];
        cache.secs = secs;
        cache.zone = zone;
        cache.date.copy_from_slice(&line[..19]);
        let suffix = &line[26..];
        cache.suffix[..suffix.len()].copy_from_slice(suffix);
        cache.suffix_len = suffix.len();
    });
}

fn write_uncached(buf: &mut Vec<u8>, secs: i64, micros: u32, zone: TimeZone) {
    let offset = match zone {
        TimeZone::Utc => None,
        TimeZone::Fixed(seconds) => Some(seconds),
        TimeZone::Local => Some(local_offset(secs)),
    };
    let local = secs + offset.unwrap_or(0) as i64;
    let (days, rem) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    push_digits(buf, year.clamp(0, 9999) as u32, 4);
    buf.push(b'-');
    push_digits(buf, month, 2);
    buf.push(b'-');
    push_digits(buf, day, 2);
    buf.push(b'T');
    push_digits(buf, (rem / 3600) as u32, 2);
    buf.push(b':');
    push_digits(buf, (rem / 60 % 60) as u32, 2);
    buf.push(b':');
    push_digits(buf, (rem % 60) as u32, 2);
    buf.push(b'.');
    push_digits(buf, micros, 6);
    match offset {
        None => buf.push(b'Z'),
        Some(o) => {
            buf.push(if o < 0 { b'-' } else { b'+' });
            let o = o.unsigned_abs();
            push_digits(buf, o / 3600, 2);
            buf.push(b':');
            push_digits(buf, o / 60 % 60, 2);
        }
    }
}

fn push_digits(buf: &mut Vec<u8>, mut value: u32, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    for slot in buf[start..].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

thread_local! {
    /// A clock reading and the Unix time in nanoseconds taken together, re-read once a second.
    static ANCHOR: Cell<Option<(Instant, i64)>> = const { Cell::new(None) };
}

/// The wall-clock time of `instant`, from this thread's anchor pair: one system clock read a
/// second instead of one per line. Within a second of the anchor, the error is the two
/// clocks' drift over that second (microseconds at most; NTP slews the system clock by at most
/// 500 ppm); a step of the system clock (set by hand, or NTP stepping) shows in a thread's
/// lines at most a second late.
pub(crate) fn unix_micros_at(instant: Instant) -> UnixMicros {
    let (anchor, anchor_nanos) = match ANCHOR.get() {
        Some((i, n)) if instant >= i && instant.duration_since(i) < Duration::from_secs(1) => {
            (i, n)
        }
        _ => {
            let now = Instant::now();
            let nanos = unix_nanos(SystemTime::now());
            ANCHOR.set(Some((now, nanos)));
            (now, nanos)
        }
    };
    let at = if instant >= anchor {
        anchor_nanos + nanos(instant.duration_since(anchor)) as i64
    } else {
        anchor_nanos - nanos(anchor.duration_since(instant)) as i64
    };
    UnixMicros(floor_div(at, 1000).0)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
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

thread_local! {
    /// The local offset of the last second looked up on this thread.
    static LOCAL_OFFSET: Cell<(i64, i32)> = const { Cell::new((i64::MIN, 0)) };
}

/// The machine's offset at `secs`, from the tz database (chrono reads it without the libc
/// `localtime_r` race that makes the `time` crate refuse in multi-threaded programs).
fn local_offset(secs: i64) -> i32 {
    let (cached_secs, cached) = LOCAL_OFFSET.get();
    if cached_secs == secs {
        return cached;
    }
    let offset = chrono::DateTime::from_timestamp(secs, 0)
        .map(|utc| {
            chrono::Local
                .offset_from_utc_datetime(&utc.naive_utc())
                .fix()
                .local_minus_utc()
        })
        .unwrap_or(0);
    LOCAL_OFFSET.set((secs, offset));
    offset
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, micros: u32, zone: TimeZone) -> String {
        let mut buf = Vec::new();
        let t = SystemTime::UNIX_EPOCH
            + Duration::from_secs(secs)
            + Duration::from_micros(micros.into());
        write_rfc3339(&mut buf, t.into(), zone);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn utc_and_fixed_offsets() {
        // 2025-09-02T15:50:01.770028Z, the reference doc's first line.
        assert_eq!(
            at(1_756_828_201, 770_028, TimeZone::Utc),
            "2025-09-02T15:50:01.770028Z"
        );
        assert_eq!(
            at(1_756_828_201, 770_028, TimeZone::Fixed(5 * 3600 + 1800)),
            "2025-09-02T21:20:01.770028+05:30"
        );
        assert_eq!(
            at(1_756_828_201, 5, TimeZone::Fixed(-8 * 3600)),
            "2025-09-02T07:50:01.000005-08:00"
        );
        assert_eq!(at(0, 0, TimeZone::Utc), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            at(0, 0, TimeZone::Fixed(-3600)),
            "1969-12-31T23:00:00.000000-01:00"
        );
        assert_eq!(
            at(951_782_400, 1, TimeZone::Utc),
            "2000-02-29T00:00:00.000001Z",
            "leap day"
        );
        assert_eq!(
            at(4_102_444_799, 999_999, TimeZone::Utc),
            "2099-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn civil_dates_match_chrono_over_a_long_range() {
        for days in (-800_000i64..800_000).step_by(997) {
            let date = chrono::DateTime::from_timestamp(days * 86_400, 0)
                .unwrap()
                .date_naive();
            use chrono::Datelike;
            assert_eq!(
                civil_from_days(days),
                (date.year() as i64, date.month(), date.day()),
                "day {days}"
            );
        }
    }

    #[test]
    fn the_cached_second_gives_the_same_text() {
        for zone in [
            TimeZone::Utc,
            TimeZone::Fixed(19_800),
            TimeZone::Fixed(-3600),
        ] {
            let first = at(1_756_828_201, 1, zone);
            let second = at(1_756_828_201, 999_999, zone);
            assert_eq!(
                first[..26].replace(".000001", ""),
                second[..26].replace(".999999", ""),
                "{zone:?}"
            );
            assert_eq!(first[27..], second[27..], "{zone:?}: suffix kept: {second}");
            assert_eq!(first.len(), second.len());
        }
        assert!(at(1_756_828_201, 5, TimeZone::Utc).ends_with(".000005Z"));
    }

    #[test]
    fn line_times_from_the_anchor_agree_with_the_system_clock() {
        let early = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let (before, derived, after) = (
            UnixMicros::from(SystemTime::now()),
            unix_micros_at(Instant::now()),
            UnixMicros::from(SystemTime::now()),
        );
        let slack = 50_000;
        assert!(
            derived.0 + slack >= before.0 && derived.0 <= after.0 + slack,
            "{derived:?} not near {before:?}..{after:?}"
        );
        let earlier = unix_micros_at(early);
        assert!(
            earlier < derived,
            "an instant read before the anchor maps before it"
        );
        let later = Instant::now() + Duration::from_millis(10);
        let gap = unix_micros_at(later).0 - derived.0;
        assert!(gap >= 10_000, "{gap} µs");
    }

    #[test]
    fn before_the_epoch_rounds_down() {
        let mut buf = Vec::new();
        let t = SystemTime::UNIX_EPOCH - Duration::from_micros(1);
        assert_eq!(UnixMicros::from(t), UnixMicros(-1));
        assert_eq!(UnixMicros(-1).to_system_time(), t);
        write_rfc3339(&mut buf, t.into(), TimeZone::Utc);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "1969-12-31T23:59:59.999999Z"
        );
    }
}
