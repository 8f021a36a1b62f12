//! HTTPS and WSS in the binary, with rustls (TLS 1.2 and 1.3 only; older versions are
//! not implemented at all, so they cannot be negotiated).
//!
//! Certificates come from `tls.cert_file`/`tls.key_file`, or, with `tls.self_signed`, are
//! generated once into the data directory and their SHA-256 fingerprint printed so
//! clients can pin it. With `tls.acme_domains` they come from an ACME CA instead (see
//! [`crate::acme`]). Handshakes run in their own tasks so a slow or silent client
//! cannot hold up others, and a client that speaks plain HTTP to the TLS port gets a
//! readable 400 instead of a broken connection.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use base64::Engine as _;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::Error;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Completed handshakes waiting for the HTTP server to take them.
const ACCEPT_QUEUE: usize = 256;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: String,
    pub key_file: String,
    pub self_signed: bool,
    pub acme_domains: Vec<String>,
    pub acme_contact: String,
    pub acme_directory: String,
    pub acme_ca_root: String,
    pub acme_renew_days: u32,
    pub acme_check_interval_secs: u64,
}

/// The socket peer of a connection, plain or TLS (what rate limits and logs see).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// The TLS server configuration and the leaf certificate it serves, or `None` when TLS is
/// not configured.
pub fn server_config(
    config: &TlsConfig,
    data_dir: &Path,
) -> Result<Option<(Arc<ServerConfig>, CertificateDer<'static>)>, Error> {
    let (cert_path, key_path) = match (config.cert_file.trim(), config.key_file.trim()) {
        ("", "") if config.self_signed => ensure_self_signed(data_dir)?,
        ("", "") => return Ok(None),
        (cert, key) if !cert.is_empty() && !key.is_empty() => {
            (PathBuf::from(cert), PathBuf::from(key))
        }
        _ => return Err(Error::Config("tls.cert_file and tls.key_file go together".into())),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|iter| iter.collect::<Result<_, _>>())
        .map_err(|e| Error::Config(format!("{}: {e}", cert_path.display())))?;
    let Some(leaf) = certs.first() else {
        return Err(Error::Config(format!("{} holds no certificate", cert_path.display())));
    };
    let leaf = leaf.clone();
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| Error::Config(format!("{}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Config(format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Config(format!("tls certificate and key do not fit: {e}")))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some((Arc::new(tls), leaf)))
}

/// Colon-separated SHA-256 of the certificate, as browsers and `openssl x509 -fingerprint`
/// show it.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref()).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// The generated certificate in the data directory, made on first use.
fn ensure_self_signed(data_dir: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let cert_path = data_dir.join("tls-cert.pem");
    let key_path = data_dir.join("tls-key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Error::Config(format!("generating a certificate: {e}")))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let key_pem = pem("PRIVATE KEY", &generated.signing_key.serialize_der());
    options
        .open(&key_path)
        .and_then(|mut f| f.write_all(key_pem.as_bytes()).and_then(|()| f.sync_all()))
        .map_err(|e| Error::io(&key_path, e))?;
    std::fs::write(&cert_path, pem("CERTIFICATE", generated.cert.der()))
        .map_err(|e| Error::io(&cert_path, e))?;
    Ok((cert_path, key_path))
}

/// Accepts TCP connections and hands completed TLS handshakes to the HTTP server.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(ACCEPT_QUEUE);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                // Ends with the HTTP server (the receiver dropped), which releases the port
                // for a restart in the same process.
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = tx.closed() => break,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, handed_over) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(acceptor, stream)).await
                    {
                        Ok(Some(tls)) => {
                            let _ = handed_over.send((tls, peer)).await;
                        }
                        Ok(None) => {}
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

/// Completes a handshake, or answers a plain-HTTP request with a readable error.
async fn handshake(acceptor: TlsAcceptor, mut stream: TcpStream) -> Option<TlsStream<TcpStream>> {
    let mut first = [0u8; 8];
    let n = stream.peek(&mut first).await.ok()?;
    // A TLS record starts with 0x16 (handshake); letters mean someone typed http://.
    if n > 0 && first[0].is_ascii_uppercase() {
        let body = "This port speaks HTTPS. Use https:// (or wss:// for the gateway).\n";
        let reply = format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut sink = [0u8; 1024];
        let _ = stream.read(&mut sink).await;
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
        return None;
    }
    match acceptor.accept(stream).await {
        // A CA validating TLS-ALPN-01 only needs the handshake; there is no HTTP to serve.
        Ok(tls) if tls.get_ref().1.alpn_protocol() == Some(crate::acme::ACME_TLS_ALPN) => None,
        Ok(tls) => Some(tls),
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends with the runtime; wait for shutdown instead.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
