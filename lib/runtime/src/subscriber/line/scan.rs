//! Byte scans for the escaping fast path, eight bytes at a time in plain integer arithmetic
//! (SWAR, "SIMD within a register"). Lines are made of short strings (names, ids, messages)
//! for which the compiler's vectorized loops never leave their byte-at-a-time tail; here a
//! 14-byte span name takes two word checks.
//!
//! Each test below sets the high bit of the result's byte lanes that match; it is exact as a
//! yes/no answer ("some byte matches"), which is all the fast path asks.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Lanes below `n` (`n` at most 128).
const fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * n as u64) & !word & HIGHS
}

/// Lanes equal to `byte`.
const fn equal(word: u64, byte: u8) -> u64 {
    below(word ^ (ONES * byte as u64), 1)
}

/// Whether `hit` matches any byte of `bytes`. A short tail is padded with `b'a'`, which no
/// test here matches.
fn any(bytes: &[u8], hit: impl Fn(u64) -> u64) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word: [u8; 8] = word.try_into().expect("eight bytes");
        if hit(u64::from_le_bytes(word)) != 0 {
            return true;
        }
    }
    let tail = words.remainder();
    if tail.is_empty() {
        return false;
    }
    let mut word = u64::from_le_bytes([b'a'; 8]);
    for (i, &b) in tail.iter().enumerate() {
        word = (word & !(0xff << (8 * i))) | (u64::from(b) << (8 * i));
    }
    hit(word) != 0
}

/// Whether a JSON string needs escaping: `"`, `\`, a control character or DEL.
pub(crate) fn needs_json_escape(bytes: &[u8]) -> bool {
    any(bytes, |w| {
        below(w, 0x20) | equal(w, b'"') | equal(w, b'\\') | equal(w, 0x7f)
    })
}

/// Whether readable text needs escaping: a control character or DEL.
pub(crate) fn has_control(bytes: &[u8]) -> bool {
    any(bytes, |w| below(w, 0x20) | equal(w, 0x7f))
}

/// Whether a value must go through `{:?}` quoting: anything but printable ASCII without `"`
/// and `\`.
pub(crate) fn needs_debug_quoting(bytes: &[u8]) -> bool {
    any(bytes, |w| {
        below(w, 0x20) | equal(w, b'"') | equal(w, b'\\') | equal(w, 0x7f) | (w & HIGHS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every position and length up to 24, every byte value: the word scans agree with the
    /// obvious per-byte ones.
    #[test]
    fn word_scans_agree_with_byte_scans() {
        for len in 0..24 {
            for at in 0..len.max(1) {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'x'; len];
                    if len > 0 {
                        bytes[at] = b;
                    }
                    let json = bytes
                        .iter()
                        .any(|&c| c < 0x20 || c == b'"' || c == b'\\' || c == 0x7f);
                    let control = bytes.iter().any(|&c| c < 0x20 || c == 0x7f);
                    let debug = bytes
                        .iter()
                        .any(|&c| !(0x20..0x7f).contains(&c) || c == b'"' || c == b'\\');
                    assert_eq!(needs_json_escape(&bytes), json, "{bytes:?}");
                    assert_eq!(has_control(&bytes), control, "{bytes:?}");
                    assert_eq!(needs_debug_quoting(&bytes), debug, "{bytes:?}");
                }
            }
        }
    }
}
