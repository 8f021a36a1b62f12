//! The REST client against the real server: accounts, wrong passwords, transparent
//! token refresh with rotation, servers, invites and history paging.

#[path = "support/community.rs"]
mod community;
#[path = "support/harness.rs"]
mod harness;

use std::sync::{Arc, Mutex};

use auraspeak_client::Error;
use auraspeak_client::api::{ApiClient, Credentials, unix_ms_now};
use auraspeak_server::auth::tokens::TokenKeys;
use auraspeak_shared::ErrorCode;
use auraspeak_shared::v1::messages::{HistoryQuery, SendMessageRequest};
use harness::{Backend, JWT_SECRET, PASSWORD, TestServer};

backend_tests!(
    accounts_wrong_password_and_logout,
    expired_access_token_is_refreshed_once_and_the_rotation_announced,
    servers_invites_and_history_pages,
);

fn api_code(result: Result<impl std::fmt::Debug, Error>) -> ErrorCode {
    match result {
        Err(Error::Api { code, .. }) => code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn accounts_wrong_password_and_logout(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (ann, auth) = community::register(&s.base, "ann").await;
    assert_eq!(ann.me().await.expect("me").username, "ann");
    assert_eq!(ann.credentials().map(|c| c.session_id), Some(auth.tokens.session_id));

    let other = ApiClient::new(&s.base).expect("url");
    let wrong = other.login("ann", "not-the-password", None).await;
    assert!(matches!(&wrong, Err(Error::Api { status: 401, .. })), "{wrong:?}");
    assert_eq!(api_code(wrong), ErrorCode::InvalidCredentials);
    assert!(other.credentials().is_none(), "a failed login stores nothing");
    assert!(matches!(other.me().await, Err(Error::NotLoggedIn)));

    let login = other.login("ann@example.com", PASSWORD, Some("laptop")).await.expect("login");
    assert_eq!(login.user.id, auth.user.id);
    assert_ne!(login.tokens.session_id, auth.tokens.session_id, "a session per device");

    other.logout().await.expect("logout");
    assert!(other.credentials().is_none());
    assert!(matches!(other.me().await, Err(Error::NotLoggedIn)));
    // The first device is unaffected.
    assert_eq!(ann.me().await.expect("still logged in").username, "ann");
    s.stop().await;
}

async fn expired_access_token_is_refreshed_once_and_the_rotation_announced(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let (ann, auth) = community::register(&s.base, "ann").await;
    let announced: Arc<Mutex<Vec<Option<Credentials>>>> = Arc::default();
    let sink = announced.clone();
    ann.on_credentials_change(move |c| sink.lock().expect("lock").push(c.cloned()));

    // A token the server minted long ago: expired on the server's clock, while this
    // client believes it is fresh, so only the server's `token_expired` can trigger the
    // refresh.
    let keys = TokenKeys::new(&JWT_SECRET, "auraspeak", 900);
    let expired = keys
        .issue(auth.user.id, auth.tokens.session_id, unix_ms_now() / 1000 - 3600)
        .expect("mint");
    let original = ann.credentials().expect("logged in");
    ann.set_credentials(Some(Credentials {
        access_token: expired.clone(),
        access_expires_at_ms: unix_ms_now() + 600_000,
        ..original.clone()
    }));

    // Many requests at once meet the expired token; exactly one refresh happens (a second
    // would present a spent refresh token and end the session).
    let calls = (0..8).map(|_| {
        let ann = ann.clone();
        tokio::spawn(async move { ann.me().await })
    });
    for call in calls {
        assert_eq!(call.await.expect("task").expect("me after refresh").username, "ann");
    }
    let rotated = {
        let announced = announced.lock().expect("lock");
        assert_eq!(announced.len(), 1, "one refresh for eight requests");
        announced[0].clone().expect("new credentials")
    };
    assert_ne!(rotated.refresh_token, original.refresh_token, "refresh tokens rotate");
    assert_ne!(rotated.access_token, expired);
    assert_eq!(ann.credentials(), Some(rotated.clone()));

    // Shortly before expiry by the client's own clock, it refreshes before asking.
    ann.set_credentials(Some(Credentials {
        access_expires_at_ms: unix_ms_now(),
        ..rotated.clone()
    }));
    ann.servers().await.expect("servers");
    let latest = announced.lock().expect("lock").last().cloned().flatten().expect("credentials");
    assert_ne!(latest.refresh_token, rotated.refresh_token);

    // The spent token is worthless, and presenting it again ends the session, which is
    // why the client must never lose a rotation.
    let stale = ApiClient::new(&s.base).expect("url");
    stale.set_credentials(Some(Credentials { access_expires_at_ms: 0, ..original }));
    assert_eq!(api_code(stale.me().await), ErrorCode::RefreshTokenReused);
    assert!(stale.credentials().is_none(), "a dead session is forgotten");
    assert_eq!(api_code(ann.me().await), ErrorCode::SessionRevoked);
    assert!(ann.credentials().is_none());
    assert_eq!(announced.lock().expect("lock").last(), Some(&None), "the end is announced");
    s.stop().await;
}

async fn servers_invites_and_history_pages(backend: Backend) {
    let s = TestServer::start(&backend).await;
    let c = community::setup(&s.base).await;
    let servers = c.member.servers().await.expect("servers");
    assert_eq!(servers.iter().map(|s| s.id).collect::<Vec<_>>(), vec![c.server]);
    assert_eq!(servers[0].member_count, 2);
    let detail = c.member.server(c.server).await.expect("detail");
    assert!(detail.channels.iter().any(|ch| ch.id == c.general));
    assert_eq!(api_code(c.member.join_invite("doesnotexist").await), ErrorCode::NotFound);
    assert!(matches!(c.member.join_invite("no such?code").await, Err(Error::InvalidInput(_))));

    for i in 0..7 {
        let request = SendMessageRequest { content: format!("m{i}"), reply_to: None, nonce: None };
        c.owner.send_message(c.general, &request).await.expect("send");
    }
    let page = |before| HistoryQuery { before, limit: Some(3), ..Default::default() };
    let first = c.member.history(c.general, &page(None)).await.expect("history");
    let texts = |ms: &[auraspeak_shared::v1::messages::Message]| {
        ms.iter().map(|m| m.content.clone()).collect::<Vec<_>>()
    };
    assert_eq!(texts(&first), ["m6", "m5", "m4"], "newest first");
    let oldest = first.last().map(|m| m.id);
    let second = c.member.history(c.general, &page(oldest)).await.expect("history");
    assert_eq!(texts(&second), ["m3", "m2", "m1"]);
    let missing =
        auraspeak_shared::ChannelId(auraspeak_shared::Snowflake::from_parts(1, 0, 0).expect("id"));
    assert_eq!(api_code(c.member.history(missing, &page(None)).await), ErrorCode::NotFound);
    s.stop().await;
}
