//! The REST client: typed calls for the `/api/v1` routes a client needs, over reqwest
//! with rustls.
//!
//! Access tokens are short-lived and refreshed transparently: before a request when the
//! token is about to expire, and once more when the server still answers
//! `token_expired`. Refresh tokens rotate on every use and a spent one presented again
//! ends the session on the server, so refreshes are serialised (two concurrent requests
//! never spend the same refresh token) and every rotation is announced to the
//! [`ApiClient::on_credentials_change`] listener, which persists it before anything else
//! can happen.
//!
//! Error bodies become [`Error::Api`] with the server's stable [`ErrorCode`]; a server
//! that cannot be reached at all is [`Error::Unreachable`].

mod community;
mod credentials;
mod roles;
mod routes;

use std::sync::{Arc, Mutex, MutexGuard};

use auraspeak_shared::v1::auth::{RefreshRequest, Tokens};
use auraspeak_shared::{ErrorBody, ErrorCode};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use credentials::{Credentials, unix_ms_now};

use crate::error::{ConnectFailure, Error, Result};
use crate::tls::ServerTrust;

type Listener = Box<dyn Fn(Option<&Credentials>) + Send + Sync>;

/// A client for one AuraSpeak server. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// `https://host:port`, without a trailing slash.
    base: String,
    trust: ServerTrust,
    credentials: Mutex<Option<Credentials>>,
    /// Held across a refresh round trip so only one refresh token is spent at a time.
    refresh: tokio::sync::Mutex<()>,
    listener: Mutex<Option<Listener>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("base", &self.inner.base).finish_non_exhaustive()
    }
}

/// What the body of a request is.
enum Body<'a, B: Serialize> {
    None,
    Json(&'a B),
}

impl ApiClient {
    /// A client for the server at `base_url` (`http://` or `https://`, optionally with a
    /// port; any path is ignored), trusting the certificates the system trusts.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_trust(base_url, ServerTrust::System)
    }

    /// A client that accepts the server certificates `trust` allows (e.g. a pinned
    /// self-signed certificate).
    pub fn with_trust(base_url: &str, trust: ServerTrust) -> Result<Self> {
        let base = normalize_base_url(base_url)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("auraspeak-client/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30));
        if let ServerTrust::Pinned(fingerprint) = &trust {
            builder = builder.tls_backend_preconfigured(crate::tls::pinned_config(*fingerprint));
        }
        let http = builder
            .build()
            .map_err(|e| Error::Protocol(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                trust,
                credentials: Mutex::new(None),
                refresh: tokio::sync::Mutex::new(()),
                listener: Mutex::new(None),
            }),
        })
    }

    /// Which server certificates this client accepts; the gateway uses the same.
    pub fn trust(&self) -> &ServerTrust {
        &self.inner.trust
    }

    /// The server's base URL, as normalised by [`ApiClient::new`].
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The WebSocket URL of the server's gateway.
    pub fn gateway_url(&self) -> String {
        let base = &self.inner.base;
        let ws = match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => format!("ws://{}", base.trim_start_matches("http://")),
        };
        format!("{ws}/api/v1/gateway")
    }

    /// The current session's tokens, if logged in.
    pub fn credentials(&self) -> Option<Credentials> {
        self.lock_credentials().clone()
    }

    /// Restores a saved session (or forgets it with `None`). Does not call the listener:
    /// the caller already has these credentials.
    pub fn set_credentials(&self, credentials: Option<Credentials>) {
        *self.lock_credentials() = credentials;
    }

    /// Calls `listener` whenever the client's credentials change on its own: after login,
    /// register, every refresh (the refresh token rotates) and when the session ends.
    /// Persist them here; the old refresh token is already spent.
    pub fn on_credentials_change(
        &self,
        listener: impl Fn(Option<&Credentials>) + Send + Sync + 'static,
    ) {
        *self.inner.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(listener));
    }

    /// An access token that is not about to expire, refreshing first if needed. The
    /// gateway uses this to identify.
    pub async fn access_token(&self) -> Result<String> {
        let current = self.credentials().ok_or(Error::NotLoggedIn)?;
        if current.needs_refresh(unix_ms_now()) {
            self.refresh_replacing(&current.access_token).await?;
            return self.credentials().map(|c| c.access_token).ok_or(Error::NotLoggedIn);
        }
        Ok(current.access_token)
    }

    /// Exchanges the refresh token for new tokens now, whatever the access token's age.
    pub async fn refresh(&self) -> Result<()> {
        let current = self.credentials().ok_or(Error::NotLoggedIn)?;
        self.refresh_replacing(&current.access_token).await
    }

    fn lock_credentials(&self) -> MutexGuard<'_, Option<Credentials>> {
        // The guarded value is replaced whole, so a panic elsewhere cannot leave it torn.
        self.inner.credentials.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store_credentials(&self, credentials: Option<Credentials>) {
        *self.lock_credentials() = credentials.clone();
        if let Some(listener) = &*self.inner.listener.lock().unwrap_or_else(|p| p.into_inner()) {
            listener(credentials.as_ref());
        }
    }

    /// Refreshes unless another task already replaced `stale_access` while this one
    /// waited for the lock.
    async fn refresh_replacing(&self, stale_access: &str) -> Result<()> {
        let _one_at_a_time = self.inner.refresh.lock().await;
        let current = self.credentials().ok_or(Error::NotLoggedIn)?;
        if current.access_token != stale_access {
            return Ok(());
        }
        let request = RefreshRequest { refresh_token: current.refresh_token.clone() };
        let result: Result<Tokens> =
            self.request(Method::POST, "/api/v1/auth/refresh", Body::Json(&request), None).await;
        match result {
            Ok(tokens) => {
                self.store_credentials(Some(Credentials::from_tokens(&tokens, unix_ms_now())));
                Ok(())
            }
            Err(e) => {
                if matches!(
                    e.code(),
                    Some(
                        ErrorCode::InvalidRefreshToken
                            | ErrorCode::RefreshTokenReused
                            | ErrorCode::SessionRevoked
                    )
                ) {
                    // The session is over on the server; keeping it would only fail again.
                    self.store_credentials(None);
                }
                Err(e)
            }
        }
    }

    /// An authenticated request, refreshing the access token once if the server says it
    /// has expired.
    async fn authed<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body<'_, B>,
    ) -> Result<T> {
        let token = self.access_token().await?;
        let mut response = self.send(method.clone(), path, &body, Some(&token)).await?;
        let mut refreshed = false;
        loop {
            if response.status() != StatusCode::UNAUTHORIZED {
                return decode(response).await;
            }
            let error = error_from(response).await;
            match error.code() {
                Some(ErrorCode::TokenExpired) if !refreshed => {
                    refreshed = true;
                    self.refresh_replacing(&token).await?;
                    let token = self.credentials().ok_or(Error::NotLoggedIn)?.access_token;
                    response = self.send(method.clone(), path, &body, Some(&token)).await?;
                }
                Some(ErrorCode::SessionRevoked) => {
                    // Logged out elsewhere, revoked or expired: no token will work again.
                    self.store_credentials(None);
                    return Err(error);
                }
                _ => return Err(error),
            }
        }
    }

    async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body<'_, B>,
        token: Option<&str>,
    ) -> Result<T> {
        decode(self.send(method, path, &body, token).await?).await
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &Body<'_, B>,
        token: Option<&str>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.inner.base);
        let mut request = self.inner.http.request(method, &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Body::Json(body) = body {
            request = request.json(body);
        }
        request.send().await.map_err(|e| Error::Unreachable {
            url: self.inner.base.clone(),
            failure: connect_failure(&e),
            source: Box::new(e),
        })
    }
}

/// Which of the usual reasons kept a request from reaching the server, from the error's
/// chain of causes (reqwest wraps hyper, which wraps the IO and TLS errors).
fn connect_failure(error: &reqwest::Error) -> ConnectFailure {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut text = String::new();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return ConnectFailure::Refused;
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return match tls {
                // A plain-HTTP reply where a TLS record was expected.
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                    ConnectFailure::NotHttps
                }
                _ => ConnectFailure::Certificate,
            };
        }
        text.push_str(&e.to_string().to_ascii_lowercase());
        text.push('\n');
        cause = e.source();
    }
    if error.is_timeout() || text.contains("timed out") {
        ConnectFailure::Timeout
    } else if text.contains("dns error") || text.contains("lookup address") {
        ConnectFailure::UnknownHost
    } else if text.contains("corrupt message") || text.contains("invalidcontenttype") {
        ConnectFailure::NotHttps
    } else if text.contains("certificate") || text.contains("tls") {
        ConnectFailure::Certificate
    } else {
        ConnectFailure::Other
    }
}

/// The response body as `T`, or the server's error as [`Error::Api`]. An empty body
/// decodes as JSON `null`, which is what `()` expects.
async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T> {
    if !response.status().is_success() {
        return Err(error_from(response).await);
    }
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::Protocol(format!("reading the HTTP {status} body: {e}")))?;
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Protocol(format!("HTTP {status} body does not parse: {e}")))
}

async fn error_from(response: reqwest::Response) -> Error {
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => Error::Api {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
            request_id: body.error.request_id,
            fields: body.error.fields,
        },
        // Not our server, or a proxy in front of it answering on its own.
        Err(_) => {
            let text = String::from_utf8_lossy(&bytes);
            let snippet: String = text.chars().take(200).collect();
            Error::Protocol(format!("HTTP {status} without an error body: {snippet}"))
        }
    }
}

/// The code of an invite as people paste it: the bare code, the link the server's invite
/// page shows (`https://host/invite/CODE`, with or without the scheme), or the app link
/// (`auraspeak://invite?server=…&code=…`). A link to another server is refused: this
/// session could not join it, and saying so beats a confusing "unknown invite".
pub fn invite_code(invite: &str, base_url: &str) -> Result<String> {
    let invite = invite.trim();
    let refuse = || Error::InvalidInput(format!("{invite:?} is not an invite code or link"));
    let (server, code) = if let Some(query) = invite.strip_prefix("auraspeak://invite?") {
        let param = |name: &str| {
            query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        };
        let server = param("server").map(percent_decode).ok_or_else(refuse)?;
        (Some(server), param("code").map(percent_decode).ok_or_else(refuse)?)
    } else if let Some((server, code)) = invite.split_once("/invite/") {
        (Some(server.to_owned()), code.trim_end_matches('/').to_owned())
    } else {
        (None, invite.to_owned())
    };
    // The code becomes a path segment; anything that would change the path is refused
    // here rather than sent somewhere unintended.
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(refuse());
    }
    if let Some(server) = server {
        let linked = normalize_base_url(&server).map_err(|_| refuse())?;
        let authority =
            |url: &str| url.split_once("://").map_or(url, |(_, a)| a).to_ascii_lowercase();
        if authority(&linked) != authority(base_url) {
            return Err(Error::InvalidInput(format!(
                "this invite is for the server at {linked}; you are logged in to {base_url}. \
                 Log in there to use it."
            )));
        }
    }
    Ok(code)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `scheme://host[:port]` from what a user typed. Without a scheme, as people type
/// addresses (`chat.example.org`, `127.0.0.1:8080`): plain HTTP for this machine and
/// private networks, where self-hosters start without certificates, HTTPS elsewhere.
fn normalize_base_url(url: &str) -> Result<String> {
    let invalid = |reason| Error::InvalidUrl { url: url.to_owned(), reason };
    let trimmed = url.trim();
    let (scheme, rest) = match trimmed.split_once("://") {
        Some(parts) => parts,
        None => {
            let authority = trimmed.split(['/', '?', '#']).next().unwrap_or_default();
            if authority.is_empty() || authority.contains(char::is_whitespace) {
                return Err(invalid("missing host"));
            }
            (if is_local(authority) { "http" } else { "https" }, trimmed)
        }
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(invalid("the scheme must be http or https"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid("missing host"));
    }
    Ok(format!("{scheme}://{authority}"))
}

/// A host on this machine or a private network (RFC 1918, link-local, `.local`,
/// `localhost`), from `host[:port]` or `[v6]:port`.
fn is_local(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.is_unique_local() || ip.is_unicast_link_local()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised_and_map_to_the_gateway() {
        let c = ApiClient::new("HTTPS://chat.example.org:8443/app/").expect("valid");
        assert_eq!(c.base_url(), "https://chat.example.org:8443");
        assert_eq!(c.gateway_url(), "wss://chat.example.org:8443/api/v1/gateway");
        let c = ApiClient::new("http://127.0.0.1:9000").expect("valid");
        assert_eq!(c.gateway_url(), "ws://127.0.0.1:9000/api/v1/gateway");
        // Typed without a scheme: HTTPS on the internet, plain HTTP on this machine and
        // private networks.
        for (typed, base) in [
            ("chat.example.org", "https://chat.example.org"),
            ("chat.example.org:8443/invite/abc", "https://chat.example.org:8443"),
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("localhost:8080", "http://localhost:8080"),
            ("192.168.1.20:8080", "http://192.168.1.20:8080"),
            ("[::1]:8080", "http://[::1]:8080"),
            ("  gaming-pc.local ", "http://gaming-pc.local"),
            ("8.8.8.8:443", "https://8.8.8.8:443"),
        ] {
            assert_eq!(ApiClient::new(typed).expect(typed).base_url(), base, "{typed}");
        }
        for bad in ["", "ftp://x", "http://", "http:///path", "two words"] {
            assert!(matches!(ApiClient::new(bad), Err(Error::InvalidUrl { .. })), "{bad}");
        }
    }

    #[test]
    fn invites_are_taken_as_people_paste_them() {
        let base = "https://chat.example.org";
        for pasted in [
            "hTKzmak",
            " hTKzmak ",
            "https://chat.example.org/invite/hTKzmak",
            "https://CHAT.example.org/invite/hTKzmak/",
            "chat.example.org/invite/hTKzmak",
            "auraspeak://invite?server=https%3A%2F%2Fchat.example.org&code=hTKzmak",
        ] {
            assert_eq!(invite_code(pasted, base).expect(pasted), "hTKzmak", "{pasted}");
        }
        for bad in [
            "",
            "a/b",
            "../admin",
            "https://chat.example.org/invite/",
            "hTK zmak",
            "auraspeak://invite?code=x",
        ] {
            assert!(matches!(invite_code(bad, base), Err(Error::InvalidInput(_))), "{bad}");
        }
        let other =
            invite_code("https://other.example.net/invite/hTKzmak", base).expect_err("other");
        assert!(other.to_string().contains("https://other.example.net"), "{other}");
        let port =
            invite_code("https://chat.example.org:8443/invite/hTKzmak", base).expect_err("port");
        assert!(port.to_string().contains("8443"), "{port}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_not_a_protocol_error() {
        // Bind then drop: the port is very likely closed for the moment of the test.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind")
            .port();
        let client = ApiClient::new(&format!("http://127.0.0.1:{port}")).expect("valid");
        let err = client.login("ann", "pw", None).await.expect_err("nothing listens");
        assert!(
            matches!(err, Error::Unreachable { failure: ConnectFailure::Refused, .. }),
            "{err:?}"
        );
        assert!(client.credentials().is_none());
    }

    #[tokio::test]
    async fn failures_say_what_went_wrong() {
        // https:// to a port that answers in plain HTTP.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let plain = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\n\r\nhello")
                    .await;
            }
        });
        let client = ApiClient::new(&format!("https://127.0.0.1:{port}")).expect("valid");
        let err = client.login("ann", "pw", None).await.expect_err("not TLS");
        assert!(
            matches!(err, Error::Unreachable { failure: ConnectFailure::NotHttps, .. }),
            "{err:?}"
        );
        // The same port over plain HTTP: something answers, but not an AuraSpeak server.
        let client = ApiClient::new(&format!("http://127.0.0.1:{port}")).expect("valid");
        let err = client.login("ann", "pw", None).await.expect_err("not ours");
        assert!(matches!(err, Error::Protocol(_)), "{err:?}");
        plain.abort();

        // A name that cannot resolve (`.invalid` never does, RFC 2606).
        let client = ApiClient::new("http://no-such-host.invalid:8080").expect("valid");
        let err = client.login("ann", "pw", None).await.expect_err("no such host");
        assert!(
            matches!(err, Error::Unreachable { failure: ConnectFailure::UnknownHost, .. }),
            "{err:?}"
        );
    }
}
