//! TLS to the collector: one rustls client configuration per signal, built at startup from the
//! resolved settings, for the gRPC channel and the HTTP client alike.
//!
//! The collector is verified against the CA certificates of `OTEL_EXPORTER_OTLP_CERTIFICATE`
//! when set, else against the system's roots; `..._CLIENT_CERTIFICATE` and `..._CLIENT_KEY`
//! add a client certificate (mTLS). Every file is read and parsed here, so a missing,
//! unreadable or malformed one is a configuration error naming it, not a failure at the first
//! export.

use std::sync::Arc;

use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    ClientConfig, RootCertStore,
};

use super::config::{FileSetting, Resolved};
use crate::settings::ConfigError;

/// The client configuration for `resolved`'s endpoint: `None` for `http://`. A certificate set
/// for an `http://` endpoint is an error (it would be silently unused).
pub(crate) fn client_config(resolved: &Resolved) -> Result<Option<ClientConfig>, ConfigError> {
    let files = [
        &resolved.certificate,
        &resolved.client_certificate,
        &resolved.client_key,
    ];
    if !resolved.url.starts_with("https://") {
        if let Some(file) = files.into_iter().flatten().next() {
            return Err(ConfigError::invalid(
                file.origin.clone(),
                &file.path.to_string_lossy(),
                format!(
                    "a certificate is set, but the endpoint {} is not https://",
                    resolved.url
                ),
            ));
        }
        return Ok(None);
    }
    let roots = match &resolved.certificate {
        Some(file) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(file)? {
                roots
                    .add(cert)
                    .map_err(|e| unusable(file, &format!("not a CA certificate: {e}")))?;
            }
            roots
        }
        None => system_roots(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            ConfigError::invalid(
                crate::settings::Origin::Env(crate::settings::env::OTLP.endpoint),
                &resolved.url,
                format!("cannot set up TLS: {e}"),
            )
        })?
        .with_root_certificates(roots);
    let config = match (&resolved.client_certificate, &resolved.client_key) {
        (Some(cert), Some(key_file)) => {
            let chain = certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(&key_file.path)
                .map_err(|e| unusable(key_file, &format!("no private key in PEM: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| unusable(key_file, &format!("does not fit the certificate: {e}")))?
        }
        (Some(file), None) => {
            return Err(unusable(
                file,
                "a client certificate needs its key (..._CLIENT_KEY)",
            ))
        }
        (None, Some(file)) => {
            return Err(unusable(
                file,
                "a client key needs its certificate (..._CLIENT_CERTIFICATE)",
            ))
        }
        (None, None) => builder.with_no_client_auth(),
    };
    Ok(Some(config))
}

/// The certificates of a PEM file: at least one.
fn certificates(file: &FileSetting) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let text =
        std::fs::read(&file.path).map_err(|e| unusable(file, &format!("cannot read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(file, &format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(unusable(file, "no CERTIFICATE in this PEM file"));
    }
    Ok(certs)
}

fn unusable(file: &FileSetting, reason: &str) -> ConfigError {
    ConfigError::invalid(file.origin.clone(), &file.path.to_string_lossy(), reason)
}

/// The system's trust store. Certificates it cannot parse are skipped (as every TLS client
/// does); a system without any leaves only a private CA able to verify.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    roots
}
