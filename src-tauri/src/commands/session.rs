//! Logging in and out, restoring the last session at start, account settings.

use auraspeak_client::api::ApiClient;
use auraspeak_client::store::KnownServer;
use auraspeak_shared::v1::auth::{RegisterRequest, SessionInfo};
use auraspeak_shared::v1::users::{CurrentUser, UpdateProfileRequest};
use serde::Serialize;
use tauri::{AppHandle, State};

use super::parse_id;
use crate::error::CommandResult;
use crate::state::{AppSession, AppState, restore_client};

/// A remembered server as the login screen lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct KnownServerInfo {
    pub url: String,
    pub username: Option<String>,
    pub last_used_ms: f64,
}

impl From<KnownServer> for KnownServerInfo {
    fn from(known: KnownServer) -> Self {
        Self { url: known.url, username: known.username, last_used_ms: known.last_used_ms as f64 }
    }
}

/// The remembered servers, most recent first. A server named in `AURASPEAK_SERVER_URL`
/// (`scripts/run.sh` sets it to the server it just started) comes first, so the login
/// page offers it.
#[tauri::command]
#[specta::specta]
pub fn known_servers(state: State<'_, AppState>) -> CommandResult<Vec<KnownServerInfo>> {
    let mut list: Vec<KnownServerInfo> =
        state.store().known_servers()?.into_iter().map(Into::into).collect();
    if let Some(url) = std::env::var("AURASPEAK_SERVER_URL").ok().filter(|u| !u.trim().is_empty()) {
        suggest_first(&mut list, url.trim());
    }
    Ok(list)
}

fn suggest_first(list: &mut Vec<KnownServerInfo>, url: &str) {
    let same =
        |known: &KnownServerInfo| known.url.trim_end_matches('/') == url.trim_end_matches('/');
    let entry = match list.iter().position(same) {
        Some(i) => list.remove(i),
        None => KnownServerInfo { url: url.to_owned(), username: None, last_used_ms: 0.0 },
    };
    list.insert(0, entry);
}

/// Logs back in with the saved refresh token; `null` when there is none or the server no
/// longer accepts it (then the login screen shows).
#[tauri::command]
#[specta::specta]
pub async fn restore_session(
    app: AppHandle,
    state: State<'_, AppState>,
) -> CommandResult<Option<AppSession>> {
    let Some(api) = restore_client(&state.profile)? else { return Ok(None) };
    match api.me().await {
        Ok(user) => state.start_session(&app, api, user).await.map(Some),
        Err(e) if e.code().is_some() => {
            // The server refused the saved session (revoked, expired): log in again.
            tracing::info!("saved session refused: {e}");
            let _ = state.profile.remove();
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn login(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    login: String,
    password: String,
) -> CommandResult<AppSession> {
    let api = ApiClient::new(&server_url)?;
    let device = device_name();
    let response = api.login(&login, &password, Some(&device)).await?;
    state.start_session(&app, api, response.user).await
}

#[tauri::command]
#[specta::specta]
pub async fn register(
    app: AppHandle,
    state: State<'_, AppState>,
    server_url: String,
    username: String,
    email: String,
    password: String,
) -> CommandResult<AppSession> {
    let api = ApiClient::new(&server_url)?;
    let request = RegisterRequest {
        username,
        email,
        password,
        display_name: None,
        device_name: Some(device_name()),
        invite: None,
    };
    let response = api.register(&request).await?;
    state.start_session(&app, api, response.user).await
}

#[tauri::command]
#[specta::specta]
pub async fn logout(app: AppHandle, state: State<'_, AppState>) -> CommandResult<()> {
    if let Some(session) = state.end_session(&app).await
        && let Err(e) = session.api.logout().await
    {
        // Unreachable server: the local session is gone anyway; the token expires there.
        tracing::warn!("logout on the server failed: {e}");
    }
    state.profile.remove()?;
    state.store().clear_cache()?;
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn list_sessions(state: State<'_, AppState>) -> CommandResult<Vec<SessionInfo>> {
    Ok(state.api().await?.sessions().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn revoke_session(state: State<'_, AppState>, session_id: String) -> CommandResult<()> {
    let id = parse_id(&session_id, "session")?;
    Ok(state.api().await?.revoke_session(id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn change_password(
    state: State<'_, AppState>,
    current_password: String,
    new_password: String,
) -> CommandResult<()> {
    Ok(state.api().await?.change_password(&current_password, &new_password).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn update_profile(
    state: State<'_, AppState>,
    request: UpdateProfileRequest,
) -> CommandResult<CurrentUser> {
    Ok(state.api().await?.update_profile(&request).await?)
}

/// Shown in the sessions list on every device: "AuraSpeak on <host>".
fn device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    format!("AuraSpeak desktop on {host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(url: &str, username: Option<&str>) -> KnownServerInfo {
        KnownServerInfo { url: url.into(), username: username.map(Into::into), last_used_ms: 1.0 }
    }

    #[test]
    fn the_started_server_is_offered_first() {
        let mut list = vec![
            known("https://a.example", Some("ann")),
            known("http://127.0.0.1:8080", Some("me")),
        ];
        suggest_first(&mut list, "http://127.0.0.1:8080/");
        assert_eq!(list[0].url, "http://127.0.0.1:8080");
        assert_eq!(list[0].username.as_deref(), Some("me"), "the remembered login name stays");
        assert_eq!(list.len(), 2);
        let mut list = vec![known("https://a.example", Some("ann"))];
        suggest_first(&mut list, "http://127.0.0.1:9000");
        assert_eq!((list[0].url.as_str(), list.len()), ("http://127.0.0.1:9000", 2));
    }
}
