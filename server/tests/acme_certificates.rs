//! Certificates from an ACME CA: against pebble (Debian's RFC 8555 test CA, validating
//! for real over TLS-ALPN-01 against our listener, with pebble-challtestsrv as its DNS),
//! the server obtains a certificate that an HTTPS client trusting only pebble's root
//! accepts, reuses it after a restart, swaps in a renewed one without restarting, and
//! keeps serving when renewal fails because the CA is gone, and registers a new account
//! when the CA comes back without the old one.
//!
//! Without pebble installed the test says so and passes on a developer machine; under
//! `CI=true` that is a failure (scripts/test.sh installs it).

#[path = "support/harness.rs"]
mod harness;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use auraspeak_server::Config;
use auraspeak_server::acme::CertInfo;
use harness::{Backend, TestDb};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use x509_cert::der::Decode as _;

const DOMAIN: &str = "chat.auraspeak.test";

/// Child processes killed when the test ends, however it ends.
struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for child in &mut self.0 {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

fn pebble_installed() -> bool {
    let found = Command::new("pebble").arg("-h").stderr(Stdio::null()).status().is_ok();
    if !found {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but pebble is not installed: the ACME test cannot run"
        );
        eprintln!("pebble not installed (apt-get install pebble): ACME test not run");
    }
    found
}

fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

async fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pebble and its DNS. Pebble validates TLS-ALPN-01 on `tls_port` of the address DNS gives
/// for the domain, which challtestsrv answers with 127.0.0.1 for every name.
struct Pebble {
    log: PathBuf,
    directory: String,
    management: String,
    /// Pebble's own HTTPS certificate, which our ACME client must trust.
    ca_root: PathBuf,
    processes: Killed,
}

/// Where pebble and its DNS listen. A CA restarted on the same ports has the same
/// directory URL but has forgotten every account.
#[derive(Clone, Copy)]
struct Ports {
    tls: u16,
    dns: u16,
    dns_admin: u16,
    listen: u16,
    management: u16,
}

impl Ports {
    fn pick(tls: u16) -> Self {
        let (dns, dns_admin, listen, management) =
            (free_port(), free_port(), free_port(), free_port());
        Self { tls, dns, dns_admin, listen, management }
    }
}

async fn start_pebble(dir: &Path, ports: Ports) -> Pebble {
    let Ports { tls: tls_port, dns, dns_admin, listen, management } = ports;
    let cert_path = dir.join("pebble-cert.pem");
    let key_path = dir.join("pebble-key.pem");
    // Kept across a restart, as a real CA's web server certificate would be.
    if !cert_path.exists() {
        let own = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
        std::fs::write(&cert_path, own.cert.pem()).expect("write");
        std::fs::write(&key_path, own.signing_key.serialize_pem()).expect("write");
    }
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{listen}"),
        "managementListenAddress": format!("127.0.0.1:{management}"),
        "certificate": cert_path,
        "privateKey": key_path,
        "httpPort": 80,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    let config_path = dir.join("pebble-config.json");
    std::fs::write(&config_path, config.to_string()).expect("write");
    let log = |name: &str| std::fs::File::create(dir.join(name)).expect("log file");
    let dns_server = Command::new("pebble-challtestsrv")
        .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
        .args(["-dns01", &format!("127.0.0.1:{dns}"), "-management"])
        .arg(format!("127.0.0.1:{dns_admin}"))
        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
        .stdout(log("challtestsrv.log"))
        .stderr(log("challtestsrv.err"))
        .spawn()
        .expect("pebble-challtestsrv starts");
    let mut processes = Killed(vec![dns_server]);
    let pebble = Command::new("pebble")
        .arg("-config")
        .arg(&config_path)
        .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
        // Validate at once and accept every nonce, so the test is quick and deterministic;
        // the validation itself is real, and never skipped by reusing an earlier one, so
        // the renewal is validated against the running server too.
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .stdout(log("pebble.log"))
        .stderr(log("pebble.err"))
        .spawn()
        .expect("pebble starts");
    processes.0.push(pebble);
    wait_listening(dns_admin, "pebble-challtestsrv").await;
    wait_listening(listen, "pebble").await;
    Pebble {
        log: dir.join("pebble.log"),
        directory: format!("https://127.0.0.1:{listen}/dir"),
        management: format!("https://127.0.0.1:{management}"),
        ca_root: cert_path,
        processes,
    }
}

/// The root pebble issues under (new for every pebble run), from its management API.
async fn pebble_root(pebble: &Pebble) -> reqwest::Certificate {
    let own = std::fs::read(&pebble.ca_root).expect("read");
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&own).expect("pem")])
        .build()
        .expect("client");
    let pem = http
        .get(format!("{}/roots/0", pebble.management))
        .send()
        .await
        .expect("pebble management API")
        .bytes()
        .await
        .expect("root");
    reqwest::Certificate::from_pem(&pem).expect("root is PEM")
}

fn https_client(root: &reqwest::Certificate, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([root.clone()])
        .resolve(DOMAIN, addr)
        .tls_info(true)
        .build()
        .expect("client")
}

/// GETs /readyz by the domain name, trusting only pebble's root, and returns the serial
/// number of the leaf certificate that was served.
async fn served_serial(root: &reqwest::Certificate, addr: SocketAddr) -> Vec<u8> {
    try_served_serial(root, addr).await.expect("HTTPS with the issued certificate")
}

async fn try_served_serial(
    root: &reqwest::Certificate,
    addr: SocketAddr,
) -> Result<Vec<u8>, reqwest::Error> {
    let resp = https_client(root, addr)
        .get(format!("https://{DOMAIN}:{}/readyz", addr.port()))
        .send()
        .await?;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let info = resp.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    let leaf = info.peer_certificate().expect("a certificate");
    let cert = x509_cert::Certificate::from_der(leaf).expect("X.509");
    Ok(cert.tbs_certificate().serial_number().as_bytes().to_vec())
}

/// The expiry the server reports in /metrics, and that of the certificate it serves.
async fn reported_and_served_expiry(root: &reqwest::Certificate, addr: SocketAddr) -> (i64, i64) {
    let resp = https_client(root, addr)
        .get(format!("https://{DOMAIN}:{}/metrics", addr.port()))
        .send()
        .await
        .expect("metrics over HTTPS");
    let info = resp.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    let served =
        CertInfo::from_der(info.peer_certificate().expect("a certificate")).expect("X.509");
    let text = resp.text().await.expect("body");
    let reported = text
        .lines()
        .find_map(|l| l.strip_prefix("auraspeak_tls_certificate_expiry_timestamp_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .expect("expiry gauge");
    (reported, served.not_after)
}

fn acme_config(db: &TestDb, pebble: &Pebble, port: u16) -> Config {
    let mut config = db.config();
    config.http.listen = SocketAddr::from(([127, 0, 0, 1], port));
    config.tls.acme_domains = vec![DOMAIN.to_owned()];
    config.tls.acme_directory = pebble.directory.clone();
    config.tls.acme_ca_root = pebble.ca_root.display().to_string();
    config.tls.acme_check_interval_secs = 1;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obtains_reuses_and_renews_a_certificate_from_pebble() {
    if !pebble_installed() {
        return;
    }
    // The server's ACME log lines, shown when the test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("auraspeak_server::acme=debug")
        .with_test_writer()
        .try_init();
    let db = TestDb::create(&Backend::Sqlite).await;
    let port = free_port();
    let ports = Ports::pick(port);
    let mut pebble = start_pebble(&db.dir, ports).await;

    // First start: nothing stored, so the certificate is ordered before serving.
    let server = auraspeak_server::start(acme_config(&db, &pebble, port)).await.expect("starts");
    let root = pebble_root(&pebble).await;
    let first = served_serial(&root, server.addr()).await;
    for file in ["acme-account.json", "acme-cert.pem", "acme-key.pem"] {
        let meta = std::fs::metadata(db.dir.join(file)).expect("stored");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{file}");
    }
    assert!(server.tls_fingerprint().is_some());
    let (reported, served) = reported_and_served_expiry(&root, server.addr()).await;
    assert_eq!(reported, served, "/metrics reports the served certificate's expiry");
    let first_expiry = served;
    server.shutdown().await.expect("clean shutdown");

    // Restart: the stored certificate is served again, no new order.
    let server = auraspeak_server::start(acme_config(&db, &pebble, port)).await.expect("restarts");
    assert_eq!(served_serial(&root, server.addr()).await, first, "stored certificate reused");
    server.shutdown().await.expect("clean shutdown");

    // A renewal window wider than the certificate's life makes renewal due at once: the
    // running server swaps the new certificate in.
    let mut config = acme_config(&db, &pebble, port);
    config.tls.acme_renew_days = 100_000;
    let server = auraspeak_server::start(config).await.expect("restarts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if served_serial(&root, server.addr()).await != first {
            break;
        }
        assert!(Instant::now() < deadline, "no renewed certificate served within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Renewal stays due with this window, so later ones may follow: the stored certificate
    // is one of them, never the first.
    let stored = std::fs::read(db.dir.join("acme-cert.pem")).expect("stored");
    let stored: CertificateDer<'_> = CertificateDer::from_pem_slice(&stored).expect("PEM");
    let stored = x509_cert::Certificate::from_der(&stored).expect("X.509");
    assert_ne!(stored.tbs_certificate().serial_number().as_bytes(), first.as_slice());
    let (reported, _) = reported_and_served_expiry(&root, server.addr()).await;
    assert!(reported >= first_expiry, "the expiry gauge follows renewals");
    // The first order was validated by pebble connecting to our listener (TLS-ALPN-01).
    // Pebble may hand the renewal the still-valid authorization despite
    // PEBBLE_AUTHZREUSE=0, so the renewal's own validation is proven below, against a
    // CA that has forgotten us.
    let log = std::fs::read_to_string(&pebble.log).expect("pebble log");
    let validated = log.matches("set VALID by completed challenge").count();
    assert!(validated >= 1, "pebble validated {validated} challenges:\n{log}");
    let issued = log.matches("Issued certificate serial").count();
    assert!(issued >= 2, "pebble issued {issued} certificates:\n{log}");

    // The CA goes away while renewal is still due every second: renewals fail, and the
    // server keeps serving the certificate it has.
    drop(std::mem::replace(&mut pebble.processes, Killed(Vec::new())));
    let last = served_serial(&root, server.addr()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(served_serial(&root, server.addr()).await, last, "still served after failures");

    // The CA comes back with no memory of our account (and a new root): the next renewal
    // registers a new account and succeeds.
    let pebble = start_pebble(&db.dir, ports).await;
    let new_root = pebble_root(&pebble).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while try_served_serial(&new_root, server.addr()).await.is_err() {
        assert!(Instant::now() < deadline, "no certificate from the restarted CA within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The restarted CA knows no authorization, so this one was validated through the
    // running server's listener while it kept serving the old certificate.
    let log = std::fs::read_to_string(&pebble.log).expect("pebble log");
    let validated = log.matches("set VALID by completed challenge").count();
    assert!(validated >= 1, "the restarted CA validated {validated} challenges:\n{log}");
    server.shutdown().await.expect("clean shutdown");
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_without_a_usable_certificate_fails_clearly() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let mut config = db.config();
    config.tls.acme_domains = vec![DOMAIN.to_owned()];
    // Nothing listens there: the CA is unreachable and nothing is stored.
    config.tls.acme_directory = format!("https://127.0.0.1:{}/dir", free_port());
    let err = match auraspeak_server::start(config).await {
        Ok(_) => panic!("started without a certificate"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no usable certificate for chat.auraspeak.test"), "{err}");
    assert!(err.contains("TLS-ALPN-01"), "says what the CA needs: {err}");
    db.drop_now().await;
}
