//! Certificates from an ACME CA (RFC 8555, Let's Encrypt by default) for `tls.acme_domains`,
//! validated with TLS-ALPN-01 (RFC 8737) on our own TLS listener, so nothing has to listen
//! on port 80.
//!
//! The account key and the certificate live in the data directory (mode 0600) and are
//! reused on restart. A background task checks the certificate every
//! `tls.acme_check_interval_secs` and renews it once fewer than `tls.acme_renew_days`
//! remain; the new one is swapped into the [`CertResolver`] and served from the next
//! handshake on. A failed renewal is logged and retried at the next check while the old
//! certificate keeps being served; only a start without any usable certificate fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use x509_cert::der::Decode as _;

use crate::error::Error;
use crate::tls::TlsConfig;

pub mod resolver;

pub use resolver::{ACME_TLS_ALPN, CertResolver};

const ACCOUNT_FILE: &str = "acme-account.json";
const CERT_FILE: &str = "acme-cert.pem";
const KEY_FILE: &str = "acme-key.pem";
/// An order that has not produced a certificate by then will not: the CA could not reach us.
const ORDER_TIMEOUT: Duration = Duration::from_secs(180);
const DAY_SECS: i64 = 86_400;

/// What the renewal decision needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Unix seconds.
    pub not_after: i64,
    /// DNS names of the subject alternative name extension, lower case.
    pub names: Vec<String>,
}

impl CertInfo {
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        use x509_cert::ext::pkix::SubjectAltName;
        use x509_cert::ext::pkix::name::GeneralName;
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| Error::Acme(format!("unreadable certificate: {e}")))?;
        let tbs = cert.tbs_certificate();
        let not_after = tbs.validity().not_after.to_unix_duration().as_secs();
        let names = match tbs.get_extension::<SubjectAltName>() {
            Ok(Some((_, san))) => san
                .0
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DnsName(dns) => Some(dns.to_string().to_ascii_lowercase()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self { not_after: i64::try_from(not_after).unwrap_or(i64::MAX), names })
    }

    fn covers(&self, domains: &[String]) -> bool {
        domains.iter().all(|d| self.names.contains(&d.to_ascii_lowercase()))
    }

    /// Can be served right now for `domains`.
    pub fn usable(&self, domains: &[String], now: i64) -> bool {
        self.covers(domains) && now < self.not_after
    }
}

/// Whether to order a new certificate now: none yet, one for other names, or one with less
/// than `renew_days` left. Pure, so the policy is tested without a clock or a CA.
pub fn renewal_due(cert: Option<&CertInfo>, domains: &[String], now: i64, renew_days: u32) -> bool {
    match cert {
        None => true,
        Some(cert) => {
            !cert.covers(domains)
                || cert.not_after.saturating_sub(now) < i64::from(renew_days) * DAY_SECS
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn acme_err(context: &str) -> impl Fn(instant_acme::Error) -> Error + '_ {
    move |e| Error::Acme(format!("{context}: {e}"))
}

/// The account credentials with the directory they belong to: an account is only valid at
/// the CA that made it, so switching from staging to production makes a new one.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// Obtains and renews the certificate, serving it through its [`CertResolver`].
pub struct Acme {
    config: TlsConfig,
    data_dir: PathBuf,
    resolver: Arc<CertResolver>,
    cert: Option<CertInfo>,
    account: Option<Account>,
}

impl Acme {
    /// `None` unless ACME is configured. Loads a stored certificate if it is still usable,
    /// so a restart serves at once without asking the CA.
    pub fn new(config: &TlsConfig, data_dir: &Path) -> Result<Option<Self>, Error> {
        if config.acme_domains.is_empty() {
            return Ok(None);
        }
        let mut acme = Self {
            config: config.clone(),
            data_dir: data_dir.to_owned(),
            resolver: Arc::new(CertResolver::default()),
            cert: None,
            account: None,
        };
        match acme.load_stored() {
            Ok(Some((certified, info))) if info.usable(&config.acme_domains, unix_now()) => {
                acme.resolver.set_current(Arc::new(certified));
                acme.cert = Some(info);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "ignoring the stored ACME certificate"),
        }
        Ok(Some(acme))
    }

    /// TLS 1.2/1.3 with certificates from the resolver and `acme-tls/1` offered besides
    /// HTTP, so the CA's validation handshakes can succeed.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::Config(format!("tls: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(self.resolver.clone());
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
        Ok(Arc::new(tls))
    }

    /// The leaf certificate being served.
    pub fn current_leaf(&self) -> Option<CertificateDer<'static>> {
        self.resolver.current().and_then(|c| c.cert.first().cloned())
    }

    /// At start-up, with the listener already answering challenges: makes sure there is a
    /// certificate to serve, ordering one if needed. Without one the server cannot work,
    /// so this is the one ACME failure that is fatal.
    pub async fn ensure_certificate(&mut self) -> Result<(), Error> {
        if self.cert.is_some() {
            return Ok(());
        }
        tracing::info!(domains = ?self.config.acme_domains, directory = %self.config.acme_directory, "no usable certificate stored: ordering one over ACME");
        self.renew().await.map_err(|e| {
            let e = match e {
                Error::Acme(detail) => detail,
                other => other.to_string(),
            };
            Error::Acme(format!(
                "no usable certificate for {} and ordering one from {} failed: {e}. The CA \
                 validates with TLS-ALPN-01: it must reach this server on port 443 of each \
                 domain (tls.acme_domains), and http.listen must receive that traffic",
                self.config.acme_domains.join(", "),
                self.config.acme_directory
            ))
        })
    }

    /// Checks now and then every `acme_check_interval_secs` until `stop`, renewing when due.
    pub async fn run(mut self, metrics: Arc<crate::metrics::Metrics>, stop: CancellationToken) {
        let period = Duration::from_secs(self.config.acme_check_interval_secs);
        loop {
            let due = renewal_due(
                self.cert.as_ref(),
                &self.config.acme_domains,
                unix_now(),
                self.config.acme_renew_days,
            );
            if due {
                tokio::select! {
                    outcome = self.renew() => match outcome {
                        Ok(()) => {
                            if let Some(cert) = &self.cert {
                                metrics.tls_not_after.set(cert.not_after);
                            }
                        }
                        Err(e) => {
                            // Start the next attempt from the stored credentials with a fresh
                            // connection, in case the CA or its root changed meanwhile.
                            self.account = None;
                            tracing::error!(error = %e, retry_in_secs = period.as_secs(), "ACME certificate renewal failed; still serving the current certificate");
                        }
                    },
                    () = stop.cancelled() => return,
                }
            }
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    /// Orders a certificate, stores it and serves it from the next handshake on.
    async fn renew(&mut self) -> Result<(), Error> {
        let (chain_pem, key_pem) = tokio::time::timeout(ORDER_TIMEOUT, self.order())
            .await
            .map_err(|_| Error::Acme(format!("no certificate after {ORDER_TIMEOUT:?}")))??;
        let (certified, info) = parse_pem(chain_pem.as_bytes(), key_pem.as_bytes())?;
        write_private(&self.data_dir.join(KEY_FILE), key_pem.as_bytes())?;
        write_private(&self.data_dir.join(CERT_FILE), chain_pem.as_bytes())?;
        self.resolver.set_current(Arc::new(certified));
        tracing::info!(domains = ?info.names, not_after = info.not_after, "ACME certificate installed");
        self.cert = Some(info);
        Ok(())
    }

    async fn order(&mut self) -> Result<(String, String), Error> {
        let identifiers: Vec<Identifier> =
            self.config.acme_domains.iter().map(|d| Identifier::Dns(d.clone())).collect();
        let account = self.account().await?;
        let mut order = match account.new_order(&NewOrder::new(&identifiers)).await {
            Ok(order) => order,
            // The CA lost or deactivated the stored account (a test CA restarted, an account
            // closed by hand): register a new one instead of failing forever.
            Err(instant_acme::Error::Api(problem))
                if problem.r#type.as_deref()
                    == Some("urn:ietf:params:acme:error:accountDoesNotExist") =>
            {
                tracing::warn!(%problem, "the CA no longer knows the stored ACME account; registering a new one");
                self.account = None;
                let path = self.data_dir.join(ACCOUNT_FILE);
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                let account = self.account().await?;
                account
                    .new_order(&NewOrder::new(&identifiers))
                    .await
                    .map_err(acme_err("creating the order"))?
            }
            Err(e) => return Err(acme_err("creating the order")(e)),
        };
        let mut challenged = Vec::new();
        let answered = self.answer_challenges(&mut order, &mut challenged).await;
        let ready = match answered {
            Ok(()) => {
                order.poll_ready(&RetryPolicy::default()).await.map_err(acme_err("validation"))
            }
            Err(e) => Err(e),
        };
        for domain in &challenged {
            self.resolver.remove_challenge(domain);
        }
        match ready? {
            OrderStatus::Ready => {}
            status => {
                return Err(Error::Acme(format!(
                    "the CA did not validate the domains (order {status:?}); see its log or \
                     the authorization at {}",
                    order.url()
                )));
            }
        }
        let key_pem = order.finalize().await.map_err(acme_err("finalizing the order"))?;
        let chain_pem = order
            .poll_certificate(&RetryPolicy::default())
            .await
            .map_err(acme_err("downloading the certificate"))?;
        Ok((chain_pem, key_pem))
    }

    /// Installs a TLS-ALPN-01 answer for each pending authorization and tells the CA to
    /// validate. `challenged` collects the domains to clean up afterwards, also on error.
    async fn answer_challenges(
        &self,
        order: &mut instant_acme::Order,
        challenged: &mut Vec<String>,
    ) -> Result<(), Error> {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(acme_err("reading an authorization"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => {
                    return Err(Error::Acme(format!("authorization is {status:?}, not pending")));
                }
            }
            let mut challenge = authz.challenge(ChallengeType::TlsAlpn01).ok_or_else(|| {
                Error::Acme("the CA offers no tls-alpn-01 challenge for this domain".into())
            })?;
            let domain = challenge.identifier().to_string();
            self.resolver
                .add_challenge(&domain, challenge.key_authorization().digest().as_ref())?;
            challenged.push(domain);
            challenge.set_ready().await.map_err(acme_err("answering the challenge"))?;
        }
        Ok(())
    }

    /// The stored account for this directory, or a new one (stored with mode 0600).
    async fn account(&mut self) -> Result<Account, Error> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let path = self.data_dir.join(ACCOUNT_FILE);
        let directory = self.config.acme_directory.clone();
        let stored = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<StoredAccount>(&bytes).ok())
            .filter(|stored| stored.directory == directory);
        let account = match stored {
            Some(stored) => self
                .builder()?
                .from_credentials(stored.credentials)
                .await
                .map_err(acme_err("restoring the ACME account"))?,
            None => {
                let contact: Vec<&str> = [self.config.acme_contact.trim()]
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .collect();
                let new = NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                };
                let (account, credentials) = self
                    .builder()?
                    .create(&new, directory.clone(), None)
                    .await
                    .map_err(acme_err("creating the ACME account"))?;
                let json = serde_json::to_vec(&StoredAccount { directory, credentials })
                    .map_err(|e| Error::Acme(format!("serializing the account: {e}")))?;
                write_private(&path, &json)?;
                tracing::info!(id = account.id(), "ACME account created");
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }

    fn builder(&self) -> Result<instant_acme::AccountBuilder, Error> {
        let root = self.config.acme_ca_root.trim();
        if root.is_empty() {
            Account::builder().map_err(acme_err("ACME HTTP client"))
        } else {
            Account::builder_with_root(root).map_err(acme_err(&format!("tls.acme_ca_root {root}")))
        }
    }

    fn load_stored(&self) -> Result<Option<(CertifiedKey, CertInfo)>, Error> {
        let (cert_path, key_path) = (self.data_dir.join(CERT_FILE), self.data_dir.join(KEY_FILE));
        if !cert_path.exists() || !key_path.exists() {
            return Ok(None);
        }
        let chain = std::fs::read(&cert_path).map_err(|e| Error::io(&cert_path, e))?;
        let key = std::fs::read(&key_path).map_err(|e| Error::io(&key_path, e))?;
        parse_pem(&chain, &key).map(Some)
    }
}

fn parse_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<(CertifiedKey, CertInfo), Error> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Acme(format!("certificate chain: {e}")))?;
    let leaf = chain.first().ok_or_else(|| Error::Acme("empty certificate chain".into()))?;
    let info = CertInfo::from_der(leaf)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::Acme(format!("private key: {e}")))?;
    Ok((resolver::certified_key(chain, &key)?, info))
}

/// Replaces `path` atomically with a file only the server's user can read, so a crash
/// never leaves half a key and the key is never readable by others, not even briefly.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_after: i64, names: &[&str]) -> CertInfo {
        CertInfo { not_after, names: names.iter().map(|n| n.to_string()).collect() }
    }

    #[test]
    fn renewal_is_due_inside_the_window_or_for_other_names() {
        let domains = vec!["chat.example.org".to_owned()];
        let now = 1_800_000_000;
        assert!(renewal_due(None, &domains, now, 30), "nothing stored");
        let fresh = cert(now + 60 * DAY_SECS, &["chat.example.org"]);
        assert!(!renewal_due(Some(&fresh), &domains, now, 30), "60 days left");
        assert!(renewal_due(Some(&fresh), &domains, now + 31 * DAY_SECS, 30), "29 days left");
        assert!(!renewal_due(Some(&fresh), &domains, now + 30 * DAY_SECS, 30), "exactly 30 left");
        assert!(renewal_due(Some(&fresh), &domains, now + 61 * DAY_SECS, 30), "expired");
        assert!(renewal_due(Some(&fresh), &domains, now, 61), "a wider window forces it");
        let more = vec!["chat.example.org".to_owned(), "voice.example.org".to_owned()];
        assert!(renewal_due(Some(&fresh), &more, now, 30), "a domain was added");
        let upper = vec!["Chat.Example.org".to_owned()];
        assert!(!renewal_due(Some(&fresh), &upper, now, 30), "names ignore case");
    }

    #[test]
    fn usable_means_covering_and_unexpired() {
        let domains = vec!["chat.example.org".to_owned()];
        let c = cert(1000, &["chat.example.org", "www.example.org"]);
        assert!(c.usable(&domains, 999));
        assert!(!c.usable(&domains, 1000));
        assert!(!c.usable(&["other.example.org".to_owned()], 10));
    }

    #[test]
    fn reads_expiry_and_names_from_a_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["chat.example.org".to_owned()]).expect("params");
        params.not_after = rcgen::date_time_ymd(2030, 1, 2);
        let key = rcgen::KeyPair::generate().expect("key");
        let der = params.self_signed(&key).expect("cert").der().to_vec();
        let info = CertInfo::from_der(&der).expect("parses");
        assert_eq!(info.names, vec!["chat.example.org"]);
        assert_eq!(info.not_after, 1_893_542_400, "2030-01-02T00:00:00Z");
        assert!(CertInfo::from_der(b"not a certificate").is_err());
    }

    #[test]
    fn private_files_are_written_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("auraspeak-acme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("secret.pem");
        std::fs::write(&path, "old").expect("seed");
        write_private(&path, b"new").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
