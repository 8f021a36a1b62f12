//! Error and panic reporting to Sentry (or a compatible service such as GlitchTip) when
//! `sentry.dsn` is set. Personal data stays home: no IP addresses, request bodies,
//! headers or user records are sent, and anything that looks like an email address or
//! a token is masked in messages and extra fields.

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

/// Masks words that look like email addresses, JWTs or bearer secrets.
pub fn mask(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || c == ',' || c == '"')
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
        .collect()
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
