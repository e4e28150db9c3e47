//! A caller's ask for its request's lines (SPEC §13), at the edge: the `x-tracewire-logs` and
//! `x-tracewire-logs-token` headers become the baggage member `tracewire.logs=<level>` once the
//! installed layer allows them, and a member the caller put in its own baggage is dropped, so
//! that only this check lets a request have its lines. Processes further on read the member.

use std::sync::Arc;

use super::{
    baggage::{validate_baggage, MAX_BAGGAGE_BYTES},
    carrier::Extractor,
};
use crate::{
    logging::{allow_client_logs, CLIENT_MEMBER},
    trace::RemoteContext,
};

/// The request header that asks for the request's lines at a level.
pub const CLIENT_LOGS_HEADER: &str = "x-tracewire-logs";
/// The request header that carries the token `DYN_LOG_CLIENT_TOKEN` asks for.
pub const CLIENT_LOGS_TOKEN_HEADER: &str = "x-tracewire-logs-token";

/// Turns the caller's ask in `carrier` into `remote`'s baggage member (and drops any member of
/// that name the caller sent). Why an ask was refused, to be logged at DEBUG inside the
/// request's span; `None` when it was granted or there was none.
pub fn ask_client_logs(
    carrier: &(impl Extractor + ?Sized),
    remote: &mut RemoteContext,
) -> Option<String> {
    let asked = carrier.get_all(CLIENT_LOGS_HEADER);
    let smuggled = remote
        .baggage
        .as_deref()
        .is_some_and(|b| b.contains(CLIENT_MEMBER));
    // The usual request: no ask and no member to drop, its baggage passed on as it came.
    if asked.is_empty() && !smuggled {
        return None;
    }
    let kept = remote
        .baggage
        .as_deref()
        .map(|b| without_member(b, CLIENT_MEMBER));
    let Some(asked) = asked.first() else {
        remote.baggage = kept.filter(|b| !b.is_empty()).map(Arc::from);
        return None;
    };
    let token = carrier.get_all(CLIENT_LOGS_TOKEN_HEADER).first().copied();
    let (baggage, refused) = match allow_client_logs(asked, token) {
        Ok(level) => {
            let member = format!("{CLIENT_MEMBER}={}", level.as_str().to_ascii_lowercase());
            let joined = match kept.as_deref() {
                Some(rest) if !rest.is_empty() => format!("{member},{rest}"),
                _ => member,
            };
            match validate_baggage(&joined) {
                Ok(valid) => (Some(valid), None),
                Err(e) => (
                    kept,
                    Some(format!(
                        "the request's baggage has no room for the ask ({e}; at most {MAX_BAGGAGE_BYTES} bytes)"
                    )),
                ),
            }
        }
        Err(refused) => (kept, Some(refused.to_string())),
    };
    remote.baggage = baggage.filter(|b| !b.is_empty()).map(Arc::from);
    refused
}

/// `baggage` without its members named `key` (already validated: members split at `,`).
fn without_member(baggage: &str, key: &str) -> String {
    baggage
        .split(',')
        .filter(|member| {
            let name = member.split(['=', ';']).next().unwrap_or("").trim();
            name != key
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        logging::{testing::jsonl, LoggingConfig, MemorySink, ScopeConfig, TracewireLayer},
        settings::Secret,
    };
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    /// The baggage and refusal `headers` give, under a layer allowing `level` with `token`.
    fn ask(
        level: Option<Level>,
        token: Option<&str>,
        baggage: Option<&str>,
        headers: &[(&'static str, &'static str)],
    ) -> (Option<String>, Option<String>) {
        let config = LoggingConfig {
            scope: ScopeConfig {
                client_level: level,
                client_token: token.and_then(Secret::new),
                ..ScopeConfig::default()
            },
            ..jsonl()
        };
        let layer = TracewireLayer::new(&config, MemorySink::default());
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        let mut remote = RemoteContext {
            baggage: baggage.map(Arc::from),
            ..RemoteContext::default()
        };
        let refused =
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
                ask_client_logs(&map, &mut remote)
            });
        (remote.baggage.as_deref().map(str::to_owned), refused)
    }

    #[test]
    fn an_ask_becomes_the_member_only_when_allowed() {
        let debug = Some(Level::DEBUG);
        let logs = |v| [(CLIENT_LOGS_HEADER, v)];
        let b = |s: &str| Some(s.to_owned());
        // (allowed, token set, baggage, headers, baggage after, refused because, why)
        type Case<'a> = (
            Option<Level>,
            Option<&'a str>,
            Option<&'a str>,
            Vec<(&'static str, &'static str)>,
            Option<String>,
            Option<&'a str>,
            &'a str,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                debug,
                None,
                None,
                logs("debug").to_vec(),
                b("tracewire.logs=debug"),
                None,
                "allowed",
            ),
            (
                Some(Level::INFO),
                None,
                None,
                logs("trace").to_vec(),
                b("tracewire.logs=info"),
                None,
                "capped",
            ),
            (
                None,
                None,
                None,
                logs("debug").to_vec(),
                None,
                Some("DYN_LOG_CLIENT_LEVEL is not set"),
                "off",
            ),
            (
                debug,
                None,
                None,
                logs("loud").to_vec(),
                None,
                Some("not one of"),
                "not a level",
            ),
            (
                debug,
                None,
                Some("user=ann,tracewire.logs=trace"),
                vec![],
                b("user=ann"),
                None,
                "a caller's own member is dropped",
            ),
            (
                debug,
                None,
                Some("tracewire.logs=trace;p,user=ann"),
                logs("DEBUG").to_vec(),
                b("tracewire.logs=debug,user=ann"),
                None,
                "replaced, the rest kept",
            ),
            (
                debug,
                None,
                Some("tracewire.log=debug"),
                vec![],
                b("tracewire.log=debug"),
                None,
                "the request level's member is another",
            ),
            (
                debug,
                Some("s3cret"),
                None,
                logs("debug").to_vec(),
                None,
                Some("token is needed"),
                "no token",
            ),
            (
                debug,
                Some("s3cret"),
                None,
                vec![
                    (CLIENT_LOGS_HEADER, "debug"),
                    (CLIENT_LOGS_TOKEN_HEADER, "s3cre"),
                ],
                None,
                Some("does not match"),
                "a wrong token",
            ),
            (
                debug,
                Some("s3cret"),
                None,
                vec![
                    (CLIENT_LOGS_HEADER, "debug"),
                    (CLIENT_LOGS_TOKEN_HEADER, "s3cret"),
                ],
                b("tracewire.logs=debug"),
                None,
                "the token",
            ),
        ];
        for (level, token, baggage, headers, after, refused, why) in cases {
            let (got, reason) = ask(level, token, baggage, &headers);
            assert_eq!(got, after, "{why}");
            match (refused, reason) {
                (None, None) => {}
                (Some(want), Some(reason)) => {
                    assert!(reason.contains(want), "{why}: {reason}");
                    assert!(!reason.contains("s3cre"), "{why}: the token is never said");
                }
                (want, got) => panic!("{why}: refused {got:?}, expected {want:?}"),
            }
        }
    }
}
