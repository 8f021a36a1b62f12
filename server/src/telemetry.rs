//! Error and panic reporting to Sentry (or a compatible service such as GlitchTip) when
//! `sentry.dsn` is set. Personal data stays home: no IP addresses, request bodies,
//! headers or user records are sent, and anything that looks like an email address, an
//! IP address or a token is masked in messages, extra fields and breadcrumbs (log lines
//! such as "refresh token reused" carry the client's address as a field).

use std::borrow::Cow;
use std::sync::Arc;

use sentry::protocol::{Event, Value};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentryConfig {
    pub dsn: String,
    pub environment: String,
}

/// Starts reporting if a DSN is configured. Keep the guard until the process ends: it
/// flushes queued events on drop.
pub fn init(config: &SentryConfig) -> Result<Option<sentry::ClientInitGuard>, crate::Error> {
    let dsn = config.dsn.trim();
    if dsn.is_empty() {
        return Ok(None);
    }
    let dsn: sentry::types::Dsn =
        dsn.parse().map_err(|e| crate::Error::Config(format!("sentry.dsn: {e}")))?;
    let mut options = sentry::ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = sentry::release_name!();
    options.environment = Some(Cow::Owned(config.environment.clone()));
    options.send_default_pii = false;
    options.before_send = Some(Arc::new(|event| Some(scrub(event))));
    Ok(Some(sentry::init(options)))
}

/// Removes or masks personal data before an event leaves the machine.
pub fn scrub(mut event: Event<'static>) -> Event<'static> {
    event.user = None;
    event.request = None;
    event.server_name = None;
    if let Some(message) = event.message.take() {
        event.message = Some(mask(&message));
    }
    for exception in &mut event.exception.values {
        if let Some(value) = exception.value.take() {
            exception.value = Some(mask(&value));
        }
    }
    for value in event.extra.values_mut() {
        mask_value(value);
    }
    for breadcrumb in &mut event.breadcrumbs.values {
        if let Some(message) = breadcrumb.message.take() {
            breadcrumb.message = Some(mask(&message));
        }
        for value in breadcrumb.data.values_mut() {
            mask_value(value);
        }
    }
    event
}

fn mask_value(value: &mut Value) {
    match value {
        Value::String(s) => *s = mask(s),
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::Object(map) => map.values_mut().for_each(mask_value),
        _ => {}
    }
}

/// Masks words that look like email addresses, JWTs or bearer secrets, and IP addresses
/// anywhere (`ip=203.0.113.9`, `[2001:db8::1]:443`).
pub fn mask(text: &str) -> String {
    let words: String = text
        .split_inclusive(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .map(|word| {
            let core = word.trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == '"');
            let tail = &word[core.len()..];
            let looks_email = core.contains('@') && core.contains('.');
            let looks_jwt = core.starts_with("eyJ") && core.matches('.').count() >= 2;
            let looks_secret = core.len() >= 32
                && core.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if looks_email {
                format!("[email]{tail}")
            } else if looks_jwt || looks_secret {
                format!("[secret]{tail}")
            } else {
                word.to_owned()
            }
        })
        .collect();
    mask_ips(&words)
}

/// Replaces every run of address characters (hex digits, `.` and `:`) that is an IPv4 or
/// IPv6 address, possibly followed by a port or ending a sentence, with `[ip]`.
fn mask_ips(text: &str) -> String {
    let is_addr_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_addr_char) {
        out.push_str(&rest[..start]);
        let run_len = rest[start..].find(|c: char| !is_addr_char(c)).unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        // Only whole tokens: `server::api` holds the run `::a`, which parses as IPv6.
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let bounded = !is_word(rest[..start].chars().next_back())
            && !is_word(rest[start + run_len..].chars().next());
        match ip_prefix(run).filter(|_| bounded) {
            Some(len) => {
                out.push_str("[ip]");
                out.push_str(&run[len..]);
            }
            None => out.push_str(run),
        }
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

/// The length of the address at the start of `run`, if the run is an address, or an
/// address followed by `:port` or by trailing punctuation.
fn ip_prefix(run: &str) -> Option<usize> {
    let is_ip = |s: &str| s.parse::<std::net::IpAddr>().is_ok();
    let trimmed = run.trim_end_matches(['.', ':']);
    if is_ip(trimmed) {
        return Some(trimmed.len());
    }
    // `203.0.113.9:4711`: an IPv4 address with a port (IPv6 ports come in brackets,
    // which end the run, so the address alone is the run).
    let (addr, port) = trimmed.rsplit_once(':')?;
    (addr.contains('.') && !addr.contains(':') && port.bytes().all(|b| b.is_ascii_digit()))
        .then_some(addr)
        .filter(|a| is_ip(a))
        .map(str::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_personal_data() {
        assert_eq!(mask("login by ann@example.com failed"), "login by [email] failed");
        assert_eq!(mask("token eyJhbGciOi.eyJzdWIi.sig, next"), "token [secret], next");
        assert_eq!(mask("refresh b7sdH3QYNpOAGWiA-UsMTRgc8SejEGp2mTJdD3S-7aw"), "refresh [secret]");
        assert_eq!(mask("plain words stay"), "plain words stay");
    }

    #[test]
    fn masks_ip_addresses() {
        assert_eq!(mask("203.0.113.9"), "[ip]");
        assert_eq!(mask("from ip=203.0.113.9, again"), "from ip=[ip], again");
        assert_eq!(mask("peer 203.0.113.9:4711 left."), "peer [ip]:4711 left.");
        assert_eq!(mask("seen at 198.51.100.7."), "seen at [ip].");
        assert_eq!(mask("v6 2001:db8::1 and [2001:db8::2]:443"), "v6 [ip] and [[ip]]:443");
        assert_eq!(mask("mapped ::ffff:192.0.2.1 link fe80::1%eth0"), "mapped [ip] link [ip]%eth0");
        assert_eq!(mask("http://127.0.0.1:8080/x"), "http://[ip]:8080/x");
        // Not addresses: versions, times, ids, hex words.
        for plain in [
            "v1.2.3",
            "12:30:45",
            "id 1234567890",
            "deadbeef",
            "cafe: ok",
            "0.5 s",
            "auraspeak_server::api::auth",
            "Vec::new",
        ] {
            assert_eq!(mask(plain), plain);
        }
    }

    #[test]
    fn scrub_masks_addresses_in_breadcrumbs() {
        let mut crumb = sentry::protocol::Breadcrumb {
            message: Some("refresh token reused; session revoked".into()),
            ..Default::default()
        };
        crumb.data.insert("ip".into(), Value::String("203.0.113.9".into()));
        crumb.data.insert("peer".into(), Value::String("[2001:db8::7]:50000".into()));
        let mut event = Event::default();
        event.breadcrumbs.values.push(crumb);
        let clean = scrub(event);
        let text = serde_json::to_string(&clean.breadcrumbs).expect("json");
        assert!(!text.contains("203.0.113.9") && !text.contains("2001:db8"), "{text}");
        assert!(text.contains("[ip]"), "{text}");
    }

    #[test]
    fn scrub_drops_user_and_request() {
        let event = Event {
            user: Some(sentry::protocol::User {
                email: Some("a@b.co".into()),
                ..Default::default()
            }),
            request: Some(Default::default()),
            server_name: Some("host".into()),
            message: Some("mail a@b.co".into()),
            ..Default::default()
        };
        let clean = scrub(event);
        assert!(clean.user.is_none() && clean.request.is_none() && clean.server_name.is_none());
        assert_eq!(clean.message.as_deref(), Some("mail [email]"));
    }
}
