//! What the shell holds while it runs: the local store, the saved login, the logged-in
//! session (REST client and gateway) and the voice controller.

use std::sync::{Mutex, MutexGuard};

use auraspeak_client::api::ApiClient;
use auraspeak_client::gateway::{self, GatewayEvent, GatewayEvents, GatewayHandle, SessionConfig};
use auraspeak_client::profile::Profile;
use auraspeak_client::store::{LocalStore, UserPreference};
use auraspeak_shared::UserId;
use auraspeak_shared::v1::gateway::{ClientFrame, Event, PresenceStatus};
use auraspeak_shared::v1::users::CurrentUser;
use serde::Serialize;
use tauri::AppHandle;
use tauri::async_runtime::JoinHandle;
use tauri_specta::Event as _;

use crate::error::{CommandError, CommandResult};
use crate::events::{ConnectionChanged, ConnectionState, ServerEvent};
use crate::voice::VoiceController;

pub struct AppState {
    store: Mutex<LocalStore>,
    pub profile: Profile,
    session: tokio::sync::Mutex<Option<Session>>,
    pub voice: VoiceController,
    /// `server URL|user ID` of the logged-in account: the key of what is remembered per
    /// account in the local store (other users' volumes).
    account: Mutex<Option<String>>,
}

/// A logged-in session: the REST client and the gateway whose events the pump forwards.
pub struct Session {
    pub api: ApiClient,
    pub gateway: GatewayHandle,
    pub user: CurrentUser,
    pump: JoinHandle<()>,
}

/// What the UI learns after logging in.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AppSession {
    pub server_url: String,
    pub user: CurrentUser,
}

impl AppState {
    pub fn new(store: LocalStore, profile: Profile) -> Self {
        Self {
            store: Mutex::new(store),
            profile,
            session: tokio::sync::Mutex::new(None),
            voice: VoiceController::default(),
            account: Mutex::new(None),
        }
    }

    fn account(&self) -> Option<String> {
        self.account.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Remembers another user's volume and mute as the voice controller now has them, for
    /// this account, so they survive that user rejoining and this app restarting.
    pub fn remember_user_preference(&self, user: UserId) -> CommandResult<()> {
        let Some(account) = self.account() else { return Ok(()) };
        let (volume_percent, muted) = self.voice.preference(user);
        let preference = UserPreference { volume_percent, muted };
        Ok(self.store().set_user_preference(&account, user, preference)?)
    }

    pub fn store(&self) -> MutexGuard<'_, LocalStore> {
        // A panic while holding the lock left the store itself consistent (SQLite
        // transactions), so the poison is not worth failing every later command for.
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The REST client of the current session.
    pub async fn api(&self) -> CommandResult<ApiClient> {
        self.session
            .lock()
            .await
            .as_ref()
            .map(|s| s.api.clone())
            .ok_or_else(CommandError::not_logged_in)
    }

    /// The gateway of the current session and our own user.
    pub async fn gateway(&self) -> CommandResult<(GatewayHandle, CurrentUser)> {
        self.session
            .lock()
            .await
            .as_ref()
            .map(|s| (s.gateway.clone(), s.user.clone()))
            .ok_or_else(CommandError::not_logged_in)
    }

    /// Makes `api` (already authenticated) the current session: saves it, remembers the
    /// server, connects the gateway and starts forwarding its events to the UI.
    pub async fn start_session(
        &self,
        app: &AppHandle,
        api: ApiClient,
        user: CurrentUser,
    ) -> CommandResult<AppSession> {
        self.end_session(app).await;
        save_session(&self.profile, &api, &user)?;
        self.store().remember_server(
            api.base_url(),
            Some(&user.username),
            auraspeak_client::api::unix_ms_now() as i64,
        )?;
        // The identify says the chosen status, so a restarted server never shows an
        // invisible user online.
        let config = SessionConfig {
            presence: crate::settings::load_app(&self.store()).presence,
            ..SessionConfig::default()
        };
        let (gateway, events) = gateway::connect_api(&api, config);
        let _ = ConnectionChanged { state: ConnectionState::Connecting, ready: None }.emit(app);
        let pump = tauri::async_runtime::spawn(pump(app.clone(), gateway.clone(), events));
        let account = format!("{}|{}", api.base_url(), user.id);
        let remembered = self.store().user_preferences(&account).unwrap_or_else(|e| {
            tracing::warn!("remembered volumes unreadable: {e}");
            Vec::new()
        });
        self.voice.set_preferences(
            remembered.into_iter().map(|(u, p)| (u, (p.volume_percent, p.muted))).collect(),
        );
        *self.account.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(account);
        let session = AppSession { server_url: api.base_url().to_owned(), user: user.clone() };
        *self.session.lock().await = Some(Session { api, gateway, user, pump });
        Ok(session)
    }

    /// Leaves voice, closes the gateway and forgets the session here (not on the server:
    /// see `logout`).
    pub async fn end_session(&self, app: &AppHandle) -> Option<Session> {
        self.voice.leave(app).await;
        *self.account.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        let session = self.session.lock().await.take()?;
        session.gateway.close().await;
        session.pump.abort();
        let _ = ConnectionChanged { state: ConnectionState::Offline, ready: None }.emit(app);
        Some(session)
    }
}

/// A client for the saved login (see [`Profile::restore_client`]).
pub fn restore_client(profile: &Profile) -> CommandResult<Option<ApiClient>> {
    Ok(profile.restore_client(warn_unsaved)?)
}

/// Saves the new login and keeps the file in step with token rotations.
fn save_session(profile: &Profile, api: &ApiClient, user: &CurrentUser) -> CommandResult<()> {
    let saved = profile.save_login(api, user.id, &user.username)?;
    profile.follow_rotations(api, saved, warn_unsaved);
    Ok(())
}

fn warn_unsaved(e: &auraspeak_client::Error) {
    tracing::warn!("could not update the saved session: {e}");
}

/// Tells the server the user's chosen status unless it is the default.
async fn repeat_presence(state: &AppState, gateway: &GatewayHandle) {
    let presence = crate::settings::load_app(&state.store()).presence;
    if presence != PresenceStatus::Online {
        let _ = gateway.send(ClientFrame::SetPresence { status: presence }).await;
    }
}

/// Forwards the gateway's events: all dispatches to the UI, voice signaling to the call,
/// messages into the local cache.
async fn pump(app: AppHandle, gateway: GatewayHandle, mut events: GatewayEvents) {
    use tauri::Manager as _;
    while let Some(event) = events.next().await {
        let state = app.state::<AppState>();
        state.voice.forward(&app, &event);
        match event {
            GatewayEvent::Ready { ready, .. } => {
                // The identify said the chosen status where the server reads it; a server
                // from before that starts the session online, so it is said again.
                repeat_presence(&state, &gateway).await;
                let _ = ConnectionChanged { state: ConnectionState::Live, ready: Some(ready) }
                    .emit(&app);
            }
            GatewayEvent::Resumed { .. } => {
                // A choice made while the connection was down never reached the server.
                repeat_presence(&state, &gateway).await;
                let _ = ConnectionChanged { state: ConnectionState::Live, ready: None }.emit(&app);
            }
            GatewayEvent::Dispatch { event, .. } => {
                cache(&state, &event);
                let _ = ServerEvent { event }.emit(&app);
            }
            GatewayEvent::Disconnected { .. } | GatewayEvent::InvalidSession => {
                let _ = ConnectionChanged { state: ConnectionState::Reconnecting, ready: None }
                    .emit(&app);
            }
            GatewayEvent::Closed { code, reason } => {
                tracing::warn!(code, %reason, "gateway closed");
                let _ =
                    ConnectionChanged { state: ConnectionState::Offline, ready: None }.emit(&app);
                break;
            }
            GatewayEvent::ServerError { code, message } => {
                tracing::warn!(code = code.as_str(), %message, "gateway refused a frame");
            }
            GatewayEvent::VoiceReady { .. } | GatewayEvent::VoiceAnswer { .. } => {}
        }
    }
}

/// Keeps the message cache in step with the server, so the next start paints what the
/// user last saw.
fn cache(state: &AppState, event: &Event) {
    let result = match event {
        Event::MessageCreate { message } | Event::MessageUpdate { message } => {
            state.store().cache_messages(std::slice::from_ref(message))
        }
        Event::MessageDelete { channel_id, message_id } => {
            state.store().uncache_message(*channel_id, message_id.as_i64())
        }
        Event::ChannelDelete { channel_id, .. } => state.store().uncache_channel(*channel_id),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!("message cache: {e}");
    }
}
