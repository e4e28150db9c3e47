//! What a setting's value type provides: `FromStr` for a variable's text and `Deserialize` for
//! a TOML value, both failing with a [`Rejected`] that says what is accepted. The error reads
//! the same from either source: `DYN_LOG_STREAM: "stdin": expected stderr or stdout` and
//! `tracewire.toml:3: "stdin": expected stderr or stdout`.
//!
//! [`setting_value!`](crate::setting_value) writes the `Deserialize` from the `FromStr`, taking
//! the TOML kinds the type allows (a string, an integer, a float, a boolean) and refusing the
//! others with serde's own "invalid type" message.

use std::{borrow::Cow, convert::Infallible, fmt, str::FromStr};

use super::error::{ConfigError, Origin};

/// A value that is not accepted: the value (unless it is a secret) and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The offending value, or `None` for a secret that no error may repeat.
    value: Option<String>,
    /// What is wrong and what is accepted.
    reason: Cow<'static, str>,
}

impl Rejected {
    /// `value` is not accepted: `reason` says what would be.
    pub fn new(value: &str, reason: impl Into<Cow<'static, str>>) -> Self {
        Rejected {
            value: Some(value.to_owned()),
            reason: reason.into(),
        }
    }

    /// A secret's value is not accepted: `reason` says why without repeating it.
    pub fn secret(reason: impl Into<Cow<'static, str>>) -> Self {
        Rejected {
            value: None,
            reason: reason.into(),
        }
    }

    /// The configuration error of this value at `origin`.
    pub fn at(self, origin: Origin) -> ConfigError {
        match self.value {
            Some(value) => ConfigError::Invalid {
                origin,
                value,
                reason: self.reason.into_owned(),
            },
            None => ConfigError::Secret {
                origin,
                reason: self.reason.into_owned(),
            },
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{value:?}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl From<Infallible> for Rejected {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

/// The TOML kinds a value type takes; the text of any of them goes to its `FromStr`.
#[derive(Debug, Clone, Copy)]
pub struct Kinds {
    /// A TOML string.
    pub string: bool,
    /// A TOML integer.
    pub integer: bool,
    /// A TOML float (an integer too, when this is set).
    pub float: bool,
    /// A TOML boolean.
    pub boolean: bool,
}

impl Kinds {
    /// Strings only.
    pub const STRING: Kinds = Kinds {
        string: true,
        integer: false,
        float: false,
        boolean: false,
    };
    /// Integers only.
    pub const INTEGER: Kinds = Kinds {
        integer: true,
        ..Kinds::NONE
    };
    /// Floats and integers.
    pub const NUMBER: Kinds = Kinds {
        integer: true,
        float: true,
        ..Kinds::NONE
    };
    /// Booleans, and the strings a [`Flag`] takes.
    pub const FLAG: Kinds = Kinds {
        string: true,
        boolean: true,
        ..Kinds::NONE
    };
    const NONE: Kinds = Kinds {
        string: false,
        integer: false,
        float: false,
        boolean: false,
    };
}

/// Deserializes `T` through its `FromStr`, from the TOML kinds `kinds` allows; `expecting`
/// completes serde's "invalid type: …, expected …" for the others. What
/// [`setting_value!`](crate::setting_value) expands to.
pub fn deserialize_parsed<'de, T, D>(
    d: D,
    kinds: Kinds,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    T: FromStr,
    T::Err: Into<Rejected>,
    D: serde::Deserializer<'de>,
{
    struct Parsed<T> {
        kinds: Kinds,
        expecting: &'static str,
        _t: std::marker::PhantomData<T>,
    }
    impl<T> Parsed<T>
    where
        T: FromStr,
        T::Err: Into<Rejected>,
    {
        fn parse<E: serde::de::Error>(&self, text: &str) -> Result<T, E> {
            text.parse().map_err(|e: T::Err| E::custom(e.into()))
        }
        fn refuse<E: serde::de::Error>(&self, got: serde::de::Unexpected<'_>) -> Result<T, E> {
            Err(E::invalid_type(got, self))
        }
    }
    impl<T> serde::de::Visitor<'_> for Parsed<T>
    where
        T: FromStr,
        T::Err: Into<Rejected>,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            if self.kinds.string {
                return self.parse(v);
            }
            self.refuse(serde::de::Unexpected::Str(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
            if self.kinds.integer {
                return self.parse(&v.to_string());
            }
            self.refuse(serde::de::Unexpected::Signed(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
            if self.kinds.integer {
                return self.parse(&v.to_string());
            }
            self.refuse(serde::de::Unexpected::Unsigned(v))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
            if self.kinds.float {
                return self.parse(&v.to_string());
            }
            self.refuse(serde::de::Unexpected::Float(v))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<T, E> {
            if self.kinds.boolean {
                return self.parse(if v { "true" } else { "false" });
            }
            self.refuse(serde::de::Unexpected::Bool(v))
        }
    }
    d.deserialize_any(Parsed {
        kinds,
        expecting,
        _t: std::marker::PhantomData,
    })
}

/// Implements `Deserialize` for a setting's value type through its `FromStr`:
/// `setting_value!(Stream, STRING, "a string")` takes TOML strings;
/// `INTEGER`, `NUMBER` and `FLAG` (a boolean, or its strings) are the other [`Kinds`].
#[macro_export]
macro_rules! setting_value {
    ($ty:ty, $kinds:ident, $expecting:expr) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::settings::deserialize_parsed(d, $crate::settings::Kinds::$kinds, $expecting)
            }
        }
    };
}

/// A boolean setting: `1 true yes on` and `0 false no off`, case-insensitive, trimmed; in the
/// TOML file a TOML boolean or one of those strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

/// What a boolean variable accepts.
pub(super) const BOOLEANS_ACCEPTED: &str = "expected one of 1, true, yes, on, 0, false, no, off";

impl FromStr for Flag {
    type Err = Rejected;
    fn from_str(value: &str) -> Result<Self, Rejected> {
        let v = value.trim();
        let is = |words: [&str; 4]| words.iter().any(|w| w.eq_ignore_ascii_case(v));
        if is(["1", "true", "yes", "on"]) {
            Ok(Flag(true))
        } else if is(["0", "false", "no", "off"]) {
            Ok(Flag(false))
        } else {
            Err(Rejected::new(value, BOOLEANS_ACCEPTED))
        }
    }
}

impl Flag {
    /// `on` or `off`, as the boolean `text` says: a setting whose values a boolean picks.
    pub fn choose<T>(text: &str, on: T, off: T) -> Result<T, Rejected> {
        let Flag(yes) = text.parse()?;
        Ok(if yes { on } else { off })
    }

    /// What a TOML value of the wrong type is told is expected.
    pub const EXPECTING: &'static str =
        "a boolean (true, false, or one of \"yes\", \"no\", \"on\", \"off\", \"1\", \"0\")";
}

crate::setting_value!(Flag, FLAG, Flag::EXPECTING);

/// One of a few keywords, case-insensitive and trimmed; `accepted` is the "expected …" text.
pub fn keyword<T: Copy>(
    value: &str,
    keywords: &[(&str, T)],
    accepted: &'static str,
) -> Result<T, Rejected> {
    let v = value.trim();
    keywords
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(v))
        .map(|(_, t)| *t)
        .ok_or_else(|| Rejected::new(value, accepted))
}

/// A whole number in `range`, trimmed; `accepted` is the "expected …" text.
pub fn number_in<T>(
    value: &str,
    range: std::ops::RangeInclusive<T>,
    accepted: impl Into<Cow<'static, str>>,
) -> Result<T, Rejected>
where
    T: FromStr + PartialOrd,
{
    match value.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(Rejected::new(value, accepted)),
    }
}
