//! W3C Baggage (`baggage` header): validated as the spec's grammar says and passed on whole, so
//! that what a caller puts in it reaches every process of the request. Members are read by
//! name with [`baggage_member`] (in `trace`, where the identity that holds them lives).
//!
//! ```text
//! baggage-string = list-member 0*179( OWS "," OWS list-member )
//! list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//! property       = key OWS "=" OWS value / key OWS
//! key            = token                      ; RFC 7230
//! value          = *baggage-octet             ; printable ASCII but SP " , ; \
//! ```
//!
//! Several headers are joined with `,`. A header over [`MAX_BAGGAGE_BYTES`] or
//! [`MAX_BAGGAGE_MEMBERS`], or one member that does not parse, drops the whole header (logged at
//! DEBUG by callers): a receiver may not forward what it cannot read.

use super::carrier::Extractor;
pub use crate::trace::baggage_member;

/// The header name, lowercase.
pub const BAGGAGE: &str = "baggage";
/// The longest `baggage` passed on (the spec's minimum to propagate).
pub const MAX_BAGGAGE_BYTES: usize = 8192;
/// The most list members passed on (the spec's minimum to propagate).
pub const MAX_BAGGAGE_MEMBERS: usize = 64;

/// Why a `baggage` header was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidBaggage {
    /// Longer than [`MAX_BAGGAGE_BYTES`].
    #[error("longer than {MAX_BAGGAGE_BYTES} bytes")]
    TooLong,
    /// More than [`MAX_BAGGAGE_MEMBERS`] members.
    #[error("more than {MAX_BAGGAGE_MEMBERS} members")]
    TooManyMembers,
    /// A member that is not `key=value[;property...]` (its position, from 1).
    #[error("member {0} is not key=value with a token key and a baggage value")]
    Member(usize),
    /// Not ASCII text.
    #[error("not ASCII")]
    NotAscii,
}

/// Reads `baggage` from a carrier: `Ok(None)` when there is none.
pub fn extract_baggage(
    carrier: &(impl Extractor + ?Sized),
) -> Result<Option<String>, InvalidBaggage> {
    let values = carrier.get_all(BAGGAGE);
    if values.is_empty() {
        return Ok(None);
    }
    let mut joined = String::new();
    for value in values {
        let text = std::str::from_utf8(value).map_err(|_| InvalidBaggage::NotAscii)?;
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(text);
    }
    validate_baggage(&joined).map(Some)
}

/// The normalised `baggage` (members trimmed, empty members dropped), or why it is dropped.
pub fn validate_baggage(value: &str) -> Result<String, InvalidBaggage> {
    if !value.is_ascii() {
        return Err(InvalidBaggage::NotAscii);
    }
    if value.len() > MAX_BAGGAGE_BYTES {
        return Err(InvalidBaggage::TooLong);
    }
    let mut members = Vec::new();
    for member in value.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        if members.len() == MAX_BAGGAGE_MEMBERS {
            return Err(InvalidBaggage::TooManyMembers);
        }
        if !valid_member(member) {
            return Err(InvalidBaggage::Member(members.len() + 1));
        }
        members.push(member);
    }
    Ok(members.join(","))
}

fn valid_member(member: &str) -> bool {
    let mut parts = member.split(';');
    let Some((key, value)) = parts.next().and_then(|p| p.split_once('=')) else {
        return false;
    };
    is_token(key.trim_matches([' ', '\t'])) && is_value(value.trim_matches([' ', '\t'])) && {
        parts.all(|property| match property.split_once('=') {
            Some((k, v)) => {
                is_token(k.trim_matches([' ', '\t'])) && is_value(v.trim_matches([' ', '\t']))
            }
            None => is_token(property.trim_matches([' ', '\t'])),
        })
    }
}

/// RFC 7230 `token`: one or more of `!#$%&'*+-.^_`|~`, digits and letters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// `*baggage-octet`: printable ASCII but space, `"`, `,`, `;` and `\`.
fn is_value(s: &str) -> bool {
    s.bytes()
        .all(|c| (0x21..=0x7e).contains(&c) && !matches!(c, b'"' | b',' | b';' | b'\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_validation() {
        let max: Vec<String> = (0..64).map(|i| format!("k{i}=v")).collect();
        let many: Vec<String> = (0..65).map(|i| format!("k{i}=v")).collect();
        let long = format!("k={}", "v".repeat(MAX_BAGGAGE_BYTES));
        let cases: Vec<(String, Result<&str, InvalidBaggage>, &str)> = vec![
            ("userId=alice".into(), Ok("userId=alice"), "one member"),
            (
                " a=1 , b = 2 ;p;q=3,,".into(),
                Ok("a=1,b = 2 ;p;q=3"),
                "OWS around members, properties, empty members",
            ),
            (
                "tracewire.log=debug,k=%22quoted%22".into(),
                Ok("tracewire.log=debug,k=%22quoted%22"),
                "percent-encoded values",
            ),
            ("k=".into(), Ok("k="), "an empty value is a value"),
            (max.join(","), Ok(""), "64 members"),
            (
                many.join(","),
                Err(InvalidBaggage::TooManyMembers),
                "65 members",
            ),
            (long, Err(InvalidBaggage::TooLong), "over 8192 bytes"),
            ("novalue".into(), Err(InvalidBaggage::Member(1)), "no ="),
            (
                "a=1,b c=2".into(),
                Err(InvalidBaggage::Member(2)),
                "a space in a key",
            ),
            (
                "a=x y".into(),
                Err(InvalidBaggage::Member(1)),
                "a space in a value",
            ),
            (
                "a=\"q\"".into(),
                Err(InvalidBaggage::Member(1)),
                "a quote in a value",
            ),
            (
                "a=1;=2".into(),
                Err(InvalidBaggage::Member(1)),
                "a property without a key",
            ),
            ("a=é".into(), Err(InvalidBaggage::NotAscii), "not ASCII"),
        ];
        for (value, want, reason) in cases {
            let got = validate_baggage(&value);
            match want {
                Ok("") => assert!(got.is_ok(), "{reason}: {got:?}"),
                want => assert_eq!(got.as_deref(), want.as_deref(), "{reason}: {value:?}"),
            }
        }
    }
}
