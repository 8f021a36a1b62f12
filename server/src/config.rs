//! Typed server configuration, layered from the built-in commented defaults, a TOML
//! file, `AURASPEAK_*` environment variables and command-line flags (in that order).
//!
//! The defaults live in `config/default.toml` and are compiled in, so the documented file
//! and the behaviour cannot drift apart: there are no defaults hidden in Rust code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// The commented default configuration, every key explained.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

const ENV_PREFIX: &str = "AURASPEAK_";
/// Variables with the prefix that are not settings (handled by clap or by test harnesses).
const ENV_NOT_SETTINGS: &[&str] = &["AURASPEAK_CONFIG", "AURASPEAK_TEST_PG_URL"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub node_id: u16,
    pub http: HttpConfig,
    pub tls: crate::tls::TlsConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub gateway: GatewayConfig,
    pub voice: VoiceConfig,
    pub metrics: MetricsConfig,
    pub rate_limit: RateLimitConfig,
    pub sentry: crate::telemetry::SentryConfig,
    pub log: LogConfig,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub listen: String,
    pub token: String,
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("token", &if self.token.is_empty() { "" } else { "<redacted>" })
            .finish()
    }
}

impl MetricsConfig {
    /// The separate metrics address, if one is configured.
    pub fn separate_listen(&self) -> Result<Option<SocketAddr>, Error> {
        let listen = self.listen.trim();
        if !self.enabled || listen.is_empty() {
            return Ok(None);
        }
        listen
            .parse()
            .map(Some)
            .map_err(|_| Error::Config(format!("metrics.listen {listen:?} is not an address")))
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceConfig {
    pub enabled: bool,
    pub udp_listen: SocketAddr,
    pub public_addresses: Vec<SocketAddr>,
    pub receive_slots: u8,
    pub default_bitrate_kbps: u32,
    pub turn_urls: Vec<String>,
    pub turn_secret: String,
    pub turn_ttl_secs: u64,
    pub egress: VoiceEgress,
}

/// Who encrypts and sends the relay's forwarded audio (see `voice/srtp.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceEgress {
    /// The relay writes and protects each copy itself with the session's SRTP keys.
    Own,
    /// Each copy goes through str0m's send queue (the earlier path, kept as a fallback).
    Str0m,
}

impl VoiceEgress {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Str0m => "str0m",
        }
    }
}

// Hand-written so the TURN secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for VoiceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceConfig")
            .field("enabled", &self.enabled)
            .field("udp_listen", &self.udp_listen)
            .field("public_addresses", &self.public_addresses)
            .field("receive_slots", &self.receive_slots)
            .field("egress", &self.egress)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &if self.turn_secret.is_empty() { "" } else { "<redacted>" })
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub heartbeat_interval_ms: u64,
    pub resume_window_secs: u64,
    pub resume_buffer_events: usize,
    pub max_frame_bytes: usize,
    pub frames_per_minute: u32,
    pub frame_burst: u32,
    pub bus_capacity: usize,
    /// Gateway sessions (connected or waiting for a resume) one account may hold.
    pub max_sessions_per_user: usize,
    /// How often the store is asked for sessions revoked by another process.
    pub revocation_poll_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub cors_origins: Vec<String>,
    pub trusted_proxies: Vec<String>,
    pub public_url: String,
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    pub header_read_timeout_ms: u64,
    pub shutdown_grace_secs: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub sqlite_readers: u32,
}

// Hand-written so the password inside a PostgreSQL URL never reaches a log line.
impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("sqlite_readers", &self.sqlite_readers)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    pub jwt_secret: String,
    pub audience: String,
    pub max_concurrent_hashes: usize,
    pub registration: Registration,
}

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone who can reach the server.
    Open,
    /// Only with a valid invite code of a server on this instance.
    Invite,
    /// Nobody; accounts are made with `admin create-owner`.
    Closed,
}

impl Registration {
    /// The setting's value as written in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Invite => "invite",
            Self::Closed => "closed",
        }
    }
}

// Hand-written so a secret never reaches a log line through `{:?}`.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_days", &self.refresh_token_ttl_days)
            .field("jwt_secret", &if self.jwt_secret.is_empty() { "" } else { "<redacted>" })
            .field("audience", &self.audience)
            .field("max_concurrent_hashes", &self.max_concurrent_hashes)
            .field("registration", &self.registration)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub auth_per_minute: u32,
    pub auth_burst: u32,
    pub login_failures_per_hour: u32,
    pub login_failures_per_hour_per_account: u32,
    pub password_changes_per_hour: u32,
    pub password_changes_per_hour_per_ip: u32,
    pub messages_per_channel_5s: u32,
    pub reaction_burst: u32,
    pub reactions_per_minute: u32,
    pub write_burst: u32,
    pub writes_per_minute: u32,
    pub moderation_burst: u32,
    pub moderations_per_minute: u32,
    pub identify_burst: u32,
    pub identifies_per_minute: u32,
    pub identify_ip_burst: u32,
    pub identifies_per_minute_per_ip: u32,
    pub sessions_per_ip: u32,
    pub message_ip_burst: u32,
    pub messages_per_minute_per_ip: u32,
    pub reaction_ip_burst: u32,
    pub reactions_per_minute_per_ip: u32,
    pub write_ip_burst: u32,
    pub writes_per_minute_per_ip: u32,
    pub moderation_ip_burst: u32,
    pub moderations_per_minute_per_ip: u32,
    pub typing_ip_burst: u32,
    pub typings_per_minute_per_ip: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
    pub to_file: bool,
}

/// Values from command-line flags, the last and strongest layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub database_url: Option<String>,
    pub log_level: Option<String>,
}

/// The storage backend a database URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Default for Config {
    fn default() -> Self {
        Self::from_table(default_table()).expect("the built-in default configuration is valid")
    }
}

fn default_table() -> toml::Table {
    DEFAULT_TOML.parse().expect("the built-in default configuration is valid TOML")
}

impl Config {
    /// Loads the layered configuration. Returns the config and warnings about environment
    /// variables that look like settings but match none (logged once logging is up).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<(Self, Vec<String>), Error> {
        let mut table = default_table();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
            let file_table: toml::Table = text
                .parse()
                .map_err(|e| Error::Config(format!("{} is not valid TOML: {e}", path.display())))?;
            merge(&mut table, file_table);
        }
        let warnings = apply_env(&mut table, env)?;
        let mut config = Self::from_table(table)?;
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(listen) = overrides.listen {
            config.http.listen = listen;
        }
        if let Some(url) = &overrides.database_url {
            config.database.url = url.clone();
        }
        if let Some(level) = &overrides.log_level {
            config.log.level = level.clone();
        }
        config.validate()?;
        Ok((config, warnings))
    }

    fn from_table(table: toml::Table) -> Result<Self, Error> {
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(format!("invalid configuration: {e}")))
    }

    /// Checks the rules the types alone cannot express.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |msg: &str| Err(Error::Config(msg.to_owned()));
        if self.node_id > auraspeak_shared::ids::MAX_NODE_ID {
            return fail("node_id must be between 0 and 1023");
        }
        if self.auth.access_token_ttl_secs < 10 || self.auth.access_token_ttl_secs > 86_400 {
            return fail("auth.access_token_ttl_secs must be between 10 and 86400");
        }
        if self.auth.refresh_token_ttl_days == 0 || self.auth.refresh_token_ttl_days > 3650 {
            return fail("auth.refresh_token_ttl_days must be between 1 and 3650");
        }
        if self.auth.audience.is_empty() {
            return fail("auth.audience must not be empty");
        }
        if self.database.max_connections == 0 || self.database.sqlite_readers == 0 {
            return fail("database.max_connections and database.sqlite_readers must be at least 1");
        }
        if self.rate_limit.auth_per_minute == 0 || self.rate_limit.auth_burst == 0 {
            return fail("rate_limit.auth_per_minute and rate_limit.auth_burst must be at least 1");
        }
        if self.http.header_read_timeout_ms < 100 {
            return fail("http.header_read_timeout_ms must be at least 100");
        }
        let r = &self.rate_limit;
        if [
            r.login_failures_per_hour,
            r.login_failures_per_hour_per_account,
            r.password_changes_per_hour,
            r.password_changes_per_hour_per_ip,
            r.messages_per_channel_5s,
            r.reaction_burst,
            r.reactions_per_minute,
            r.write_burst,
            r.writes_per_minute,
            r.moderation_burst,
            r.moderations_per_minute,
            r.identify_burst,
            r.identifies_per_minute,
            r.identify_ip_burst,
            r.identifies_per_minute_per_ip,
            r.sessions_per_ip,
            r.message_ip_burst,
            r.messages_per_minute_per_ip,
            r.reaction_ip_burst,
            r.reactions_per_minute_per_ip,
            r.write_ip_burst,
            r.writes_per_minute_per_ip,
            r.moderation_ip_burst,
            r.moderations_per_minute_per_ip,
            r.typing_ip_burst,
            r.typings_per_minute_per_ip,
        ]
        .contains(&0)
        {
            return fail(
                "every rate_limit setting must be at least 1 (turn limits off with enabled = false)",
            );
        }
        if self.gateway.max_sessions_per_user == 0 || self.gateway.revocation_poll_ms < 100 {
            return fail("gateway: max_sessions_per_user >= 1, revocation_poll_ms >= 100");
        }
        if self.http.max_body_bytes < 1024 {
            return fail("http.max_body_bytes must be at least 1024");
        }
        let g = &self.gateway;
        if g.heartbeat_interval_ms < 100 || g.resume_buffer_events == 0 || g.max_frame_bytes < 256 {
            return fail(
                "gateway: heartbeat_interval_ms >= 100, resume_buffer_events >= 1, max_frame_bytes >= 256",
            );
        }
        if g.frames_per_minute == 0 || g.frame_burst == 0 || g.bus_capacity < 16 {
            return fail("gateway: frames_per_minute and frame_burst >= 1, bus_capacity >= 16");
        }
        let v = &self.voice;
        if v.receive_slots == 0 || v.receive_slots > 16 {
            return fail("voice.receive_slots must be between 1 and 16");
        }
        if !(8..=510).contains(&v.default_bitrate_kbps) {
            return fail("voice.default_bitrate_kbps must be between 8 and 510");
        }
        if !v.turn_urls.is_empty() && v.turn_secret.is_empty() {
            return fail("voice.turn_urls needs voice.turn_secret");
        }
        if v.turn_ttl_secs < 60 {
            return fail("voice.turn_ttl_secs must be at least 60");
        }
        let t = &self.tls;
        if !t.acme_domains.is_empty() {
            if !t.cert_file.trim().is_empty() || !t.key_file.trim().is_empty() || t.self_signed {
                return fail(
                    "tls.acme_domains excludes tls.cert_file, tls.key_file and tls.self_signed",
                );
            }
            if t.acme_domains
                .iter()
                .any(|d| d.trim().is_empty() || d.contains(['/', ':', ' ', '*']))
            {
                return fail(
                    "tls.acme_domains must be plain DNS names such as \"chat.example.org\"",
                );
            }
            if !t.acme_directory.starts_with("https://") {
                return fail("tls.acme_directory must be an https:// URL");
            }
        }
        if t.acme_renew_days == 0 || t.acme_check_interval_secs == 0 {
            return fail("tls.acme_renew_days and tls.acme_check_interval_secs must be at least 1");
        }
        self.metrics.separate_listen()?;
        self.trusted_proxies()?;
        if self.http.request_timeout_secs == 0 {
            return fail("http.request_timeout_secs must be at least 1");
        }
        self.database_target().map(|_| ())
    }

    pub fn trusted_proxies(&self) -> Result<Vec<crate::proxy::Cidr>, Error> {
        self.http.trusted_proxies.iter().map(|t| crate::proxy::Cidr::parse(t)).collect()
    }

    pub fn database_target(&self) -> Result<DatabaseTarget, Error> {
        let url = self.database.url.trim();
        if url.is_empty() {
            return Ok(DatabaseTarget::Sqlite(self.data_dir.join("auraspeak.db")));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseTarget::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(DatabaseTarget::Sqlite(PathBuf::from(path)));
        }
        Err(Error::Config(
            "database.url must be empty (embedded SQLite), sqlite://PATH or postgres://...".into(),
        ))
    }

    /// The effective configuration as TOML, with secrets replaced, for `print-config`.
    pub fn to_redacted_toml(&self) -> String {
        let url = match self.database_target() {
            Ok(DatabaseTarget::Postgres(url)) => redact_url_password(&url),
            _ => self.database.url.clone(),
        };
        let secret = if self.auth.jwt_secret.is_empty() { "" } else { "<redacted>" };
        format!(
            "data_dir = {:?}\nnode_id = {}\n\n[http]\nlisten = \"{}\"\ncors_origins = {:?}\n\
             trusted_proxies = {:?}\npublic_url = {:?}\nmax_body_bytes = {}\nrequest_timeout_secs = {}\nheader_read_timeout_ms = {}\n\
             shutdown_grace_secs = {}\n\n\
             [tls]\ncert_file = {:?}\nkey_file = {:?}\nself_signed = {}\nacme_domains = {:?}\n\
             acme_contact = {:?}\nacme_directory = {:?}\nacme_ca_root = {:?}\nacme_renew_days = {}\n\
             acme_check_interval_secs = {}\n\n[database]\nurl = {:?}\nmax_connections = {}\nsqlite_readers = {}\n\n\
             [auth]\naccess_token_ttl_secs = {}\nrefresh_token_ttl_days = {}\njwt_secret = {:?}\n\
             audience = {:?}\nmax_concurrent_hashes = {}\nregistration = \"{}\"\n\n[gateway]\nheartbeat_interval_ms = {}\n\
             resume_window_secs = {}\nresume_buffer_events = {}\nmax_frame_bytes = {}\n\
             frames_per_minute = {}\nframe_burst = {}\nbus_capacity = {}\nmax_sessions_per_user = {}\n\
             revocation_poll_ms = {}\n\n\
             [voice]\nenabled = {}\nudp_listen = \"{}\"\npublic_addresses = {:?}\nreceive_slots = {}\n\
             default_bitrate_kbps = {}\nturn_urls = {:?}\nturn_secret = {:?}\nturn_ttl_secs = {}\negress = \"{}\"\n\n[metrics]\nenabled = {}\nlisten = {:?}\ntoken = {:?}\n\n[rate_limit]\n{}\n\
             [sentry]\ndsn = {:?}\nenvironment = {:?}\n\n[log]\nlevel = {:?}\nformat = \"{}\"\nto_file = {}\n",
            self.data_dir.display().to_string(),
            self.node_id,
            self.http.listen,
            self.http.cors_origins,
            self.http.trusted_proxies,
            self.http.public_url,
            self.http.max_body_bytes,
            self.http.request_timeout_secs,
            self.http.header_read_timeout_ms,
            self.http.shutdown_grace_secs,
            self.tls.cert_file,
            self.tls.key_file,
            self.tls.self_signed,
            self.tls.acme_domains,
            self.tls.acme_contact,
            self.tls.acme_directory,
            self.tls.acme_ca_root,
            self.tls.acme_renew_days,
            self.tls.acme_check_interval_secs,
            url,
            self.database.max_connections,
            self.database.sqlite_readers,
            self.auth.access_token_ttl_secs,
            self.auth.refresh_token_ttl_days,
            secret,
            self.auth.audience,
            self.auth.max_concurrent_hashes,
            self.auth.registration.as_str(),
            self.gateway.heartbeat_interval_ms,
            self.gateway.resume_window_secs,
            self.gateway.resume_buffer_events,
            self.gateway.max_frame_bytes,
            self.gateway.frames_per_minute,
            self.gateway.frame_burst,
            self.gateway.bus_capacity,
            self.gateway.max_sessions_per_user,
            self.gateway.revocation_poll_ms,
            self.voice.enabled,
            self.voice.udp_listen,
            self.voice.public_addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            self.voice.receive_slots,
            self.voice.default_bitrate_kbps,
            self.voice.turn_urls,
            if self.voice.turn_secret.is_empty() { "" } else { "<redacted>" },
            self.voice.turn_ttl_secs,
            self.voice.egress.as_str(),
            self.metrics.enabled,
            self.metrics.listen,
            if self.metrics.token.is_empty() { "" } else { "<redacted>" },
            // Plain numbers and a flag: serializing them cannot fail.
            toml::to_string(&self.rate_limit).unwrap_or_default(),
            if self.sentry.dsn.is_empty() { "" } else { "<redacted>" },
            self.sentry.environment,
            self.log.level,
            match self.log.format {
                LogFormat::Pretty => "pretty",
                LogFormat::Json => "json",
            },
            self.log.to_file,
        )
    }
}

/// Hides the password in `postgres://user:password@host/db` so URLs can be logged.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `AURASPEAK_SECTION__KEY=value` variables. A double underscore separates the
/// section from the key because keys themselves contain single underscores.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, Error> {
    let mut warnings = Vec::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else { continue };
        if ENV_NOT_SETTINGS.contains(&name.as_str()) || rest.is_empty() {
            continue;
        }
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        let Some((leaf, sections)) = path.split_last() else { continue };
        let Some(target) = section_mut(table, sections).filter(|t| t.contains_key(leaf)) else {
            warnings.push(format!("ignoring {name}: it matches no setting"));
            continue;
        };
        let existing = target.get(leaf).cloned().unwrap_or(toml::Value::Boolean(false));
        let value = env_value(&existing, &raw).ok_or_else(|| {
            Error::Config(format!("{name}={raw:?} does not fit the type of that setting"))
        })?;
        target.insert(leaf.clone(), value);
    }
    Ok(warnings)
}

fn section_mut<'a>(table: &'a mut toml::Table, path: &[String]) -> Option<&'a mut toml::Table> {
    let mut target = table;
    for section in path {
        match target.get_mut(section) {
            Some(toml::Value::Table(t)) => target = t,
            _ => return None,
        }
    }
    Some(target)
}

/// Interprets an environment string by the type of the setting it replaces, so a numeric
/// password or secret stays a string.
fn env_value(existing: &toml::Value, raw: &str) -> Option<toml::Value> {
    match existing {
        toml::Value::String(_) => Some(toml::Value::String(raw.to_owned())),
        toml::Value::Integer(_) => raw.trim().parse().ok().map(toml::Value::Integer),
        toml::Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Some(toml::Value::Boolean(false)),
            _ => None,
        },
        toml::Value::Array(_) => {
            // Either a TOML array (`["a","b"]`) or a comma-separated list.
            let parsed: Option<toml::Table> = format!("v = {raw}").parse().ok();
            if let Some(toml::Value::Array(a)) = parsed.and_then(|mut t| t.remove("v")) {
                return Some(toml::Value::Array(a));
            }
            Some(toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_owned()))
                    .collect(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_parse_and_are_documented() {
        let config = Config::default();
        config.validate().expect("defaults are valid");
        assert_eq!(config.http.listen.port(), 8080);
        assert!(matches!(config.database_target(), Ok(DatabaseTarget::Sqlite(_))));
        // Every key in the file carries a comment directly above it (or above its block).
        let lines: Vec<&str> = DEFAULT_TOML.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let is_key = line.contains(" = ") && !line.starts_with('#');
            if is_key && i > 0 {
                let prev = lines[i - 1];
                assert!(
                    prev.starts_with('#') || (prev.contains(" = ") && !prev.starts_with('[')),
                    "key without an explanation: {line}"
                );
            }
        }
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("auraspeak-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("server.toml");
        std::fs::write(
            &file,
            "node_id = 3\n[http]\nlisten = \"0.0.0.0:9000\"\n[log]\nlevel = \"debug\"\n",
        )
        .expect("write config");
        let (config, warnings) = Config::load(
            Some(&file),
            env(&[
                ("AURASPEAK_NODE_ID", "7"),
                ("AURASPEAK_AUTH__JWT_SECRET", "12345"),
                ("AURASPEAK_RATE_LIMIT__ENABLED", "false"),
                ("AURASPEAK_HTTP__CORS_ORIGINS", "https://a.example, https://b.example"),
                ("AURASPEAK_TYPO__KEY", "x"),
                ("AURASPEAK_TEST_PG_URL", "postgres://ignored"),
                ("PATH", "/bin"),
            ]),
            &Overrides { log_level: Some("warn".into()), ..Overrides::default() },
        )
        .expect("loads");
        assert_eq!(config.node_id, 7, "env beats file");
        assert_eq!(config.http.listen.port(), 9000, "file beats defaults");
        assert_eq!(config.log.level, "warn", "flags beat file");
        assert_eq!(config.auth.jwt_secret, "12345", "numeric strings stay strings");
        assert!(!config.rate_limit.enabled);
        assert_eq!(config.http.cors_origins, vec!["https://a.example", "https://b.example"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        for (k, v) in [
            ("AURASPEAK_NODE_ID", "lots"),
            ("AURASPEAK_NODE_ID", "5000"),
            ("AURASPEAK_HTTP__LISTEN", "not an address"),
            ("AURASPEAK_DATABASE__URL", "mysql://x"),
            ("AURASPEAK_LOG__FORMAT", "xml"),
        ] {
            assert!(Config::load(None, env(&[(k, v)]), &Overrides::default()).is_err(), "{k}={v}");
        }
        let dir = std::env::temp_dir().join(format!("auraspeak-badcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("bad.toml");
        std::fs::write(&file, "[http]\nlisten_typo = 1\n").expect("write");
        assert!(Config::load(Some(&file), env(&[]), &Overrides::default()).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url_password("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url_password("postgres://u@h/db"), "postgres://u@h/db");
        let mut config = Config::default();
        config.auth.jwt_secret = "topsecret".into();
        config.database.url = "postgres://u:pw@h/db".into();
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("topsecret") && !shown.contains(":pw@"));
        let reparsed: toml::Table = shown.parse().expect("print-config output is TOML");
        Config::from_table(reparsed).expect("and a valid config");
        assert!(!format!("{:?}", config.auth).contains("topsecret"));
        assert!(!format!("{config:?}").contains(":pw@"), "Debug of the whole config too");
    }
}
