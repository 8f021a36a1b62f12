//! The account service: registration, login, token refresh, sessions and profile. HTTP
//! handlers stay thin and call in here; this calls the [`Store`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auraspeak_shared::error::FieldError;
use auraspeak_shared::limits;
use auraspeak_shared::v1::auth::{
    AuthResponse, ChangePasswordRequest, LoginRequest, RefreshRequest, RegisterRequest,
    SessionInfo, SessionList, Tokens,
};
use auraspeak_shared::v1::users::{CurrentUser, UpdateProfileRequest};
use auraspeak_shared::{ErrorCode, SessionId, UserId};

use crate::api::error::ApiError;
use crate::api::extract::Auth;
use crate::auth::password::{self, PasswordHasher};
use crate::auth::tokens::{self, TokenKeys, TokenRejection};
use crate::config::Config;
use crate::events::{EventBus, Revocation};
use crate::ids::{IdGenerator, unix_ms_now};
use crate::login_guard::{LoginGuard, LoginKey, Refusal, is_known_address};
use crate::rate_limit::KeyedLimiter;
use crate::store::{
    NewRefreshToken, NewSession, NewUser, RevokeReason, RotateOutcome, SessionRecord, Store,
    UserRecord,
};

const DEFAULT_DEVICE_NAME: &str = "Unknown device";
const MS_PER_DAY: i64 = 86_400_000;

pub struct Accounts {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    keys: TokenKeys,
    ids: Arc<IdGenerator>,
    refresh_ttl_ms: i64,
    /// Failed logins per (account, address) and per account.
    login_failures: Option<LoginGuard>,
    /// Password changes per account: each one costs an argon2 verification.
    password_changes: Option<KeyedLimiter<i64>>,
    /// Password changes per client address, over all its accounts.
    password_changes_per_ip: Option<KeyedLimiter<IpAddr>>,
    /// Where ended sessions are announced, so the gateway ends them at once.
    events: Arc<dyn EventBus>,
}

impl Accounts {
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        ids: Arc<IdGenerator>,
        events: Arc<dyn EventBus>,
        secret: &[u8],
    ) -> Result<Self, crate::error::Error> {
        let days = i64::try_from(config.auth.refresh_token_ttl_days).unwrap_or(3650);
        let login_failures = LoginGuard::new(&config.rate_limit);
        let password_changes = config.rate_limit.enabled.then(|| {
            let n = config.rate_limit.password_changes_per_hour;
            KeyedLimiter::new(n, n, Duration::from_secs(3600))
        });
        let password_changes_per_ip = config.rate_limit.enabled.then(|| {
            let n = config.rate_limit.password_changes_per_hour_per_ip;
            KeyedLimiter::new(n, n, Duration::from_secs(3600))
        });
        Ok(Self {
            store,
            hasher: PasswordHasher::new(config.auth.max_concurrent_hashes)?,
            keys: TokenKeys::new(secret, &config.auth.audience, config.auth.access_token_ttl_secs),
            ids,
            refresh_ttl_ms: days * MS_PER_DAY,
            login_failures,
            password_changes,
            password_changes_per_ip,
            events,
        })
    }

    pub async fn register(
        &self,
        req: RegisterRequest,
        ip: IpAddr,
    ) -> Result<AuthResponse, ApiError> {
        let username = req.username.trim().to_owned();
        let email = req.email.trim().to_owned();
        let display_name = req.display_name.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        let mut fields = Vec::new();
        check(&mut fields, "username", limits::validate_username(&username));
        check(&mut fields, "email", limits::validate_email(&email));
        check(&mut fields, "password", limits::validate_password(&req.password));
        if let Some(name) = &display_name {
            check(&mut fields, "display_name", limits::validate_display_name(name));
        }
        let device = device_name(req.device_name.as_deref(), &mut fields);
        if !fields.is_empty() {
            return Err(ApiError::validation(fields));
        }
        if password::is_common(&req.password) || req.password.eq_ignore_ascii_case(&username) {
            return Err(ApiError::new(
                ErrorCode::WeakPassword,
                "this password is among the most commonly used ones; choose another",
            ));
        }
        let hash = self.hasher.hash(&req.password).await?;
        let now = unix_ms_now();
        let user = self
            .store
            .create_user(&NewUser {
                id: self.ids.next().into(),
                username,
                email,
                display_name,
                password_hash: hash,
                now,
            })
            .await?;
        tracing::info!(user_id = %user.id, "account registered");
        self.start_session(user, device, ip).await
    }

    pub async fn login(&self, req: LoginRequest, ip: IpAddr) -> Result<AuthResponse, ApiError> {
        let mut fields = Vec::new();
        let login = req.login.trim();
        if login.is_empty()
            || login.chars().count() > limits::LOGIN_MAX_CHARS
            || login.chars().any(char::is_control)
        {
            fields.push(field("login", "must be a username or email address"));
        }
        if req.password.is_empty() || req.password.chars().count() > limits::PASSWORD_MAX_CHARS {
            fields.push(field("password", "must be 1 to 128 characters long"));
        }
        let device = device_name(req.device_name.as_deref(), &mut fields);
        if !fields.is_empty() {
            return Err(ApiError::validation(fields));
        }
        // Usernames are ASCII and emails are matched lower-cased: one key serves both.
        let identifier = limits::email_key(login);
        let user = self.store.user_by_login(&identifier).await?;
        let key = user.as_ref().map_or(LoginKey::Unknown(identifier), |u| LoginKey::Account(u.id));
        self.may_try_password(&key, ip).await?;
        // Always run one argon2 verification, so an unknown account is not faster to
        // reject than a wrong password.
        let ok = self
            .hasher
            .verify(&req.password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        match user {
            // Only after the password proved who is asking may we say the account is
            // disabled; before, it would reveal that the account exists.
            Some(user) if ok && user.disabled_at.is_some() => Err(ApiError::new(
                ErrorCode::AccountDisabled,
                "this account has been disabled by the server administrator",
            )),
            Some(user) if ok => self.start_session(user, device, ip).await,
            _ => {
                if let Some(guard) = &self.login_failures {
                    guard.failed(&key, ip, Instant::now());
                }
                Err(ApiError::new(ErrorCode::InvalidCredentials, "invalid login or password"))
            }
        }
    }

    /// Whether a password for `key` may be verified for a client at `ip` now (see
    /// [`crate::login_guard`]): refused with 429 when this address has failed too often
    /// for this account, or when the account's allowance over all addresses is spent and
    /// the account holds no active session from this address.
    async fn may_try_password(&self, key: &LoginKey, ip: IpAddr) -> Result<(), ApiError> {
        let Some(guard) = &self.login_failures else { return Ok(()) };
        match guard.check(key, ip, Instant::now()) {
            Ok(()) => Ok(()),
            Err(Refusal::Pair(wait)) => Err(ApiError::rate_limited(wait)),
            Err(Refusal::Account(wait)) => {
                let LoginKey::Account(user) = key else { return Err(ApiError::rate_limited(wait)) };
                let sessions = self.store.active_sessions(*user, unix_ms_now()).await?;
                if is_known_address(ip, sessions.iter().filter_map(|s| s.ip.as_deref())) {
                    Ok(())
                } else {
                    Err(ApiError::rate_limited(wait))
                }
            }
        }
    }

    async fn start_session(
        &self,
        user: UserRecord,
        device_name: String,
        ip: IpAddr,
    ) -> Result<AuthResponse, ApiError> {
        let now = unix_ms_now();
        let (refresh_token, hash) = tokens::new_refresh_token();
        let expires_at = now + self.refresh_ttl_ms;
        let session = self
            .store
            .create_session(
                &NewSession {
                    id: self.ids.next().into(),
                    user_id: user.id,
                    device_name,
                    ip: Some(ip.to_string()),
                    now,
                },
                &NewRefreshToken { hash, expires_at },
            )
            .await?;
        let tokens = self.tokens_for(&session, refresh_token, now)?;
        Ok(AuthResponse { user: current_user(user), tokens })
    }

    fn tokens_for(
        &self,
        session: &SessionRecord,
        refresh_token: String,
        now_ms: i64,
    ) -> Result<Tokens, ApiError> {
        let now_secs = u64::try_from(now_ms / 1000).unwrap_or(0);
        Ok(Tokens {
            session_id: session.id,
            token_type: "Bearer".into(),
            access_token: self.keys.issue(session.user_id, session.id, now_secs)?,
            expires_in: self.keys.access_ttl_secs(),
            refresh_token,
            refresh_expires_at: session.expires_at,
        })
    }

    pub async fn refresh(&self, req: RefreshRequest, ip: IpAddr) -> Result<Tokens, ApiError> {
        let presented = req.refresh_token.trim();
        if presented.is_empty() || presented.len() > limits::REFRESH_TOKEN_MAX_CHARS {
            return Err(invalid_refresh());
        }
        let now = unix_ms_now();
        let (new_token, new_hash) = tokens::new_refresh_token();
        let outcome = self
            .store
            .rotate_refresh_token(
                &tokens::hash_refresh_token(presented),
                &NewRefreshToken { hash: new_hash, expires_at: now + self.refresh_ttl_ms },
                Some(&ip.to_string()),
                now,
            )
            .await?;
        match outcome {
            RotateOutcome::Rotated(session) => self.tokens_for(&session, new_token, now),
            RotateOutcome::Reused(session_id) => {
                self.events.revoke(Revocation::Session(session_id.as_i64()));
                tracing::warn!(%session_id, %ip, "refresh token reused; session revoked");
                Err(ApiError::new(
                    ErrorCode::RefreshTokenReused,
                    "this refresh token was already used; the session has been ended, log in again",
                ))
            }
            RotateOutcome::Invalid => Err(invalid_refresh()),
        }
    }

    /// Resolves a bearer token to an active session. Checked on every request, so a
    /// logout or revoke takes effect immediately rather than when the JWT expires.
    pub async fn authenticate(&self, token: &str, ip: IpAddr) -> Result<Auth, ApiError> {
        let claims = self.keys.verify(token).map_err(|r| match r {
            TokenRejection::Expired => {
                ApiError::new(ErrorCode::TokenExpired, "access token expired")
            }
            TokenRejection::Invalid => {
                ApiError::new(ErrorCode::InvalidToken, "invalid access token")
            }
        })?;
        let session = self.store.session(claims.sid).await?;
        match session {
            Some(s) if s.user_id == claims.sub && s.is_active(unix_ms_now()) => {
                Ok(Auth { user_id: s.user_id, session_id: s.id, ip })
            }
            _ => Err(ApiError::new(
                ErrorCode::SessionRevoked,
                "this session has ended, log in again",
            )),
        }
    }

    pub async fn logout(&self, auth: Auth) -> Result<(), ApiError> {
        self.store
            .revoke_session(auth.user_id, auth.session_id, RevokeReason::Logout, unix_ms_now())
            .await?;
        self.events.revoke(Revocation::Session(auth.session_id.as_i64()));
        Ok(())
    }

    pub async fn sessions(&self, auth: Auth) -> Result<SessionList, ApiError> {
        let sessions = self.store.active_sessions(auth.user_id, unix_ms_now()).await?;
        Ok(SessionList {
            sessions: sessions
                .into_iter()
                .map(|s| SessionInfo {
                    current: s.id == auth.session_id,
                    id: s.id,
                    device_name: s.device_name,
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                    ip: s.ip,
                })
                .collect(),
        })
    }

    pub async fn revoke_session(&self, auth: Auth, id: SessionId) -> Result<(), ApiError> {
        let revoked = self
            .store
            .revoke_session(auth.user_id, id, RevokeReason::RevokedByUser, unix_ms_now())
            .await?;
        if revoked {
            self.events.revoke(Revocation::Session(id.as_i64()));
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::NotFound, "no such active session"))
        }
    }

    pub async fn change_password(
        &self,
        auth: Auth,
        req: ChangePasswordRequest,
    ) -> Result<(), ApiError> {
        let mut fields = Vec::new();
        check(&mut fields, "new_password", limits::validate_password(&req.new_password));
        if req.current_password.chars().count() > limits::PASSWORD_MAX_CHARS {
            fields.push(field("current_password", "must be at most 128 characters long"));
        }
        if !fields.is_empty() {
            return Err(ApiError::validation(fields));
        }
        let now = Instant::now();
        // Per account and per address: one machine with many accounts must not keep the
        // hasher busy either. Counted only when both allow it.
        let ip = crate::proxy::rate_limit_key(auth.ip);
        if let (Some(account), Some(address)) =
            (&self.password_changes, &self.password_changes_per_ip)
        {
            account.check(&auth.user_id.as_i64(), now).map_err(ApiError::rate_limited)?;
            address.check(&ip, now).map_err(ApiError::rate_limited_address)?;
            account.consume(&auth.user_id.as_i64(), now);
            address.consume(&ip, now);
        }
        let user = self.user(auth.user_id).await?;
        // Wrong current passwords count as failed logins of the account: someone holding
        // a stolen access token must not guess the password faster than a login could.
        let key = LoginKey::Account(user.id);
        self.may_try_password(&key, auth.ip).await?;
        if !self.hasher.verify(&req.current_password, Some(&user.password_hash)).await? {
            if let Some(guard) = &self.login_failures {
                guard.failed(&key, auth.ip, Instant::now());
            }
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "the current password is wrong",
            ));
        }
        if password::is_common(&req.new_password)
            || req.new_password.eq_ignore_ascii_case(&user.username)
        {
            return Err(ApiError::new(
                ErrorCode::WeakPassword,
                "this password is among the most commonly used ones; choose another",
            ));
        }
        let hash = self.hasher.hash(&req.new_password).await?;
        let revoked =
            self.store.change_password(auth.user_id, &hash, auth.session_id, unix_ms_now()).await?;
        self.events.revoke(Revocation::User {
            user_id: auth.user_id.as_i64(),
            keep: Some(auth.session_id.as_i64()),
        });
        tracing::info!(user_id = %auth.user_id, revoked, "password changed");
        Ok(())
    }

    pub async fn me(&self, auth: Auth) -> Result<CurrentUser, ApiError> {
        Ok(current_user(self.user(auth.user_id).await?))
    }

    pub async fn update_profile(
        &self,
        auth: Auth,
        req: UpdateProfileRequest,
    ) -> Result<CurrentUser, ApiError> {
        let Some(display_name) = req.display_name else { return self.me(auth).await };
        let display_name = display_name.trim();
        let new = if display_name.is_empty() {
            None
        } else {
            let mut fields = Vec::new();
            check(&mut fields, "display_name", limits::validate_display_name(display_name));
            if !fields.is_empty() {
                return Err(ApiError::validation(fields));
            }
            Some(display_name)
        };
        let user = self
            .store
            .set_display_name(auth.user_id, new, unix_ms_now())
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "account not found"))?;
        Ok(current_user(user))
    }

    async fn user(&self, id: UserId) -> Result<UserRecord, ApiError> {
        self.store
            .user_by_id(id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "account not found"))
    }
}

fn current_user(user: UserRecord) -> CurrentUser {
    CurrentUser {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        email: user.email,
        created_at: user.created_at,
    }
}

fn invalid_refresh() -> ApiError {
    ApiError::new(ErrorCode::InvalidRefreshToken, "unknown or expired refresh token")
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError { field: name.to_owned(), message: message.to_owned() }
}

fn check(fields: &mut Vec<FieldError>, name: &str, result: Result<(), &'static str>) {
    if let Err(message) = result {
        fields.push(field(name, message));
    }
}

fn device_name(raw: Option<&str>, fields: &mut Vec<FieldError>) -> String {
    let name = raw.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(DEFAULT_DEVICE_NAME);
    check(fields, "device_name", limits::validate_device_name(name));
    name.to_owned()
}
