//! The level one request asks for: the `tracewire.log` member of its W3C `baggage`, honoured up
//! to the level the process allows (`DYN_LOG_REQUEST_LEVEL`).

use tracing::Level;

use crate::{subscriber::directives::parse_level, trace::baggage_member};

/// The baggage member that asks for a request's level.
pub const LOG_MEMBER: &str = "tracewire.log";

/// The level `baggage`'s `member` (`tracewire.log`, or `tracewire.logs` for client logs) asks
/// for, no more verbose than `allowed`: `None` when the process allows none, when there is no
/// such member, or when its value is not a level name (`error` … `trace`, any case; `off` asks
/// for nothing). Keys are case-sensitive, as W3C Baggage says; the first member of that name
/// counts; properties are ignored.
pub(crate) fn requested(
    baggage: Option<&str>,
    member: &str,
    allowed: Option<Level>,
) -> Option<Level> {
    let allowed = allowed?;
    let value = baggage_member(baggage?, member)?;
    let level = parse_level(value)?.into_level()?;
    // More verbose levels compare greater: the less verbose of the two.
    Some(level.min(allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_member_asks_up_to_the_allowed_level() {
        use Level as L;
        let debug = Some(L::DEBUG);
        // (baggage, allowed, honoured, why)
        type Case<'a> = (Option<&'a str>, Option<Level>, Option<Level>, &'a str);
        let cases: &[Case<'_>] = &[
            (
                Some("tracewire.log=debug"),
                debug,
                debug,
                "asked and allowed",
            ),
            (
                Some("tracewire.log=debug"),
                None,
                None,
                "DYN_LOG_REQUEST_LEVEL unset: never",
            ),
            (
                Some("tracewire.log=trace"),
                debug,
                debug,
                "capped at the allowed level",
            ),
            (
                Some("tracewire.log=info"),
                debug,
                Some(L::INFO),
                "a less verbose level is honoured as asked (it never hides what the filter shows)",
            ),
            (
                Some("tracewire.log=DEBUG"),
                debug,
                debug,
                "level names in any case",
            ),
            (
                Some("user=ann,tracewire.log = debug;ttl=3"),
                debug,
                debug,
                "among other members, with spaces and a property",
            ),
            (
                Some("tracewire.log=debug,tracewire.log=error"),
                debug,
                debug,
                "the first member of the name",
            ),
            (Some("tracewire.log=verbose"), debug, None, "not a level"),
            (
                Some("tracewire.log=off"),
                debug,
                None,
                "off asks for nothing",
            ),
            (Some("tracewire.log="), debug, None, "an empty value"),
            (
                Some("tracewire.log=%64ebug"),
                debug,
                None,
                "percent-encoded: not a level name",
            ),
            (
                Some("Tracewire.Log=debug"),
                debug,
                None,
                "keys are case-sensitive",
            ),
            (
                Some("user=tracewire.log=debug"),
                debug,
                None,
                "a value that contains the text is not the member",
            ),
            (
                Some("user=ann;tracewire.log=debug"),
                debug,
                None,
                "a property is not a member",
            ),
            (None, debug, None, "no baggage"),
        ];
        for (baggage, allowed, want, reason) in cases {
            assert_eq!(
                requested(*baggage, LOG_MEMBER, *allowed),
                *want,
                "{reason}: {baggage:?}"
            );
        }
    }
}
