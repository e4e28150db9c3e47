//! How the rest of the program reaches client-directed logs (SPEC §13): whether a caller's ask
//! is allowed by the installed layer ([`allow_client_logs`]), and a request's [`ClientLogs`]
//! for the code that sends them back ([`client_logs`], [`current_client_logs`]).

use tracing::{Level, Span};
use tracing_subscriber::{registry::LookupSpan, Registry};

use super::{directives::parse_level, scope::ClientLogs, span_data::SpanData, TracewireLayer};

/// Why a caller's ask for its lines was refused (said in a DEBUG line; never the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientLogsRefused {
    /// `DYN_LOG_CLIENT_LEVEL` is not set in this process.
    #[error("client logs are off here (DYN_LOG_CLIENT_LEVEL is not set)")]
    Off,
    /// The ask is not a level name.
    #[error("x-tracewire-logs is not one of error, warn, info, debug, trace")]
    NotALevel,
    /// `DYN_LOG_CLIENT_TOKEN` is set and no token came with the ask.
    #[error("x-tracewire-logs-token is needed (DYN_LOG_CLIENT_TOKEN is set)")]
    NoToken,
    /// The token that came is not the one set.
    #[error("x-tracewire-logs-token does not match")]
    WrongToken,
}

/// The level a caller asking with `asked` (an `x-tracewire-logs` value) and `token` gets its
/// lines at, from the layer of the current dispatcher: capped at `DYN_LOG_CLIENT_LEVEL`, and
/// when `DYN_LOG_CLIENT_TOKEN` is set only with that token (compared in constant time).
pub fn allow_client_logs(asked: &[u8], token: Option<&[u8]>) -> Result<Level, ClientLogsRefused> {
    tracing::dispatcher::get_default(|dispatch| {
        let scoping = dispatch
            .downcast_ref::<TracewireLayer>()
            .and_then(|layer| layer.scoping.as_ref());
        let Some(cap) = scoping.and_then(|s| s.client_level()) else {
            return Err(ClientLogsRefused::Off);
        };
        let asked = std::str::from_utf8(asked)
            .ok()
            .and_then(|text| parse_level(text.trim()))
            .and_then(|level| level.into_level())
            .ok_or(ClientLogsRefused::NotALevel)?;
        if let Some(secret) = scoping.and_then(|s| s.client_token.as_ref()) {
            match token {
                None => return Err(ClientLogsRefused::NoToken),
                Some(given) if !secret.matches(given) => return Err(ClientLogsRefused::WrongToken),
                Some(_) => {}
            }
        }
        // More verbose levels compare greater: the less verbose of the two.
        Ok(asked.min(cap))
    })
}

/// The lines gathered for `span`'s caller, if it asked for them and may have them.
pub fn client_logs(span: &Span) -> Option<ClientLogs> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let extensions = span.extensions();
        extensions
            .get::<SpanData>()?
            .request
            .as_ref()?
            .client
            .clone()
    })
    .flatten()
}

/// The lines gathered for the current span's caller (see [`client_logs`]).
pub fn current_client_logs() -> Option<ClientLogs> {
    client_logs(&Span::current())
}
