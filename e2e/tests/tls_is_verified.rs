//! Over HTTPS and WSS the client verifies the server's certificate: a self-signed one it
//! was never told to trust is refused on both paths, with an error that says so, rather
//! than trusted silently (or panicking for want of a crypto provider).

#[path = "support/harness.rs"]
mod harness;

use std::time::Duration;

use auraspeak_client::Error;
use auraspeak_client::api::ApiClient;
use auraspeak_client::gateway::{self, GatewayEvent, SessionConfig};
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
