//! Everything a request handler may need, built once at start-up and shared.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::community::Community;
use crate::config::Config;
use crate::error::Error;
use crate::ids::IdGenerator;
use crate::rate_limit::KeyedLimiter;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub accounts: Arc<Accounts>,
    pub community: Arc<Community>,
    pub ids: Arc<IdGenerator>,
    /// Requests to the account routes per client IP; `None` when limits are disabled.
    pub auth_limiter: Option<Arc<KeyedLimiter<IpAddr>>>,
    /// Cancelled when the server begins shutting down; long-lived connections (the
    /// gateway) watch it to close with a proper close code.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>, secret: &[u8]) -> Result<Self, Error> {
        let ids = Arc::new(IdGenerator::new(config.node_id));
        let accounts = Arc::new(Accounts::new(&config, store.clone(), ids.clone(), secret)?);
        let auth_limiter = config.rate_limit.enabled.then(|| {
            Arc::new(KeyedLimiter::new(
                config.rate_limit.auth_burst,
                config.rate_limit.auth_per_minute,
                Duration::from_secs(60),
            ))
        });
        let community = Arc::new(Community::new(store.clone(), ids.clone()));
        Ok(Self {
            config: Arc::new(config),
            store,
            accounts,
            community,
            ids,
            auth_limiter,
            shutdown: CancellationToken::new(),
        })
    }
}
