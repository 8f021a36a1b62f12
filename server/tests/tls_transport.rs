//! HTTPS and WSS served by the binary itself: a client that trusts the generated
//! certificate talks to the API and the gateway; plain HTTP on the TLS port gets a clear
//! error; protocol versions older than TLS 1.2 are refused.

#[path = "support/harness.rs"]
mod harness;

use std::sync::Arc;

use futures_util::StreamExt as _;
use harness::{Backend, TestServer};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

async fn tls_connect(s: &TestServer) -> tokio_rustls::client::TlsStream<TcpStream> {
    let cert = CertificateDer::from_pem_file(s.data_dir().join("tls-cert.pem"))
        .expect("generated certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("trust it");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let addr = s.running().addr();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS handshake")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_with_a_generated_certificate() {
    let s = TestServer::start_with(&Backend::Sqlite, |c| c.tls.self_signed = true).await;
    let fingerprint = s.running().tls_fingerprint().expect("TLS is on").to_owned();

    // HTTPS: a plain HTTP/1.1 request over the TLS stream.
    let mut tls = tls_connect(&s).await;
    let served =
        tls.get_ref().1.peer_certificates().and_then(|c| c.first().cloned()).expect("certificate");
    assert_eq!(
        auraspeak_server::tls::fingerprint(&served),
        fingerprint,
        "printed fingerprint is the served one"
    );
    let protocol = tls.get_ref().1.protocol_version();
    assert_eq!(protocol, Some(rustls::ProtocolVersion::TLSv1_3));
    tls.write_all(b"GET /readyz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tls.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");

    // WSS: the gateway over TLS says hello.
    let tls = tls_connect(&s).await;
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/api/v1/gateway", tls)
        .await
        .expect("wss upgrade");
    let hello = ws.next().await.expect("frame").expect("ok");
    assert!(hello.to_text().expect("text").contains("\"op\":\"hello\""), "{hello:?}");

    // Plain HTTP to the TLS port: a readable 400, not a hang or garbage.
    let mut plain = TcpStream::connect(s.running().addr()).await.expect("connect");
    plain.write_all(b"GET /readyz HTTP/1.1\r\nhost: localhost\r\n\r\n").await.expect("write");
    let mut answer = String::new();
    plain.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("speaks HTTPS"), "{answer}");

    // TLS 1.1 and 1.0 are refused (checked with openssl, which can still offer them).
    if std::process::Command::new("openssl").arg("version").output().is_ok() {
        for version in ["-tls1_1", "-tls1"] {
            let out = std::process::Command::new("openssl")
                .args(["s_client", "-connect", &s.running().addr().to_string(), version])
                .stdin(std::process::Stdio::null())
                .output()
                .expect("openssl runs");
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() || text.contains("Cipher is (NONE)"),
                "{version} negotiated: {text}"
            );
        }
    }
    s.stop().await;
}

#[test]
fn mismatched_tls_settings_are_config_errors() {
    let mut config = auraspeak_server::Config::default();
    config.tls.cert_file = "/nonexistent/cert.pem".into();
    let only_cert = auraspeak_server::tls::server_config(&config.tls, std::path::Path::new("/tmp"));
    assert!(only_cert.is_err(), "cert without key");
    config.tls.key_file = "/nonexistent/key.pem".into();
    let missing = auraspeak_server::tls::server_config(&config.tls, std::path::Path::new("/tmp"));
    assert!(missing.is_err(), "missing files");
}
