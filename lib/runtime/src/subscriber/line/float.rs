//! Finite floats as their shortest round-trip decimal text, exactly as serde_json writes them
//! (`0.25`, `3.0`, `1e-7`), for both formats.
//!
//! The floats services log are mostly short decimals (`temperature=0.7`, `ratio=0.25`,
//! `elapsed_s=1.5`). For those, a few multiplications find the digits instead of `zmij`, the
//! shortest-round-trip formatter serde_json uses and a visible part of a line's cost
//! (BENCHMARKS.md has what it saved). Every other value goes to `zmij`, and the tests compare
//! both paths with it. No crate has such a fast path.

/// `10^k` for the decimal places tried.
const POW10: [f64; 8] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];

/// 2^40. Below it, one unit in the last place of a scaled value is at most 2^-12, which is what
/// makes the search exact (see [`short_decimal`]).
const SCALED_LIMIT: f64 = 1_099_511_627_776.0;

/// Appends `v`, which must be finite.
pub(crate) fn write_finite(buf: &mut Vec<u8>, v: f64) {
    if !short_decimal(buf, v) {
        buf.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    }
}

/// Writes `v` and returns true if it is a decimal of at most 7 places whose digits stay under
/// 2^40, between 0.001 and 10^9 in magnitude (where serde_json writes plain decimal notation).
///
/// Why this is the shortest round-trip text: for each count `k` of decimal places, the digits
/// `t` that could stand for `v` are the integers with `t / 10^k` rounding to `v`. They lie within
/// half a unit in the last place of `v * 10^k` from it, under 2^-12 below [`SCALED_LIMIT`], so
/// there is at most one, and it is the nearest integer to the computed product (whose own
/// rounding error is under 2^-13). `t as f64 / 10^k` is correctly rounded (both are exact in
/// an `f64`), so comparing it with `v` is exactly the test that parsing the text gives back `v`.
/// The first `k` that passes gives the fewest digits; a shortest-round-trip formatter can write
/// nothing shorter, and with one candidate there is no tie to break.
fn short_decimal(buf: &mut Vec<u8>, v: f64) -> bool {
    let magnitude = v.abs();
    if !(1e-3..1e9).contains(&magnitude) {
        return false;
    }
    for (places, scale) in POW10.iter().enumerate() {
        let scaled = magnitude * scale;
        if scaled >= SCALED_LIMIT {
            return false;
        }
        let digits = (scaled + 0.5) as u64;
        if digits as f64 / scale == magnitude {
            write_decimal(buf, v.is_sign_negative(), digits, places);
            return true;
        }
    }
    false
}

/// `digits / 10^places` in plain notation, with `.0` for a whole number.
fn write_decimal(buf: &mut Vec<u8>, negative: bool, digits: u64, places: usize) {
    if negative {
        buf.push(b'-');
    }
    let mut text = itoa::Buffer::new();
    let text = text.format(digits).as_bytes();
    if places == 0 {
        buf.extend_from_slice(text);
        buf.extend_from_slice(b".0");
    } else if text.len() > places {
        let point = text.len() - places;
        buf.extend_from_slice(&text[..point]);
        buf.push(b'.');
        buf.extend_from_slice(&text[point..]);
    } else {
        buf.extend_from_slice(b"0.");
        buf.extend_from_slice(&b"0000000"[..places - text.len()]);
        buf.extend_from_slice(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(v: f64) -> String {
        let mut buf = Vec::new();
        write_finite(&mut buf, v);
        String::from_utf8(buf).unwrap()
    }

    fn theirs(v: f64) -> String {
        zmij::Buffer::new().format_finite(v).to_owned()
    }

    fn took_the_fast_path(v: f64) -> bool {
        short_decimal(&mut Vec::new(), v)
    }

    #[test]
    fn usual_values_take_the_fast_path_and_match_zmij() {
        for v in [
            0.25,
            0.7,
            0.1,
            0.3,
            1.5,
            3.0,
            100.0,
            0.001,
            12.75,
            999_999_999.5,
            -0.7,
        ] {
            assert!(took_the_fast_path(v), "{v}");
            assert_eq!(ours(v), theirs(v), "{v}");
        }
        assert_eq!(ours(0.25), "0.25");
        assert_eq!(ours(3.0), "3.0");
        assert_eq!(ours(-0.001), "-0.001");
    }

    #[test]
    fn every_short_decimal_matches_zmij() {
        // Every value of up to 5 significant digits and up to 7 places, as a parser reads it,
        // and its neighbours one unit in the last place away.
        for places in 0..=7i32 {
            for digits in 1..100_000u64 {
                let v: f64 = format!("{digits}e-{places}").parse().unwrap();
                for v in [
                    v,
                    f64::from_bits(v.to_bits() + 1),
                    f64::from_bits(v.to_bits() - 1),
                ] {
                    for v in [v, -v] {
                        assert_eq!(ours(v), theirs(v), "{v:e}");
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_values_match_zmij() {
        // Random bit patterns over the whole range, then random doubles in the fast path's
        // range, then random decimals of up to 12 digits.
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..300_000 {
            let v = f64::from_bits(rng.u64(..));
            if v.is_finite() {
                assert_eq!(ours(v), theirs(v), "{v:e}");
            }
            let v = 10f64.powf(rng.f64() * 13.0 - 4.0);
            assert_eq!(ours(v), theirs(v), "{v:e}");
            let v: f64 = format!("{}e-{}", rng.u64(1..1_000_000_000_000), rng.u32(0..=12))
                .parse()
                .unwrap();
            assert_eq!(ours(v), theirs(v), "{v:e}");
        }
    }

    #[test]
    fn zero_subnormals_and_limits_go_to_zmij() {
        for v in [
            0.0,
            -0.0,
            5e-324,
            1e-4,
            1e9,
            1e21,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert!(!took_the_fast_path(v), "{v:e}");
            assert_eq!(ours(v), theirs(v), "{v:e}");
        }
    }
}
