//! The two pages a browser lands on: the server's address (`/`), which says what this is
//! and how to connect, and an invite link (`/invite/{code}`), which shows the community
//! it leads to and how to join it, as Discord's invite pages do. Plain HTML with inline
//! style, no script; English or German by `Accept-Language`. Everything else a browser
//! asks for is the API's JSON.
//!
//! Invite links are built from `http.public_url` when set (a server behind a proxy), else
//! from the address the browser used.

use std::time::Duration;

use auraspeak_shared::ErrorCode;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// English and German texts of the pages.
struct Texts {
    lang: &'static str,
    landing_title: &'static str,
    landing_lead: &'static str,
    address: &'static str,
    steps: [&'static str; 3],
    invited: &'static str,
    members: fn(i64) -> String,
    expires: fn(Duration) -> String,
    open_app: &'static str,
    not_installed: &'static str,
    join_steps: [&'static str; 3],
    cli: &'static str,
    invalid_title: &'static str,
    invalid_lead: &'static str,
    unavailable: &'static str,
}

const EN: Texts = Texts {
    lang: "en",
    landing_title: "This is an AuraSpeak server",
    landing_lead: "Voice and text chat for this community. Connect with the AuraSpeak app.",
    address: "Server address",
    steps: [
        "Install the AuraSpeak desktop app (ask the people who run this server where).",
        "Start it and enter the server address above.",
        "Register or log in, then join a community with an invite link.",
    ],
    invited: "You have been invited to join",
    members: |n| if n == 1 { "1 member".into() } else { format!("{n} members") },
    expires: |left| match in_units(left) {
        (n, Unit::Minutes) => format!("This invite expires in {n} minute{}.", plural(n)),
        (n, Unit::Hours) => format!("This invite expires in {n} hour{}.", plural(n)),
        (n, Unit::Days) => format!("This invite expires in {n} day{}.", plural(n)),
    },
    open_app: "Open in AuraSpeak",
    not_installed: "No AuraSpeak app yet?",
    join_steps: [
        "Install the AuraSpeak desktop app.",
        "Start it and enter this server's address:",
        "Choose “Join a server” (the + in the server list) and paste this invite link:",
    ],
    cli: "From a terminal:",
    invalid_title: "This invite is not valid",
    invalid_lead: "It may have expired, been used up or been revoked. Ask for a new one.",
    unavailable: "The server cannot look up invites right now. Try again in a moment.",
};

const DE: Texts = Texts {
    lang: "de",
    landing_title: "Dies ist ein AuraSpeak-Server",
    landing_lead: "Sprach- und Textchat für diese Community. Verbinde dich mit der AuraSpeak-App.",
    address: "Serveradresse",
    steps: [
        "Installiere die AuraSpeak-Desktop-App (frag die Betreiber dieses Servers, wo).",
        "Starte sie und gib die Serveradresse oben ein.",
        "Registriere dich oder melde dich an und tritt dann mit einem Einladungslink bei.",
    ],
    invited: "Du wurdest eingeladen zu",
    members: |n| if n == 1 { "1 Mitglied".into() } else { format!("{n} Mitglieder") },
    expires: |left| match in_units(left) {
        (1, Unit::Minutes) => "Diese Einladung läuft in 1 Minute ab.".into(),
        (n, Unit::Minutes) => format!("Diese Einladung läuft in {n} Minuten ab."),
        (1, Unit::Hours) => "Diese Einladung läuft in 1 Stunde ab.".into(),
        (n, Unit::Hours) => format!("Diese Einladung läuft in {n} Stunden ab."),
        (1, Unit::Days) => "Diese Einladung läuft in 1 Tag ab.".into(),
        (n, Unit::Days) => format!("Diese Einladung läuft in {n} Tagen ab."),
    },
    open_app: "In AuraSpeak öffnen",
    not_installed: "Noch keine AuraSpeak-App?",
    join_steps: [
        "Installiere die AuraSpeak-Desktop-App.",
        "Starte sie und gib die Adresse dieses Servers ein:",
        "Wähle „Server beitreten“ (das + in der Serverliste) und füge diesen Einladungslink ein:",
    ],
    cli: "Im Terminal:",
    invalid_title: "Diese Einladung ist ungültig",
    invalid_lead: "Sie ist vielleicht abgelaufen, aufgebraucht oder widerrufen. Bitte um eine neue.",
    unavailable: "Der Server kann Einladungen gerade nicht nachschlagen. Versuch es gleich noch einmal.",
};

/// German when the browser prefers it to English, English otherwise.
fn texts(headers: &HeaderMap) -> &'static Texts {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let first = accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .find(|tag| tag.starts_with("de") || tag.starts_with("en"));
    if first.is_some_and(|tag| tag.starts_with("de")) { &DE } else { &EN }
}

/// The address users reach this server at, without a trailing slash.
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state.config.http.public_url.trim().trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let tls = &state.config.tls;
    let scheme = if !tls.cert_file.is_empty() || tls.self_signed || !tls.acme_domains.is_empty() {
        "https"
    } else {
        "http"
    };
    // The Host header only shapes this requester's own page; anything unusual in it
    // (it is the client's to choose) falls back to the listen address.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .map_or_else(|| state.config.http.listen.to_string(), str::to_owned);
    format!("{scheme}://{host}")
}

/// `GET /`: what this address is and how to connect.
pub async fn landing(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let t = texts(&headers);
    let base = escape(&public_base(&state, &headers));
    let steps: String = t.steps.iter().map(|s| format!("<li>{}</li>", escape(s))).collect();
    let body = format!(
        "<p class=\"muted\">AuraSpeak {version}</p><h1>{title}</h1><p>{lead}</p>\
         <h2>{address}</h2><p><code data-testid=\"server-address\">{base}</code></p><ol>{steps}</ol>",
        version = env!("CARGO_PKG_VERSION"),
        title = escape(t.landing_title),
        lead = escape(t.landing_lead),
        address = escape(t.address),
    );
    page(StatusCode::OK, t, t.landing_title, &body)
}

/// `GET /invite/{code}`: the community an invite leads to, and how to join it.
pub async fn invite(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let t = texts(&headers);
    let preview = match state.community.preview_invite(&code).await {
        Ok(preview) => preview,
        Err(e) if e.code == ErrorCode::NotFound => {
            let body =
                format!("<h1>{}</h1><p>{}</p>", escape(t.invalid_title), escape(t.invalid_lead));
            return page(StatusCode::NOT_FOUND, t, t.invalid_title, &body);
        }
        Err(e) => {
            tracing::warn!(code = e.code.as_str(), "invite page: {}", e.message);
            let body = format!("<p>{}</p>", escape(t.unavailable));
            return page(StatusCode::SERVICE_UNAVAILABLE, t, t.invalid_title, &body);
        }
    };
    let base = public_base(&state, &headers);
    let link = format!("{base}/invite/{}", preview.code);
    let deep_link = format!(
        "auraspeak://invite?server={}&code={}",
        percent_encode(&base),
        percent_encode(&preview.code)
    );
    let expires = preview.expires_at.map_or_else(String::new, |at| {
        let left = u64::try_from(at - crate::ids::unix_ms_now()).unwrap_or(0);
        format!("<p class=\"muted\">{}</p>", escape(&(t.expires)(Duration::from_millis(left))))
    });
    let body = format!(
        "<p class=\"muted\">{invited}</p><h1 data-testid=\"invite-server\">{name}</h1>\
         <p>{members}</p>{expires}\
         <p><a class=\"button\" href=\"{deep}\">{open}</a></p>\
         <h2>{not_installed}</h2><ol><li>{s0}</li><li>{s1}<br><code>{base}</code></li>\
         <li>{s2}<br><code data-testid=\"invite-link\">{link}</code></li></ol>\
         <p class=\"muted\">{cli} <code>auraspeak join {link}</code></p>",
        invited = escape(t.invited),
        name = escape(&preview.server_name),
        members = escape(&(t.members)(preview.member_count)),
        deep = escape(&deep_link),
        open = escape(t.open_app),
        not_installed = escape(t.not_installed),
        s0 = escape(t.join_steps[0]),
        s1 = escape(t.join_steps[1]),
        s2 = escape(t.join_steps[2]),
        base = escape(&base),
        link = escape(&link),
        cli = escape(t.cli),
    );
    let title = format!("{} {}", t.invited, preview.server_name);
    page(StatusCode::OK, t, &title, &body)
}

fn page(status: StatusCode, t: &Texts, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        lang = t.lang,
        title = escape(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // No script, no frames, nothing fetched: a community name that tries to be markup
    // (escaped anyway) has nothing to run with.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

const STYLE: &str = "body{margin:0;background:#1e1f22;color:#dbdee1;font:16px/1.5 system-ui,sans-serif}\
main{max-width:34rem;margin:10vh auto;padding:2rem;background:#2b2d31;border-radius:8px}\
h1{color:#f2f3f5;margin:.2rem 0 .5rem;font-size:1.6rem;overflow-wrap:anywhere}\
h2{color:#f2f3f5;font-size:1rem;margin-top:2rem}.muted{color:#949ba4;font-size:.9rem}\
code{background:#1e1f22;padding:.1rem .3rem;border-radius:4px;overflow-wrap:anywhere}\
.button{display:inline-block;background:#5865f2;color:#fff;padding:.6rem 1.2rem;border-radius:4px;text-decoration:none;font-weight:600}";

/// HTML text and attribute escaping.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Query-string encoding of everything but unreserved characters (RFC 3986).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

enum Unit {
    Minutes,
    Hours,
    Days,
}

/// Time left, rounded up to the largest unit that fits (what a reader wants to know).
fn in_units(left: Duration) -> (u64, Unit) {
    let minutes = left.as_secs().div_ceil(60).max(1);
    match minutes {
        0..120 => (minutes, Unit::Minutes),
        120..2880 => (minutes.div_ceil(60), Unit::Hours),
        _ => (minutes.div_ceil(1440), Unit::Days),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn expiry_reads_as_time_left() {
        let at = |secs| (EN.expires)(Duration::from_secs(secs));
        assert_eq!(at(30), "This invite expires in 1 minute.");
        assert_eq!(at(45 * 60), "This invite expires in 45 minutes.");
        assert_eq!(at(3 * 3600), "This invite expires in 3 hours.");
        assert_eq!(at(7 * 86_400), "This invite expires in 7 days.");
        assert_eq!(
            (DE.expires)(Duration::from_secs(86_400 * 3)),
            "Diese Einladung läuft in 3 Tagen ab."
        );
    }

    #[test]
    fn german_only_when_preferred() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(value).expect("header"));
            texts(&headers).lang
        };
        assert_eq!(with("de-DE,de;q=0.9,en;q=0.8"), "de");
        assert_eq!(with("en-US,en;q=0.9,de;q=0.8"), "en");
        assert_eq!(with("fr-FR,de;q=0.5"), "de");
        assert_eq!(with(""), "en");
    }

    #[test]
    fn deep_link_parameters_are_encoded() {
        assert_eq!(percent_encode("https://h:8443"), "https%3A%2F%2Fh%3A8443");
    }
}
