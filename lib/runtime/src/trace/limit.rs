//! How long a string value may be in any output (SPEC §3 `max_value_bytes`): a longer one is
//! cut at a character boundary and followed by `…[+N bytes]`, N the bytes left out. Every
//! value that comes from a request (a model name, a header, a body field) is bounded this way
//! in every format and exporter, so that no request can make one line, record or attribute
//! arbitrarily large.

use std::fmt;

/// The bound on string values, in bytes; 0 means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueLimit(usize);

impl ValueLimit {
    /// The default of `max_value_bytes`: 16 KiB.
    pub const DEFAULT: ValueLimit = ValueLimit(16 * 1024);
    /// No bound.
    pub const NONE: ValueLimit = ValueLimit(0);

    /// At most `bytes` bytes of a value; 0 for no bound.
    pub fn new(bytes: usize) -> Self {
        ValueLimit(bytes)
    }

    /// The bound in bytes, 0 for none.
    pub fn bytes(self) -> usize {
        self.0
    }

    /// What of `s` is kept, cut at a character boundary, and how many bytes are left out.
    #[inline]
    pub fn cut(self, s: &str) -> (&str, usize) {
        if self.0 == 0 || s.len() <= self.0 {
            return (s, 0);
        }
        let mut end = self.0;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        (&s[..end], s.len() - end)
    }

    /// `value` formatted, at most this limit's bytes of it, with the suffix if cut (what is
    /// left out is counted, never kept).
    pub fn format(self, value: impl fmt::Display) -> Box<str> {
        let mut text = String::new();
        let mut writer = Bounded::new(self, |s| text.push_str(s));
        let _ = fmt::Write::write_fmt(&mut writer, format_args!("{value}"));
        let cut = writer.cut();
        if cut > 0 {
            text.push_str(&Suffix(cut).to_string());
        }
        text.into()
    }

    /// `s` bounded, with its suffix: what a typed value keeps.
    pub fn bound(self, s: &str) -> std::borrow::Cow<'_, str> {
        match self.cut(s) {
            (_, 0) => s.into(),
            (kept, cut) => format!("{kept}{}", Suffix(cut)).into(),
        }
    }
}

impl Default for ValueLimit {
    fn default() -> Self {
        ValueLimit::DEFAULT
    }
}

/// `…[+N bytes]`, written after a cut value.
#[derive(Debug, Clone, Copy)]
pub struct Suffix(pub usize);

impl fmt::Display for Suffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "…[+{} bytes]", self.0)
    }
}

/// A `fmt::Write` that passes on at most a limit's bytes of what is written to it (cut at a
/// character boundary) and counts the rest: for values written through `Debug` or `Display`,
/// whose length is not known before they are formatted.
pub struct Bounded<F: FnMut(&str)> {
    write: F,
    left: usize,
    unbounded: bool,
    cut: usize,
}

impl<F: FnMut(&str)> Bounded<F> {
    /// Writes through `write`, at most `limit`'s bytes.
    pub fn new(limit: ValueLimit, write: F) -> Self {
        Bounded {
            write,
            left: limit.0,
            unbounded: limit.0 == 0,
            cut: 0,
        }
    }

    /// The bytes left out so far.
    pub fn cut(&self) -> usize {
        self.cut
    }
}

impl<F: FnMut(&str)> fmt::Write for Bounded<F> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.unbounded {
            (self.write)(s);
            return Ok(());
        }
        let (kept, cut) = ValueLimit(self.left).cut(s);
        if self.left == 0 {
            self.cut += s.len();
            return Ok(());
        }
        (self.write)(kept);
        self.left -= kept.len();
        if cut > 0 {
            // A character that does not fit ends what is kept.
            self.left = 0;
            self.cut += cut;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn values_are_cut_at_a_character_boundary() {
        let limit = ValueLimit::new(5);
        let cases = [
            ("short", "short", 0, "at the bound"),
            ("longer!", "longe", 2, "ASCII"),
            ("abcdé", "abcd", 2, "é would straddle the bound"),
            ("中文字", "中", 6, "three-byte characters"),
        ];
        for (value, kept, cut, reason) in cases {
            assert_eq!(limit.cut(value), (kept, cut), "{reason}");
        }
        assert_eq!(
            ValueLimit::NONE.cut(&"x".repeat(1 << 20)).1,
            0,
            "0 is no bound"
        );
        assert_eq!(limit.bound("longer!"), "longe…[+2 bytes]");
    }

    #[test]
    fn formatted_values_are_cut_as_they_are_written() {
        for (limit, parts, kept, cut) in [
            (5, &["ab", "cd", "ef", "gh"][..], "abcde", 3),
            (5, &["abcdé", "x"], "abcd", 3),
            (0, &["ab", "cd"], "abcd", 0),
            (4, &["abcd", "", "e"], "abcd", 1),
        ] {
            let mut out = String::new();
            let mut w = Bounded::new(ValueLimit::new(limit), |s| out.push_str(s));
            for p in parts {
                w.write_str(p).unwrap();
            }
            let got_cut = w.cut();
            assert_eq!((out.as_str(), got_cut), (kept, cut), "{parts:?}");
        }
    }
}
