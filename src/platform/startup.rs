//! The composition root: the state, every feature's routes, the pages and server functions,
//! and the middleware, assembled in one place. The only module that knows every feature.

use super::config::Settings;
use super::http::{api_not_found, method_not_allowed, ApiRoutes};
use super::limits::Limiter;
use super::redis::Cache;
use super::secrets::ServerKeys;
use super::state::{AppState, Memory};
use super::telemetry;
use crate::accounts::server::keys::KeyCache;
use crate::accounts::server::principal::{self, OperatorAuth};
use crate::ai::embeddings::Embedder;
use crate::ai::local::LocalChat;
use crate::ai::router::Timeouts;
use crate::ai::{ModelRouter, ProviderKind};
use crate::app::{shell, App};
use crate::core::AppError;
use crate::employees::server::cache::{self as employee_cache, EmployeeCache};
use crate::memory::server::indexer::Indexer;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tower_http::timeout::RequestBodyTimeoutLayer;

pub use telemetry::init_tracing;

/// Builds the state; must run inside the Tokio runtime (it starts the memory indexer).
pub fn build_state(
    pool: PgPool,
    settings: Settings,
    leptos_options: LeptosOptions,
) -> anyhow::Result<AppState> {
    telemetry::start_upkeep();
    let cache = Cache::new(settings.redis_url.expose_secret())?;
    cache.watch();
    let providers = settings.provider_configs();
    let local = &settings.file.local;
    let local_chat = providers
        .iter()
        .any(|p| p.kind == ProviderKind::Local)
        .then(|| {
            LocalChat::start(
                local.models_dir.clone(),
                local.chat_workers,
                local.chat_queue,
            )
        });
    let limits = &settings.file.limits;
    let router = ModelRouter::new(
        providers,
        Timeouts {
            whole: Duration::from_secs(limits.model_timeout_seconds),
            first_token: Duration::from_secs(limits.model_first_token_seconds),
            idle: Duration::from_secs(limits.model_idle_seconds),
        },
        local_chat,
    );
    let memory = Embedder::from_settings(&settings)?.map(|embedder| {
        let embedder = Arc::new(embedder);
        Memory {
            indexer: Indexer::start(
                pool.clone(),
                embedder.clone(),
                Duration::from_secs(settings.file.memory.sweep_seconds.max(1)),
            ),
            embedder,
        }
    });
    let employees = Arc::new(EmployeeCache::new(
        settings.file.limits.employee_cache_entries,
        Duration::from_secs(settings.file.limits.employee_cache_seconds),
    ));
    employee_cache::listen(cache.clone(), Arc::downgrade(&employees));
    let keys = Arc::new(KeyCache::default());
    crate::accounts::server::keys::listen(cache.clone(), Arc::downgrade(&keys));
    let client_limits = Arc::new(crate::clients::server::limits::LimitsCache::default());
    crate::clients::server::limits::listen(cache.clone(), Arc::downgrade(&client_limits));
    let stops = Arc::new(crate::conversations::server::stop::TurnStops::default());
    crate::conversations::server::stop::listen(cache.clone(), Arc::downgrade(&stops));
    let secrets = Arc::new(ServerKeys::derive(&settings.secret_key));
    let outbound = super::outbound::Outbound::new(
        super::outbound::Policy::from_allow(&settings.file.outbound.allow)
            .map_err(anyhow::Error::msg)?,
    )
    .map_err(anyhow::Error::msg)?;
    let limiter = Arc::new(Limiter::new(&settings.file.limits.rate_limit_namespace));
    let ingester = crate::knowledge::server::ingest::Ingester::start(
        pool.clone(),
        memory.as_ref().map(|m| m.embedder.clone()),
        settings.file.local.models_dir.clone(),
        Duration::from_secs(settings.file.memory.sweep_seconds.max(1)),
    );
    let state = AppState {
        pool,
        cache,
        employees,
        settings: Arc::new(settings),
        keys,
        client_limits,
        secrets,
        limiter,
        router: Arc::new(router),
        stops,
        memory,
        outbound: Arc::new(outbound),
        ingester,
        leptos_options,
    };
    Ok(state)
}

async fn server_fn_handler(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), req).await
}

/// Middleware: a request that can change state (any method but GET, HEAD and OPTIONS) sent by a
/// browser from another site is refused, 403, before anything runs — form posts included. The
/// browser says where a request comes from (`Origin`, else `Sec-Fetch-Site`, else `Referer`);
/// it must be this server's own address (`Host`). Programs that send none of these (API
/// clients with a bearer key) are not affected. The sign-in cookies are `SameSite=Strict`
/// besides.
async fn same_origin_only(req: Request, next: Next) -> Response {
    let safe = matches!(
        *req.method(),
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    );
    if !safe && cross_site(req.headers()) {
        return AppError::Forbidden {
            message: "a request from another site cannot change anything here".into(),
        }
        .into_response();
    }
    next.run(req).await
}

/// Whether the browser says the request comes from another site.
fn cross_site(h: &http::HeaderMap) -> bool {
    let host = h
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let authority = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or("").to_owned())
    };
    if let Some(origin) = h.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin == "null" || authority(origin).as_deref() != Some(host);
    }
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "cross-site";
    }
    if let Some(referer) = h.get(http::header::REFERER).and_then(|v| v.to_str().ok()) {
        return authority(referer).as_deref() != Some(host);
    }
    false
}

/// Middleware for server functions (`/rpc/…`, routed by Leptos itself). A call the framework
/// cannot decode (missing or malformed arguments, a body it cannot read) fails before the
/// function runs, and the framework answers those 500: the error it encodes says what went
/// wrong, so the status is taken from it (a bad request is 400). A wrong method gets its 405
/// with a body that says so.
async fn server_fn_status(req: Request, next: Next) -> Response {
    let rpc = req.uri().path().starts_with("/rpc/");
    let res = next.run(req).await;
    if rpc && res.status() == StatusCode::METHOD_NOT_ALLOWED {
        let e = AppError::bad_request("this server function is not called with that method");
        let body = serde_json::to_vec(&e).unwrap_or_default();
        let (parts, _) = res.into_parts();
        return Response::from_parts(parts, Body::from(body));
    }
    if !rpc || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if let Ok(e) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(e.status()).unwrap_or(parts.status);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The body a page's server function may send: a 16,000-character message form-encoded, when
/// every character is outside ASCII, takes 144 KB.
const RPC_BODY_BYTES: usize = 256 * 1024;

/// Server functions read their whole body themselves (`DefaultBodyLimit` binds only axum's
/// extractors), so their cap is set here: `RPC_BODY_BYTES` (or `limits.request_body_bytes` if
/// larger), twice `BROWSER_IMPORT_BYTES` for the memory browser's import (a file's text, as
/// a JSON string) and `MAX_UPLOAD_BYTES` for the knowledge page's upload (the plan's own, lower
/// limit is enforced as the file is read). A declared length past it is a 413 at once; a body
/// that grows past it fails as it is read. The upload's body must be a multipart form: server_fn
/// panics on any other (it expects a boundary), so anything else is a 400 here first.
async fn server_fn_body_limit(State(limit): State<usize>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/rpc/") {
        return next.run(req).await;
    }
    let limit = if path == "/rpc/import_memory" {
        2 * crate::memory::BROWSER_IMPORT_BYTES
    } else if path == "/rpc/upload_document" {
        crate::knowledge::server::form::MAX_UPLOAD_BYTES
    } else {
        limit.max(RPC_BODY_BYTES)
    };
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return AppError::PayloadTooLarge {
            message: format!("this request's body is larger than the {limit} bytes it may be"),
        }
        .into_response();
    }
    let multipart = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| multer::parse_boundary(ct).is_ok());
    if path == "/rpc/upload_document" && !multipart {
        return AppError::bad_request(
            "malformed call: send the document as multipart/form-data, in a field named file",
        )
        .into_response();
    }
    next.run(req.map(|body| Body::new(http_body_util::Limited::new(body, limit))))
        .await
}

/// `GET /metrics` (Prometheus text format), for the operator only.
async fn metrics_endpoint(State(state): State<AppState>, _op: OperatorAuth) -> Response {
    let Some(handle) = telemetry::metrics() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are off").into_response();
    };
    let (size, idle) = (state.pool.size(), state.pool.num_idle() as u32);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    if let Some(m) = &state.memory {
        metrics::gauge!("memory_index_queue_depth").set(m.indexer.queue_depth() as f64);
    }
    handle.run_upkeep();
    handle.render().into_response()
}

/// Middleware: a request whose response has not started within `limit` is answered 503 (a
/// stream, once started, runs on under the model time limits).
async fn within_time(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => AppError::Unavailable {
            message: format!(
                "the request took longer than {} s; try again",
                limit.as_secs()
            ),
        }
        .into_response(),
    }
}

/// Every feature's REST routes (paths under `/api/v1`), with their methods.
pub fn api_routes() -> ApiRoutes {
    ApiRoutes::new()
        .merge(crate::clients::server::rest::router())
        .merge(crate::accounts::server::rest::router())
        .merge(crate::employees::server::rest::router())
        .merge(crate::audit::server::rest::router())
        .merge(crate::tools::server::rest::router())
        .merge(crate::knowledge::server::rest::router())
        .merge(crate::conversations::server::rest::router())
        .merge(crate::memory::server::rest::router())
        .merge(crate::usage::server::rest::router())
}

/// Every REST route as (method, full path template), from the router itself.
pub fn api_route_list() -> Vec<(http::Method, String)> {
    api_routes()
        .list()
        .iter()
        .map(|(m, p)| (m.clone(), format!("/api/v1{p}")))
        .collect()
}

/// `GET /api/v1/openapi.json`: the REST API's OpenAPI 3.1 document (open to anyone, like the
/// code it is generated from).
async fn openapi_json() -> impl IntoResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        super::openapi::json(),
    )
}

/// The site's built files (`/pkg`: the WASM, its JS and the CSS): a `.br` or `.gz` beside a
/// file is sent instead of it to a browser that accepts it (`cargo leptos … --precompress`
/// writes them in release builds). Hashed names (`hash-files`) change whenever the content
/// does, so they are cached for a year; unhashed ones are revalidated on each use.
fn site_files(options: &leptos::prelude::LeptosOptions) -> Router<AppState> {
    use tower_http::services::ServeDir;
    use tower_http::set_header::SetResponseHeaderLayer;
    let dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let cache = if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    // Only a file found is cached: a name missing now may exist after the next deployment.
    let cache_found = move |res: &axum::response::Response| {
        res.status()
            .is_success()
            .then(|| http::HeaderValue::from_static(cache))
    };
    Router::new()
        .fallback_service(files)
        .layer(SetResponseHeaderLayer::overriding(
            http::header::CACHE_CONTROL,
            cache_found,
        ))
}

pub fn build_router(state: AppState) -> Router {
    telemetry::metrics();
    let routes = generate_route_list(App);
    let body_limit = state.settings.file.limits.request_body_bytes;
    let server = state.settings.file.server.clone();
    let ctx_state = state.clone();
    let (set_request_id, propagate_request_id) = telemetry::request_id_layers();
    let router = Router::new()
        .nest(
            "/api/v1",
            api_routes()
                .into_router()
                .route("/openapi.json", get(openapi_json))
                .fallback(api_not_found)
                .method_not_allowed_fallback(method_not_allowed),
        )
        .nest(
            &format!("/{}", state.leptos_options.site_pkg_dir),
            site_files(&state.leptos_options),
        )
        .merge(super::health::router())
        .route("/metrics", get(metrics_endpoint))
        .route(
            "/rpc/{*fn_name}",
            post(server_fn_handler).get(server_fn_handler),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(ctx_state.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(server_fn_status))
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            server_fn_body_limit,
        ))
        .layer(axum::middleware::from_fn(same_origin_only))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            principal::resolve,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_secs(server.request_seconds.max(1)),
            within_time,
        ))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
            server.body_read_seconds.max(1),
        )))
        .layer(axum::middleware::from_fn(telemetry::track_requests))
        .layer(telemetry::trace_layer())
        .layer(axum::middleware::from_fn(telemetry::with_request_meta))
        .layer(propagate_request_id)
        .layer(set_request_id);
    super::http::with_security_headers(router).with_state(state)
}
