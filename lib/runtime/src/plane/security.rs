//! TLS and credentials for NATS and etcd (SPEC §10), with the reference system's variables:
//! read and checked at startup, so that a missing or malformed file, half a pair, or two NATS
//! auth modes at once is a configuration error naming the variable (exit 2), never a failure
//! at the first connection. Secrets are [`Secret`]s: no `Debug`, line or error shows them.

use std::fmt;

use async_nats::ConnectOptions;

use crate::{
    settings::{
        env::{self, Lookup},
        ConfigError, FileSetting, Origin, Secret,
    },
    tls::{self, TlsFiles},
};

/// How a NATS client proves who it is: one of the modes NATS deployments use.
#[derive(Clone, PartialEq, Eq)]
pub enum NatsAuth {
    /// `NATS_AUTH_USERNAME` and `NATS_AUTH_PASSWORD`.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: Secret,
    },
    /// `NATS_AUTH_TOKEN`.
    Token(Secret),
    /// `NATS_AUTH_NKEY`: a user nkey seed (`SU…`), checked when read.
    Nkey(Secret),
    /// `NATS_AUTH_CREDENTIALS_FILE`: the contents of a `.creds` file (user JWT and nkey seed),
    /// checked when read.
    Credentials(Secret),
}

impl fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatsAuth::UserPassword { user, .. } => f
                .debug_struct("UserPassword")
                .field("user", user)
                .finish_non_exhaustive(),
            NatsAuth::Token(_) => f.write_str("Token([REDACTED])"),
            NatsAuth::Nkey(_) => f.write_str("Nkey([REDACTED])"),
            NatsAuth::Credentials(_) => f.write_str("Credentials([REDACTED])"),
        }
    }
}

/// The NATS client's TLS and credentials.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NatsSecurity {
    /// `NATS_TLS_CA`, `NATS_TLS_CLIENT_CERT`, `NATS_TLS_CLIENT_KEY`.
    pub tls: TlsFiles,
    /// TLS is required: a `tls://` server, or a TLS file set.
    pub require_tls: bool,
    /// The credentials, if any.
    pub auth: Option<NatsAuth>,
}

/// The etcd client's TLS and credentials.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EtcdSecurity {
    /// `ETCD_AUTH_CA`, `ETCD_AUTH_CLIENT_CERT`, `ETCD_AUTH_CLIENT_KEY`.
    pub tls: TlsFiles,
    /// The endpoints are `https://`.
    pub https: bool,
    /// `ETCD_AUTH_USERNAME` and `ETCD_AUTH_PASSWORD` (etcd's own auth).
    pub user: Option<(String, Secret)>,
}

/// A variable's value, unless unset or blank.
fn set(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

/// A file named by `name`, if set.
fn file(lookup: Lookup<'_>, name: &'static str) -> Option<FileSetting> {
    set(lookup, name).map(|path| FileSetting::env(name, path.trim()))
}

/// A secret's error: the variable and what is wrong, never the value.
fn secret_error(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Secret {
        origin: Origin::Env(name),
        reason: reason.into(),
    }
}

/// A user and a password, both or neither.
fn user_password(
    lookup: Lookup<'_>,
    user_var: &'static str,
    password_var: &'static str,
) -> Result<Option<(String, Secret)>, ConfigError> {
    match (
        set(lookup, user_var),
        lookup(password_var).and_then(|p| Secret::new(&p)),
    ) {
        (None, None) => Ok(None),
        (Some(user), Some(password)) => Ok(Some((user, password))),
        (Some(user), None) => Err(ConfigError::invalid(
            Origin::Env(user_var),
            &user,
            format!("{password_var} must be set too"),
        )),
        (None, Some(_)) => Err(secret_error(
            password_var,
            format!("{user_var} must be set too (the password is not shown)"),
        )),
    }
}

impl NatsSecurity {
    /// Reads the NATS variables for `server` (a `tls://` one requires TLS).
    pub fn from_lookup(lookup: Lookup<'_>, server: &str) -> Result<Self, ConfigError> {
        let tls = TlsFiles {
            ca: file(lookup, env::NATS_TLS_CA),
            client_certificate: file(lookup, env::NATS_TLS_CLIENT_CERT),
            client_key: file(lookup, env::NATS_TLS_CLIENT_KEY),
        };
        let require_tls = server.starts_with("tls://") || tls.any();
        if require_tls {
            // Every file read and parsed now: a bad one is exit 2, not a refused connection.
            tls.client_config((Origin::Env(env::NATS_SERVER), server))?;
        }
        let mut modes = Vec::new();
        if let Some((user, password)) =
            user_password(lookup, env::NATS_AUTH_USERNAME, env::NATS_AUTH_PASSWORD)?
        {
            modes.push((
                env::NATS_AUTH_USERNAME,
                NatsAuth::UserPassword { user, password },
            ));
        }
        if let Some(token) = lookup(env::NATS_AUTH_TOKEN).and_then(|t| Secret::new(t.trim())) {
            modes.push((env::NATS_AUTH_TOKEN, NatsAuth::Token(token)));
        }
        if let Some(seed) = lookup(env::NATS_AUTH_NKEY).and_then(|s| Secret::new(s.trim())) {
            if nkeys::KeyPair::from_seed(seed.expose()).is_err() {
                return Err(secret_error(
                    env::NATS_AUTH_NKEY,
                    "not an nkey seed (expected a user seed, SU…; the value is not shown)",
                ));
            }
            modes.push((env::NATS_AUTH_NKEY, NatsAuth::Nkey(seed)));
        }
        if let Some(creds) = file(lookup, env::NATS_AUTH_CREDENTIALS_FILE) {
            let text = String::from_utf8(tls::read(&creds)?)
                .map_err(|_| tls::unusable(&creds, "not a .creds file: not UTF-8 text"))?;
            ConnectOptions::new()
                .credentials(&text)
                .map_err(|e| tls::unusable(&creds, &format!("not a .creds file: {e}")))?;
            let contents = Secret::new(&text)
                .ok_or_else(|| tls::unusable(&creds, "not a .creds file: it is empty"))?;
            modes.push((
                env::NATS_AUTH_CREDENTIALS_FILE,
                NatsAuth::Credentials(contents),
            ));
        }
        if modes.len() > 1 {
            let names: Vec<&str> = modes.iter().map(|(name, _)| *name).collect();
            return Err(secret_error(
                modes[1].0,
                format!(
                    "one NATS auth mode at a time, and {} are set",
                    names.join(" and ")
                ),
            ));
        }
        Ok(NatsSecurity {
            tls,
            require_tls,
            auth: modes.pop().map(|(_, auth)| auth),
        })
    }

    /// `options` with this TLS and these credentials.
    pub fn apply(&self, server: &str, options: ConnectOptions) -> std::io::Result<ConnectOptions> {
        let mut options = options;
        if self.require_tls {
            let config = self
                .tls
                .client_config((Origin::Env(env::NATS_SERVER), server))
                .map_err(std::io::Error::other)?;
            options = options.require_tls(true).tls_client_config(config);
        }
        Ok(match &self.auth {
            None => options,
            Some(NatsAuth::UserPassword { user, password }) => {
                options.user_and_password(user.clone(), password.expose().to_owned())
            }
            Some(NatsAuth::Token(token)) => options.token(token.expose().to_owned()),
            Some(NatsAuth::Nkey(seed)) => options.nkey(seed.expose().to_owned()),
            Some(NatsAuth::Credentials(creds)) => options.credentials(creds.expose())?,
        })
    }
}

impl EtcdSecurity {
    /// Reads the etcd variables for `endpoints` (all `https://` or none).
    pub fn from_lookup(lookup: Lookup<'_>, endpoints: &[String]) -> Result<Self, ConfigError> {
        let tls = TlsFiles {
            ca: file(lookup, env::ETCD_AUTH_CA),
            client_certificate: file(lookup, env::ETCD_AUTH_CLIENT_CERT),
            client_key: file(lookup, env::ETCD_AUTH_CLIENT_KEY),
        };
        let https = endpoints
            .iter()
            .filter(|e| e.starts_with("https://"))
            .count();
        if https != 0 && https != endpoints.len() {
            return Err(ConfigError::invalid(
                Origin::Env(env::ETCD_ENDPOINTS),
                &endpoints.join(","),
                "all https:// or none: one client talks to every endpoint the same way",
            ));
        }
        let https = https != 0;
        if let (false, Some(file)) = (https, tls.first()) {
            return Err(tls::unusable(
                file,
                "a certificate is set, but ETCD_ENDPOINTS are not https://",
            ));
        }
        if https {
            // Read and parsed as the NATS and OTLP ones are: a bad file is exit 2.
            tls.client_config((Origin::Env(env::ETCD_ENDPOINTS), &endpoints[0]))?;
        }
        let user = user_password(lookup, env::ETCD_AUTH_USERNAME, env::ETCD_AUTH_PASSWORD)?;
        Ok(EtcdSecurity { tls, https, user })
    }

    /// `options` with this TLS and this user.
    pub fn apply(
        &self,
        options: etcd_client::ConnectOptions,
    ) -> Result<etcd_client::ConnectOptions, ConfigError> {
        let mut options = options;
        if self.https {
            let mut tls_options = etcd_client::TlsOptions::new();
            tls_options = match &self.tls.ca {
                Some(ca) => {
                    tls_options.ca_certificate(etcd_client::Certificate::from_pem(tls::read(ca)?))
                }
                None => tls_options.with_native_roots(),
            };
            if let (Some(cert), Some(key)) = (&self.tls.client_certificate, &self.tls.client_key) {
                tls_options = tls_options.identity(etcd_client::Identity::from_pem(
                    tls::read(cert)?,
                    tls::read(key)?,
                ));
            }
            options = options.with_tls(tls_options);
        }
        if let Some((user, password)) = &self.user {
            // A token that expires is renewed with these on the next call.
            options = options
                .with_user(user.clone(), password.expose().to_owned())
                .with_auto_token_refresh(true);
        }
        Ok(options)
    }
}

/// `url` without any `user:password@`, to name a server in a line or an error.
pub fn shown_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://[credentials]@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn nats(vars: &[(&str, &str)], server: &str) -> Result<NatsSecurity, String> {
        let map: HashMap<_, _> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NatsSecurity::from_lookup(&|n| map.get(n).cloned(), server).map_err(|e| e.to_string())
    }

    const SEED: &str = "SUAMK2FG4MI6UE3ACF3FK3OIQBCEIEZV7NSWFFEW63UXMRLFM2XLAXK4GY";

    #[test]
    fn nats_auth_modes_one_at_a_time_and_no_secret_in_an_error_or_debug() {
        assert_eq!(nats(&[], "nats://h:4222").unwrap().auth, None);
        let token = nats(&[("NATS_AUTH_TOKEN", "t0ken-x")], "nats://h:4222").unwrap();
        assert_eq!(format!("{:?}", token.auth.unwrap()), "Token([REDACTED])");
        let user = nats(
            &[
                ("NATS_AUTH_USERNAME", "alice"),
                ("NATS_AUTH_PASSWORD", "pa55-x"),
            ],
            "nats://h:4222",
        )
        .unwrap();
        let shown = format!("{user:?}");
        assert!(
            shown.contains("alice") && !shown.contains("pa55-x"),
            "{shown}"
        );
        assert!(matches!(
            nats(&[("NATS_AUTH_NKEY", SEED)], "nats://h:4222")
                .unwrap()
                .auth,
            Some(NatsAuth::Nkey(_))
        ));
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[("NATS_AUTH_TOKEN", "t0ken-x"), ("NATS_AUTH_NKEY", SEED)],
                "NATS_AUTH_NKEY: one NATS auth mode at a time, and NATS_AUTH_TOKEN and NATS_AUTH_NKEY are set",
            ),
            (
                &[("NATS_AUTH_NKEY", "SUnotaseed-x")],
                "NATS_AUTH_NKEY: not an nkey seed",
            ),
            (
                &[("NATS_AUTH_PASSWORD", "pa55-x")],
                "NATS_AUTH_PASSWORD: NATS_AUTH_USERNAME must be set too",
            ),
            (
                &[("NATS_AUTH_USERNAME", "alice")],
                "NATS_AUTH_USERNAME: \"alice\": NATS_AUTH_PASSWORD must be set too",
            ),
        ];
        for (vars, want) in cases {
            let err = nats(vars, "nats://h:4222").unwrap_err();
            assert!(err.starts_with(want), "{err}");
            for (_, value) in vars.iter().filter(|(k, _)| *k != "NATS_AUTH_USERNAME") {
                assert!(!err.contains(value), "{err}");
            }
        }
    }

    #[test]
    fn files_are_read_at_startup_and_an_error_names_the_variable_and_the_path() {
        let err = nats(&[("NATS_TLS_CA", "/nonexistent/ca.pem")], "nats://h:4222").unwrap_err();
        assert!(
            err.starts_with("NATS_TLS_CA: \"/nonexistent/ca.pem\": cannot read"),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("tracewire-sec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let creds = dir.join("bad.creds");
        std::fs::write(&creds, "-----BEGIN NATS USER JWT-----\nnope\n").unwrap();
        let err = nats(
            &[("NATS_AUTH_CREDENTIALS_FILE", creds.to_str().unwrap())],
            "nats://h:4222",
        )
        .unwrap_err();
        assert!(
            err.starts_with(&format!(
                "NATS_AUTH_CREDENTIALS_FILE: {:?}: not a .creds file",
                creds.to_str().unwrap()
            )),
            "{err}"
        );
        let key = dir.join("client.key");
        std::fs::write(&key, "x").unwrap();
        let err = nats(
            &[("NATS_TLS_CLIENT_KEY", key.to_str().unwrap())],
            "tls://h:4222",
        )
        .unwrap_err();
        assert!(
            err.contains("NATS_TLS_CLIENT_KEY") && err.contains("needs its certificate"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn etcd_tls_needs_https_endpoints_all_of_them() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |n: &str| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            }
        };
        let both = ["https://a:2379".to_owned(), "http://b:2379".to_owned()];
        let err = EtcdSecurity::from_lookup(&lookup(&[]), &both).unwrap_err();
        assert!(err.to_string().contains("all https:// or none"), "{err}");
        let err = EtcdSecurity::from_lookup(
            &lookup(&[("ETCD_AUTH_CA", "/x/ca.pem")]),
            &["http://a:2379".to_owned()],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ETCD_AUTH_CA: \"/x/ca.pem\": a certificate is set"),
            "{err}"
        );
        let user = EtcdSecurity::from_lookup(
            &lookup(&[
                ("ETCD_AUTH_USERNAME", "root"),
                ("ETCD_AUTH_PASSWORD", "pw-x"),
            ]),
            &["http://a:2379".to_owned()],
        )
        .unwrap();
        assert!(!format!("{user:?}").contains("pw-x"));
    }

    #[test]
    fn a_url_is_shown_without_its_credentials() {
        assert_eq!(
            shown_url("nats://bob:pw@h:4222"),
            "nats://[credentials]@h:4222"
        );
        assert_eq!(shown_url("tls://h:4222"), "tls://h:4222");
    }
}
