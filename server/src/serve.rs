//! Starting and stopping the server: open storage, bind, serve until told to stop, then
//! let in-flight requests finish within the configured grace period.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::auth::keys;
use crate::config::Config;
use crate::error::Error;
use crate::state::AppState;
use crate::{api, store};

/// An exclusive lock on the data directory, held while a server (or a restore) uses it,
/// so two servers never share one embedded database and a restore never swaps the file
/// under a running server.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    pub fn acquire(data_dir: &std::path::Path) -> Result<Self, Error> {
        crate::private_files::create_dir(data_dir)?;
        let path = data_dir.join("auraspeak.lock");
        let file = crate::private_files::file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.try_lock().map_err(|_| {
            Error::Config(format!("{} is in use by another AuraSpeak server", data_dir.display()))
        })?;
        Ok(Self { _file: file })
    }
}

pub struct RunningServer {
    _lock: DataDirLock,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    tls_fingerprint: Option<String>,
    state: AppState,
    task: JoinHandle<std::io::Result<()>>,
}

/// Opens the database (applying migrations), loads or creates the signing key, binds the
/// listen address and starts serving in the background.
pub async fn start(config: Config) -> Result<RunningServer, Error> {
    let lock = DataDirLock::acquire(&config.data_dir)?;
    let mut acme = crate::acme::Acme::new(&config.tls, &config.data_dir)?;
    let tls = match &acme {
        Some(acme) => Some((acme.server_config()?, None)),
        None => crate::tls::server_config(&config.tls, &config.data_dir)?
            .map(|(tls, leaf)| (tls, Some(leaf))),
    };
    let secret = keys::load_or_create(&config.auth.jwt_secret, &config.data_dir)?;
    let store = store::open(&config).await?;
    let listen = config.http.listen;
    let state = AppState::new(config, store, &secret)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::io(format!("listen address {listen}"), e))?;
    let addr = listener.local_addr().map_err(|e| Error::io("listener", e))?;
    if state.config.voice.enabled {
        let voice = crate::voice::Voice::start(
            state.config.voice.clone(),
            state.community.clone(),
            state.events.clone(),
            state.metrics.clone(),
            state.shutdown.clone(),
        )
        .await
        .map_err(|e| {
            Error::io(format!("voice UDP address {}", state.config.voice.udp_listen), e)
        })?;
        let _ = state.gateway.voice.set(voice);
    }
    state.gateway.spawn_revocation_follower();
    let app = api::app(state.clone());
    let stop = state.shutdown.clone();
    tokio::spawn(crate::metrics::probe_database(
        state.store.clone(),
        state.metrics.clone(),
        Duration::from_secs(10),
        stop.clone(),
    ));
    let metrics_addr = match state.config.metrics.separate_listen()? {
        Some(listen) => Some(serve_metrics(&state, listen).await?),
        None => None,
    };
    let header_timeout = Duration::from_millis(state.config.http.header_read_timeout_ms);
    let mut served_leaf = tls.as_ref().and_then(|(_, leaf)| leaf.clone());
    observe_expiry(&state, served_leaf.as_ref());
    let task = match tls {
        Some((tls_config, _)) => {
            let listener = crate::tls::TlsListener::new(listener, tls_config)
                .map_err(|e| Error::io("TLS listener", e))?;
            // The listener already completes handshakes, so the CA can validate the
            // challenges while HTTP is not served yet.
            if let Some(mut acme) = acme.take() {
                if let Err(e) = acme.ensure_certificate().await {
                    stop.cancel();
                    return Err(e);
                }
                served_leaf = acme.current_leaf();
                // Before the renewal task starts, which moves it forward from then on.
                observe_expiry(&state, served_leaf.as_ref());
                tokio::spawn(acme.run(state.metrics.clone(), stop.clone()));
            }
            tokio::spawn(crate::connections::serve(listener, app, header_timeout, stop))
        }
        None => tokio::spawn(crate::connections::serve(listener, app, header_timeout, stop)),
    };
    let tls_fingerprint = served_leaf.as_ref().map(|leaf| crate::tls::fingerprint(leaf));
    Ok(RunningServer { _lock: lock, addr, metrics_addr, tls_fingerprint, state, task })
}

fn observe_expiry(state: &AppState, leaf: Option<&rustls::pki_types::CertificateDer<'_>>) {
    if let Some(info) = leaf.and_then(|leaf| crate::acme::CertInfo::from_der(leaf).ok()) {
        state.metrics.tls_not_after.set(info.not_after);
    }
}

/// A second listener that serves only `/metrics`.
async fn serve_metrics(state: &AppState, listen: SocketAddr) -> Result<SocketAddr, Error> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::io(format!("metrics address {listen}"), e))?;
    let addr = listener.local_addr().map_err(|e| Error::io("metrics listener", e))?;
    let metrics = state.metrics.clone();
    let token: Arc<str> = state.config.metrics.token.as_str().into();
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let (metrics, token) = (metrics.clone(), token.clone());
            async move {
                // The operator chose who reaches this address; a token, when set, too.
                if !token.is_empty()
                    && let Err(refused) = api::health::check_scrape_token(&headers, &token)
                {
                    return axum::response::IntoResponse::into_response(refused);
                }
                api::health::render_metrics(&metrics)
            }
        }),
    );
    let stop = state.shutdown.clone();
    let header_timeout = Duration::from_millis(state.config.http.header_read_timeout_ms);
    tokio::spawn(async move {
        let served = crate::connections::serve(listener, router, header_timeout, stop);
        if let Err(e) = served.await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok(addr)
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SHA-256 fingerprint of the served certificate, when TLS is on.
    pub fn tls_fingerprint(&self) -> Option<&str> {
        self.tls_fingerprint.as_deref()
    }

    /// The voice relay's UDP address, when voice is enabled.
    pub fn voice_addr(&self) -> Option<SocketAddr> {
        self.state.gateway.voice.get().map(|v| v.udp_addr())
    }

    /// The separate metrics address, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Stops accepting connections, waits up to the grace period for in-flight requests,
    /// then returns. Returns false if requests were still running when time ran out.
    pub async fn shutdown(self) -> Result<bool, Error> {
        self.state.shutdown.cancel();
        let grace = Duration::from_secs(self.state.config.http.shutdown_grace_secs);
        let mut task = self.task;
        match tokio::time::timeout(grace, &mut task).await {
            Ok(joined) => {
                joined?.map_err(|e| Error::io("http server", e))?;
                Ok(true)
            }
            Err(_) => {
                task.abort();
                Ok(false)
            }
        }
    }
}
