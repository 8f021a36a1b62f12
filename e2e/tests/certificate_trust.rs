//! Over HTTPS and WSS the client verifies the server's certificate: a self-signed one it
//! was never told to trust is refused on both paths, with an error that says so, rather
//! than trusted silently (or panicking for want of a crypto provider); pinned by the
//! fingerprint the server prints, exactly that certificate is accepted.

#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use auraspeak_client::Error;
use auraspeak_client::api::ApiClient;
use auraspeak_client::gateway::{self, GatewayEvent, SessionConfig};
use auraspeak_client::tls::{Fingerprint, ServerTrust};
use auraspeak_shared::v1::auth::RegisterRequest;
use harness::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_self_signed_certificate_is_refused() {
    let s = TestServer::start_with(&Backend::Sqlite, |c| c.tls.self_signed = true).await;
    let api = ApiClient::new(&format!("https://localhost:{}", s.addr().port())).expect("url");
    assert!(api.gateway_url().starts_with("wss://"));

    let err = api.login("ann", "whatever", None).await.expect_err("untrusted certificate");
    let Error::Unreachable { source, .. } = &err else { panic!("{err:?}") };
    let mut chain = source.to_string();
    let mut cause = source.source();
    while let Some(c) = cause {
        chain = format!("{chain}: {c}");
        cause = c.source();
    }
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");

    // The gateway keeps trying (the server may get a valid certificate) but never
    // connects, and says so with disconnect events.
    api.set_credentials(None);
    let config = SessionConfig {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..SessionConfig::default()
    };
    let (handle, mut events) = gateway::connect(api.gateway_url(), api.clone(), config);
    for _ in 0..3 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event in time")
            .expect("still running");
        assert!(matches!(event, GatewayEvent::Disconnected { code: None, .. }), "{event:?}");
    }
    handle.close().await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_certificate_is_accepted_for_rest_and_gateway() {
    let s = TestServer::start_with(&Backend::Sqlite, |c| c.tls.self_signed = true).await;
    let printed = s.running().tls_fingerprint().expect("TLS is on").to_owned();
    let pin: Fingerprint = printed.parse().expect("the printed fingerprint parses");
    // By IP address: the pin, not the name in the certificate, identifies the server.
    let base = format!("https://127.0.0.1:{}", s.addr().port());
    let api = ApiClient::with_trust(&base, ServerTrust::Pinned(pin)).expect("url");
    let auth = api
        .register(&RegisterRequest {
            username: "ann".into(),
            email: "ann@example.com".into(),
            password: harness::PASSWORD.into(),
            display_name: None,
            device_name: None,
            invite: None,
        })
        .await
        .expect("register over HTTPS with the pinned certificate");
    let (handle, mut events) = gateway::connect_api(&api, SessionConfig::default());
    let event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event in time")
        .expect("still running");
    let GatewayEvent::Ready { ready, .. } = event else { panic!("{event:?}") };
    assert_eq!(ready.user.id, auth.user.id, "identified over WSS");
    handle.close().await;

    // Any other pin is refused, however valid the certificate otherwise is.
    let wrong = Fingerprint::of(b"some other certificate");
    let other = ApiClient::with_trust(&base, ServerTrust::Pinned(wrong)).expect("url");
    let err = other.login("ann", harness::PASSWORD, None).await.expect_err("wrong pin");
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    s.stop().await;
}
