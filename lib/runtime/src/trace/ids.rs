//! Trace and span identifiers: W3C sizes, lowercase hex, never all zero; and the trace flags.

use std::fmt;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A 128-bit trace id, written as 32 lowercase hex digits. Never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(u128);

/// A 64-bit span id, written as 16 lowercase hex digits. Never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(u64);

/// The W3C `trace-flags` byte (bit 0: sampled, bit 1: random trace id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TraceFlags(pub u8);

impl TraceFlags {
    /// The `sampled` flag alone, which tracewire sets on the traces it starts.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);

    /// These flags with the `sampled` bit set or cleared, the others kept.
    #[must_use]
    pub fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | Self::SAMPLED.0)
        } else {
            TraceFlags(self.0 & !Self::SAMPLED.0)
        }
    }
}

impl TraceId {
    /// The id with this value, or `None` for the invalid all-zero id.
    pub fn from_u128(value: u128) -> Option<Self> {
        (value != 0).then_some(TraceId(value))
    }

    /// A new random id from the calling thread's generator.
    pub fn random() -> Self {
        loop {
            if let Some(id) = Self::from_u128(fastrand::u128(..)) {
                return id;
            }
        }
    }

    /// Parses exactly 32 lowercase hex digits that are not all zero.
    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex::<32>(text).and_then(Self::from_u128)
    }

    /// The id as a number.
    pub fn to_u128(self) -> u128 {
        self.0
    }

    /// Appends the 32 hex digits to `buf`.
    pub fn write_hex(self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&hex_digits::<32>(self.0));
    }
}

impl SpanId {
    /// The id with this value, or `None` for the invalid all-zero id.
    pub fn from_u64(value: u64) -> Option<Self> {
        (value != 0).then_some(SpanId(value))
    }

    /// A new random id from the calling thread's generator.
    pub fn random() -> Self {
        loop {
            if let Some(id) = Self::from_u64(fastrand::u64(..)) {
                return id;
            }
        }
    }

    /// Parses exactly 16 lowercase hex digits that are not all zero.
    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex::<16>(text).and_then(|v| Self::from_u64(v as u64))
    }

    /// The id as a number.
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// Appends the 16 hex digits to `buf`.
    pub fn write_hex(self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&hex_digits::<16>(self.0 as u128));
    }
}

/// Two hex digits per byte value: ids are written on every line of a span.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    table
};

fn hex_digits<const N: usize>(value: u128) -> [u8; N] {
    let mut out = [0u8; N];
    let bytes = value.to_be_bytes();
    for (pair, byte) in out.chunks_exact_mut(2).zip(&bytes[16 - N / 2..]) {
        pair.copy_from_slice(&HEX_PAIRS[*byte as usize]);
    }
    out
}

/// Exactly `N` lowercase hex digits; uppercase is refused as W3C Trace Context requires.
pub(crate) fn parse_hex<const N: usize>(text: &str) -> Option<u128> {
    if text.len() != N {
        return None;
    }
    text.bytes().try_fold(0u128, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some((acc << 4) | digit as u128)
    })
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The digits are ASCII by construction.
        f.write_str(std::str::from_utf8(&hex_digits::<32>(self.0)).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&hex_digits::<16>(self.0 as u128)).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_keeps_leading_zeros() {
        let t = TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c).unwrap();
        assert_eq!(t.to_string(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c"),
            Some(t)
        );
        let s = SpanId::from_u64(0xb7ad6b7169203331).unwrap();
        assert_eq!(s.to_string(), "b7ad6b7169203331");
        assert_eq!(SpanId::from_hex(&s.to_string()), Some(s));
        assert_eq!(SpanId::from_u64(1).unwrap().to_string(), "0000000000000001");
    }

    #[test]
    fn invalid_hex_is_refused() {
        let cases = [
            ("00000000000000000000000000000000", "all zero"),
            ("0AF7651916CD43DD8448EB211C80319C", "uppercase"),
            ("0af7651916cd43dd8448eb211c80319", "31 digits"),
            ("0af7651916cd43dd8448eb211c80319c0", "33 digits"),
            ("0af7651916cd43dd8448eb211c80319g", "not hex"),
            ("+af7651916cd43dd8448eb211c80319c", "sign"),
        ];
        for (text, reason) in cases {
            assert_eq!(TraceId::from_hex(text), None, "{reason}: {text}");
        }
        assert_eq!(SpanId::from_hex("0000000000000000"), None, "all zero");
        assert_eq!(SpanId::from_hex("b7ad6b716920333"), None, "15 digits");
    }

    #[test]
    fn the_sampled_bit_is_set_and_cleared_alone() {
        assert_eq!(TraceFlags(0x02).with_sampled(true), TraceFlags(0x03));
        assert_eq!(TraceFlags(0x03).with_sampled(false), TraceFlags(0x02));
        assert_eq!(TraceFlags(0x01).with_sampled(true), TraceFlags(0x01));
    }

    #[test]
    fn random_ids_are_non_zero_and_distinct() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| SpanId::random()).collect();
        assert_eq!(ids.len(), 1000);
        assert_ne!(TraceId::random(), TraceId::random());
    }
}
