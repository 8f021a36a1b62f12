//! A gateway connection that has received READY, for tests that then join voice.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use auraspeak_client::api::ApiClient;
use auraspeak_client::gateway::{self, GatewayEvent, GatewayEvents, GatewayHandle, SessionConfig};
use auraspeak_shared::UserId;

/// Connects `api`'s gateway and waits for READY; returns the connection and our user id.
pub async fn online(api: &ApiClient) -> (GatewayHandle, GatewayEvents, UserId) {
    let (handle, mut events) =
        gateway::connect(api.gateway_url(), api.clone(), SessionConfig::default());
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("ready in time")
            .expect("gateway running");
        if let GatewayEvent::Ready { ready, .. } = event {
            return (handle, events, ready.user.id);
        }
    }
}
