//! Everything a request handler may need, built once at start-up and shared.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::community::Community;
use crate::config::Config;
use crate::error::Error;
use crate::events::{EventBus, LocalBus};
use crate::gateway::Gateway;
use crate::ids::IdGenerator;
use crate::metrics::Metrics;
use crate::rate_limit::KeyedLimiter;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub accounts: Arc<Accounts>,
    pub community: Arc<Community>,
    pub events: Arc<dyn EventBus>,
    pub gateway: Arc<Gateway>,
    pub metrics: Arc<Metrics>,
    /// Proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Arc<[crate::proxy::Cidr]>,
    pub ids: Arc<IdGenerator>,
    /// Requests to the account routes per client IP; `None` when limits are disabled.
    pub auth_limiter: Option<Arc<KeyedLimiter<IpAddr>>>,
    /// What each account may do how often; `None` when limits are disabled.
    pub limits: Option<Arc<crate::account_limits::AccountLimits>>,
    /// Cancelled when the server begins shutting down; long-lived connections (the
    /// gateway) watch it to close with a proper close code.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>, secret: &[u8]) -> Result<Self, Error> {
        // Every service gets the timed store, so each storage call is measured once.
        let db_latency = crate::metrics::DbLatency::new();
        let store: Arc<dyn Store> =
            Arc::new(crate::store::timed::TimedStore::new(store, db_latency.clone()));
        let ids = Arc::new(IdGenerator::new(config.node_id));
        let events: Arc<dyn EventBus> = Arc::new(LocalBus::new(config.gateway.bus_capacity));
        let accounts =
            Arc::new(Accounts::new(&config, store.clone(), ids.clone(), events.clone(), secret)?);
        let auth_limiter = config.rate_limit.enabled.then(|| {
            Arc::new(KeyedLimiter::new(
                config.rate_limit.auth_burst,
                config.rate_limit.auth_per_minute,
                Duration::from_secs(60),
            ))
        });
        let community = Arc::new(Community::new(store.clone(), ids.clone(), events.clone()));
        let trusted_proxies = config.trusted_proxies()?.into();
        let config_rate_limit = config.rate_limit.clone();
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::new(store.clone(), db_latency));
        let gateway = Arc::new(
            Gateway::new(
                config.gateway.clone(),
                config.http.cors_origins.clone(),
                events.clone(),
                community.clone(),
                store.clone(),
                shutdown.clone(),
                metrics.clone(),
            )
            .with_max_sessions_per_ip(
                config.rate_limit.enabled.then_some(config.rate_limit.sessions_per_ip as usize),
            ),
        );
        Ok(Self {
            config: Arc::new(config),
            store,
            accounts,
            community,
            events,
            gateway,
            metrics,
            trusted_proxies,
            ids,
            auth_limiter,
            limits: crate::account_limits::AccountLimits::new(&config_rate_limit).map(Arc::new),
            shutdown,
        })
    }
}
