//! TLS to the collector: one rustls client configuration per signal, built at startup from the
//! resolved settings by [`crate::tls`], for the gRPC channel and the HTTP client alike. A
//! certificate the collector presents itself (a self-signed one) is trusted as that exact
//! certificate; see [`crate::tls`].

use rustls::ClientConfig;

use super::config::Resolved;
use crate::settings::{env, ConfigError, Origin};

/// The client configuration for `resolved`'s endpoint: `None` for `http://`. A certificate set
/// for an `http://` endpoint is an error (it would be silently unused).
pub(crate) fn client_config(resolved: &Resolved) -> Result<Option<ClientConfig>, ConfigError> {
    let files = resolved.tls_files();
    if !resolved.url.starts_with("https://") {
        if let Some(file) = files.first() {
            return Err(crate::tls::unusable(
                file,
                &format!(
                    "a certificate is set, but the endpoint {} is not https://",
                    resolved.url
                ),
            ));
        }
        return Ok(None);
    }
    files
        .client_config((Origin::Env(env::OTLP.endpoint), &resolved.url))
        .map(Some)
}
