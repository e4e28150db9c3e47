//! TLS clients, built once at startup from files named by settings: the collector (OTLP, both
//! signals), the NATS server, and the PEM checks the etcd client's TLS relies on. The bottom
//! layer beside `settings`: it imports nothing else of the crate.
//!
//! A server is verified against the certificates of the CA file when one is set, else the
//! system's roots; a client certificate and its key add mutual TLS. Every file is read and
//! parsed here, so a missing, unreadable or malformed one, or half a pair, is a configuration
//! error naming the variable and the path, not a failure at the first connection.
//!
//! **A certificate the server presents itself** is trusted when it is byte-equal to one of the
//! CA file's certificates (its name is still checked). This is what makes the self-signed
//! certificate of most collector guides work (`openssl req -x509 …`, which is `CA:TRUE`):
//! webpki refuses a CA certificate as an end entity by design (`CaUsedAsEndEntity`; rustls/webpki
//! issue 205), while the OpenSSL- and Go-based SDKs accept it as the trusted certificate it is.
//! Pinning the exact bytes is no weaker than trusting that certificate as a root: whoever holds
//! its key could sign any leaf under it anyway. Every other chain is verified by webpki as
//! before. The pinned certificate's validity period is not checked (a pin is a decision about
//! those bytes; OpenSSL-based clients differ here too).

use std::sync::Arc;

use rustls::{
    client::{
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        verify_server_name, WebPkiServerVerifier,
    },
    crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider},
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName, UnixTime},
    server::ParsedCertificate,
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

pub use crate::settings::FileSetting;
use crate::settings::{ConfigError, Origin};

/// The files a TLS client is configured with; `None` is "not set".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsFiles {
    /// The certificates that verify the server (CA certificates, or the server's own).
    pub ca: Option<FileSetting>,
    /// The client certificate chain, for mutual TLS.
    pub client_certificate: Option<FileSetting>,
    /// The client certificate's private key.
    pub client_key: Option<FileSetting>,
}

impl TlsFiles {
    /// Whether any file is set.
    pub fn any(&self) -> bool {
        self.first().is_some()
    }

    /// The first file set, to name in an error.
    pub fn first(&self) -> Option<&FileSetting> {
        [&self.ca, &self.client_certificate, &self.client_key]
            .into_iter()
            .flatten()
            .next()
    }

    /// The client certificate chain and its key, read and parsed: `None` without either; half a
    /// pair is an error naming the half that is set.
    #[allow(clippy::type_complexity)]
    pub fn client_pair(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ConfigError> {
        match (&self.client_certificate, &self.client_key) {
            (Some(cert), Some(key_file)) => {
                let chain = certificates(cert)?;
                let key = private_key(key_file)?;
                Ok(Some((chain, key)))
            }
            (Some(file), None) => Err(unusable(
                file,
                "a client certificate needs its key, which is not set",
            )),
            (None, Some(file)) => Err(unusable(
                file,
                "a client key needs its certificate, which is not set",
            )),
            (None, None) => Ok(None),
        }
    }

    /// A rustls client configuration: the CA file's certificates (pinned when the server
    /// presents one of them itself) or the system's roots, and the client pair if set.
    /// `server` names the setting of the server it is for (variable and URL), for the errors
    /// that are about no file.
    pub fn client_config(&self, server: (Origin, &str)) -> Result<ClientConfig, ConfigError> {
        let (origin, url) = server;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (roots, pinned) = match &self.ca {
            Some(file) => {
                let certs = certificates(file)?;
                let mut roots = RootCertStore::empty();
                for cert in &certs {
                    roots
                        .add(cert.clone())
                        .map_err(|e| unusable(file, &format!("not a usable certificate: {e}")))?;
                }
                (roots, certs)
            }
            None => (system_roots(), Vec::new()),
        };
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| match &self.ca {
                Some(file) => unusable(file, &format!("cannot verify with these: {e}")),
                None => ConfigError::invalid(
                    origin.clone(),
                    url,
                    format!("the system has no usable root certificates ({e}): name a CA file"),
                ),
            })?;
        let verifier = Arc::new(PinnedOrWebPki {
            pinned,
            webpki,
            provider: provider.clone(),
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::invalid(origin, url, format!("cannot set up TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        match self.client_pair()? {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                let file = self.client_key.as_ref().expect("a pair has its key");
                unusable(file, &format!("does not fit the certificate: {e}"))
            }),
            None => Ok(builder.with_no_client_auth()),
        }
    }
}

/// The verifier: a certificate the server presents that is byte-equal to a pinned one is
/// trusted (its name still checked, its handshake signature still verified); anything else is
/// webpki's.
#[derive(Debug)]
struct PinnedOrWebPki {
    pinned: Vec<CertificateDer<'static>>,
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The bytes of a file, or an error naming it (the contents never appear in it).
pub fn read(file: &FileSetting) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(&file.path).map_err(|e| unusable(file, &format!("cannot read: {e}")))
}

/// The certificates of a PEM file: at least one.
pub fn certificates(file: &FileSetting) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let text = read(file)?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(file, &format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(unusable(file, "no CERTIFICATE in this PEM file"));
    }
    Ok(certs)
}

/// The private key of a PEM file. The error says what is wrong, never what the file holds.
pub fn private_key(file: &FileSetting) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let text = read(file)?;
    PrivateKeyDer::from_pem_slice(&text)
        .map_err(|e| unusable(file, &format!("no private key in PEM: {e}")))
}

/// An error naming `file`'s variable and path.
pub fn unusable(file: &FileSetting, reason: &str) -> ConfigError {
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
