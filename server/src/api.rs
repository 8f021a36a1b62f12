//! The HTTP API: `fn app(state) -> Router`, separate from serving so tests can drive the
//! router directly. Every route is registered through utoipa-axum, so the OpenAPI
//! document at `/api/v1/openapi.json` is generated from the same list that routes
//! requests and cannot drift from it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub mod auth;
pub mod channels;
pub mod error;
pub mod extract;
pub mod health;
pub mod invites;
pub mod members;
pub mod middleware;
pub mod pages;
pub mod servers;
pub mod users;
pub mod voice;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AuraSpeak",
        description = "Self-hosted voice and text chat for gaming communities. Errors are \
                       `{\"error\":{\"code\":\"...\",\"message\":\"...\"}}` with a stable code.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts, login and sessions"),
        (name = "users", description = "The signed-in user"),
        (name = "servers", description = "Communities, their settings and audit log"),
        (name = "roles", description = "Roles and their order"),
        (name = "members", description = "Members, kicks and bans"),
        (name = "channels", description = "Channels and permission overwrites"),
        (name = "messages", description = "Persistent chat"),
        (name = "invites", description = "Invite links"),
        (name = "gateway", description = "Realtime events over WebSocket"),
        (name = "health", description = "Liveness and readiness probes"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

fn api_routes(state: &AppState) -> OpenApiRouter<AppState> {
    // Only the routes that create sessions or check passwords anonymously are limited
    // per IP; authenticated routes are bounded by their session instead.
    let limited = OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit_by_ip,
        ));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(limited)
        .routes(routes!(auth::logout))
        .routes(routes!(auth::list_sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(users::get_me, users::update_me))
        .routes(routes!(users::change_password))
        .routes(routes!(servers::create_server, servers::my_servers))
        .routes(routes!(servers::get_server, servers::update_server, servers::delete_server))
        .routes(routes!(servers::leave_server))
        .routes(routes!(servers::transfer_server))
        .routes(routes!(servers::audit_log))
        .routes(routes!(servers::create_invite, servers::list_invites))
        .routes(routes!(servers::create_role, servers::reorder_roles))
        .routes(routes!(servers::update_role, servers::delete_role))
        .routes(routes!(members::list_members))
        .routes(routes!(members::update_member))
        .routes(routes!(members::kick_member))
        .routes(routes!(members::add_member_role, members::remove_member_role))
        .routes(routes!(members::list_bans))
        .routes(routes!(members::ban_member, members::unban_member))
        .routes(routes!(voice::moderate_voice))
        .routes(routes!(channels::create_channel))
        .routes(routes!(channels::update_channel, channels::delete_channel))
        .routes(routes!(channels::set_overwrite, channels::delete_overwrite))
        .routes(routes!(channels::send_message, channels::history))
        .routes(routes!(channels::edit_message, channels::delete_message))
        .routes(routes!(channels::add_reaction, channels::remove_reaction))
        .routes(routes!(channels::reaction_users))
        .routes(routes!(channels::ack))
        .routes(routes!(channels::typing))
        .routes(routes!(invites::preview_invite, invites::accept_invite, invites::delete_invite))
        .routes(routes!(crate::gateway::connection::gateway))
        .routes(routes!(health::healthz))
        .routes(routes!(health::metrics))
        .routes(routes!(health::readyz))
        .routes(routes!(health::openapi_json))
}

/// The generated OpenAPI document.
pub fn openapi(state: &AppState) -> utoipa::openapi::OpenApi {
    api_routes(state).into_openapi()
}

pub fn app(state: AppState) -> Router {
    let (router, doc) = api_routes(&state).split_for_parts();
    let doc = Arc::new(doc);
    let config = state.config.clone();
    let request_ids = middleware::MakeSnowflakeId(state.ids.clone());
    router
        .layer(axum::Extension(health::OpenApiDoc(doc)))
        .route("/", axum::routing::get(pages::landing))
        .route("/invite/{code}", axum::routing::get(pages::invite))
        .fallback(|| async { StatusCode::NOT_FOUND.into_response() })
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            middleware::record_metrics,
        ))
        .with_state(state)
        .layer(
            // Outermost first: the id exists before anything logs, errors become JSON
            // before CORS headers are added, panics are caught inside the timeout.
            ServiceBuilder::new()
                // A client's own x-request-id is dropped, not kept: ids in our logs are ours
                // (unique, sortable), never chosen by whoever sends the request.
                .map_request(|mut req: axum::http::Request<axum::body::Body>| {
                    req.headers_mut().remove(middleware::REQUEST_ID);
                    req
                })
                .layer(SetRequestIdLayer::new(middleware::REQUEST_ID, request_ids))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &axum::http::Request<_>| {
                            let id = req
                                .headers()
                                .get(middleware::REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            let uri = middleware::loggable_path(req.uri().path());
                            tracing::info_span!("request", id, method = %req.method(), %uri)
                        })
                        .on_response(
                            DefaultOnResponse::new()
                                .level(Level::INFO)
                                .latency_unit(LatencyUnit::Micros),
                        ),
                )
                .layer(PropagateRequestIdLayer::new(middleware::REQUEST_ID))
                .layer(middleware::cors(&config))
                .layer(axum::middleware::from_fn(middleware::finish_errors))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(config.http.request_timeout_secs),
                ))
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(DefaultBodyLimit::max(config.http.max_body_bytes)),
        )
}
