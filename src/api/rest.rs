//! The REST API at the seed's paths (`/api/v1/employees/...`), plus `/healthz` and `/readyz`.
//! Every error is `{"error": {"code", "message", "fields"?}}` with the status of `AppError`.

use crate::domain::*;
use crate::server::auth::{self, ClientPrincipal};
use crate::server::interact;
use crate::server::repo;
use crate::server::service;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::collections::HashMap;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({ "code": self.code(), "message": self.to_string() });
        if let Some(fields) = self.fields() {
            body["fields"] = json!(fields);
        }
        if let AppError::Internal { ref_id } = &self {
            body["ref_id"] = json!(ref_id);
        }
        let mut res = (status, Json(json!({ "error": body }))).into_response();
        let retry = match &self {
            AppError::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            AppError::Unavailable { .. } => Some(1),
            _ => None,
        };
        if let Some(secs) = retry {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

// ---- extractors -------------------------------------------------------------------------------

/// A JSON body read strictly: `application/json` only, syntax errors → 400, a wrong type, a
/// missing or an unknown field → 422 naming the field.
pub struct ApiJson<T>(pub T);

fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

fn join_path(path: &str, field: &str) -> String {
    if path.is_empty() || path == "." {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// A typed-deserialization error → 422 naming the offending field.
fn json_error(err: serde_path_to_error::Error<serde_json::Error>) -> AppError {
    let path = err.path().to_string();
    let msg = strip_position(&err.into_inner().to_string()).to_owned();
    // The path of an unknown field already ends with it; a missing one is not in it yet.
    let missing = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next());
    let field = match missing {
        Some(f) => join_path(&path, f),
        None if path == "." || path.is_empty() => "body".into(),
        None => path,
    };
    AppError::field(field, msg)
}

/// Syntax first, over the whole body (400), then shape and types (422 naming the field).
/// Every body this API accepts is a JSON object.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        AppError::bad_request(format!("invalid JSON: {}", strip_position(&e.to_string())))
    })?;
    if !value.is_object() {
        return Err(AppError::field("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(json_error)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(mime == "application/json"
            || (mime.starts_with("application/") && mime.ends_with("+json")))
        {
            return Err(AppError::UnsupportedMediaType {
                message: "send the body as application/json".into(),
            });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(ref inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                AppError::PayloadTooLarge {
                    message: "the request body is too large".into(),
                }
            }
            other => AppError::bad_request(other.body_text()),
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Path parameters; a path that does not parse is a resource that does not exist.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|_| AppError::not_found("resource"))
    }
}

/// A client authenticated by `Authorization: Bearer <client API key>`.
pub struct ClientAuth(pub ClientPrincipal);

impl FromRequestParts<AppState> for ClientAuth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = auth::bearer(&parts.headers)
            .ok_or_else(|| AppError::unauthorized("missing API key (Authorization: Bearer …)"))?;
        auth::authenticate_client(state, key).await.map(ClientAuth)
    }
}

/// The operator, authenticated by `Authorization: Bearer <admin token>`.
pub struct OperatorAuth;

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = auth::bearer(&parts.headers).ok_or_else(|| {
            AppError::unauthorized("missing operator token (Authorization: Bearer …)")
        })?;
        auth::authenticate_operator(state, token).map(|_| OperatorAuth)
    }
}

// ---- handlers ---------------------------------------------------------------------------------

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let pg = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await;
    let pg_ok = matches!(pg, Ok(Ok(_)));
    let redis_ok = state.cache.ping().await;
    let state_of = |ok: bool| if ok { "up" } else { "down" };
    let status = if pg_ok && redis_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if pg_ok && redis_ok { "ready" } else { "not_ready" },
        "postgres": state_of(pg_ok),
        "redis": state_of(redis_ok),
    });
    (status, Json(body)).into_response()
}

async fn onboard_client(
    State(state): State<AppState>,
    _op: OperatorAuth,
    ApiJson(info): ApiJson<ClientInfo>,
) -> Result<(StatusCode, Json<OnboardedClient>), AppError> {
    let onboarded = service::onboard_client(&state, &info).await?;
    Ok((StatusCode::CREATED, Json(onboarded)))
}

async fn list_clients(
    State(state): State<AppState>,
    _op: OperatorAuth,
) -> Result<Json<serde_json::Value>, AppError> {
    let clients = service::list_clients(&state).await?;
    Ok(Json(json!({ "clients": clients })))
}

async fn get_client(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Json<Client>, AppError> {
    service::check_path_client(&who, &client_id)?;
    Ok(Json(service::get_client(&state, &who).await?))
}

async fn create_employee(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath(client_id): ApiPath<String>,
    body: Result<ApiJson<EmployeeRequirements>, AppError>,
) -> Result<(StatusCode, Json<Employee>), AppError> {
    // The path is checked before the body so that another client's path is a 404 whatever it carries.
    service::check_path_client(&who, &client_id)?;
    let ApiJson(req) = body?;
    let employee = service::create_employee(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(employee)))
}

async fn list_employees(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath(client_id): ApiPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Employee>>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let status = match query.get("status").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(EmployeeStatus::parse(s).ok_or_else(|| {
            AppError::field(
                "status",
                format!("must be one of: {}", EmployeeStatus::expected()),
            )
        })?),
    };
    Ok(Json(service::list_employees(&state, &who, status).await?))
}

async fn get_employee(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id)): ApiPath<(String, String)>,
) -> Result<Json<Employee>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    Ok(Json(service::get_employee(&state, &who, &id).await?))
}

async fn update_employee(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id)): ApiPath<(String, String)>,
    body: Result<ApiJson<EmployeeUpdate>, AppError>,
) -> Result<Json<Employee>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    let ApiJson(update) = body?;
    Ok(Json(
        service::update_employee(&state, &who, &id, &update).await?,
    ))
}

async fn delete_employee(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, AppError> {
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    service::delete_employee(&state, &who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn lifecycle(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id, action)): ApiPath<(String, String, String)>,
) -> Result<Json<Employee>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let action = LifecycleAction::parse(&action).ok_or_else(|| AppError::not_found("action"))?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    Ok(Json(
        service::change_status(&state, &who, &id, action).await?,
    ))
}

async fn employee_audit(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id)): ApiPath<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    let mut tx = crate::server::db::tenant_tx(&state.pool, &who.client_id).await?;
    let audit = repo::audit_for_entity(&mut tx, &who.client_id, id.as_str()).await?;
    let history = repo::status_history(&mut tx, &who.client_id, &id).await?;
    tx.commit().await?;
    if audit.is_empty() {
        return Err(AppError::not_found("employee"));
    }
    Ok(Json(json!({ "events": audit, "status_history": history })))
}

fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, AppError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| AppError::field("Idempotency-Key", "must be visible ASCII"))?,
        ),
    };
    interact::check_idempotency_key(key)
}

fn wants_stream(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|m| m.trim().starts_with("text/event-stream"))
        })
}

/// `POST …/interact`: JSON, or Server-Sent Events when the client accepts `text/event-stream`.
async fn interact(
    state: State<AppState>,
    who: ClientAuth,
    path: ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Result<ApiJson<InteractionRequest>, AppError>,
) -> Result<Response, AppError> {
    if wants_stream(&headers) {
        return interact_stream(state, who, path, headers, body).await;
    }
    let (State(state), ClientAuth(who), ApiPath((client_id, employee_id))) = (state, who, path);
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    let ApiJson(req) = body?;
    let key = idempotency_key(&headers)?;
    Ok(Json(interact::interact(&state, &who, &id, &req, key).await?).into_response())
}

/// `POST …/interact/stream`: the answer as Server-Sent Events — `token` events with
/// `{"text"}`, then `done` with the same body `…/interact` returns, or `error`.
async fn interact_stream(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id)): ApiPath<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Result<ApiJson<InteractionRequest>, AppError>,
) -> Result<Response, AppError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    let ApiJson(req) = body?;
    let key = idempotency_key(&headers)?;
    let rx = interact::interact_stream(&state, &who, &id, &req, key).await?;
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let event = match rx.recv().await? {
            interact::StreamEvent::Token(text) => Event::default()
                .event("token")
                .data(json!({ "text": text }).to_string()),
            interact::StreamEvent::Done(r) => {
                Event::default().event("done").data(json!(r).to_string())
            }
            interact::StreamEvent::Failed(e) => Event::default().event("error").data(
                json!({ "error": { "code": e.code(), "message": e.to_string() } }).to_string(),
            ),
        };
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn memory(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id)): ApiPath<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") => 10,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| AppError::field("limit", "must be a whole number from 1 to 100"))?,
    };
    let memory = match query.get("query").map(|q| q.trim()) {
        Some(q) if q.chars().count() > 4000 => {
            return Err(AppError::field("query", "must be at most 4000 characters"))
        }
        Some(q) if !q.is_empty() => interact::semantic_memory(&state, &who, &id, q, limit).await?,
        _ => interact::recent_memory(&state, &who, &id, limit).await?,
    };
    Ok(Json(json!({ "memory": memory })))
}

fn usage_body(by_model: Vec<repo::ModelUsage>) -> serde_json::Value {
    let sum = |f: fn(&repo::ModelUsage) -> i64| by_model.iter().map(f).sum::<i64>();
    let (p, c) = (sum(|u| u.prompt_tokens), sum(|u| u.completion_tokens));
    json!({
        "interactions": sum(|u| u.completed),
        "failed": sum(|u| u.failed),
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        "by_model": by_model,
    })
}

/// `GET …/employees/{employee_id}/usage`: tokens and turns of one employee, per model.
async fn employee_usage(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath((client_id, employee_id)): ApiPath<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let id = service::parse_employee_id(&who, &employee_id)?;
    let mut tx = crate::server::db::tenant_tx(&state.pool, &who.client_id).await?;
    repo::get_employee(&mut tx, &who.client_id, &id, false)
        .await?
        .ok_or_else(|| AppError::not_found("employee"))?;
    let by_model = repo::usage_by_model(&mut tx, &who.client_id, Some(&id)).await?;
    tx.commit().await?;
    Ok(Json(usage_body(by_model)))
}

/// `GET /clients/{client_id}/usage`: tokens and turns of all the client's employees, per model.
async fn client_usage(
    State(state): State<AppState>,
    ClientAuth(who): ClientAuth,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    service::check_path_client(&who, &client_id)?;
    let mut tx = crate::server::db::tenant_tx(&state.pool, &who.client_id).await?;
    let by_model = repo::usage_by_model(&mut tx, &who.client_id, None).await?;
    tx.commit().await?;
    Ok(Json(usage_body(by_model)))
}

async fn api_not_found() -> AppError {
    AppError::not_found("endpoint")
}

async fn method_not_allowed() -> Response {
    let mut res = AppError::BadRequest {
        message: "method not allowed on this endpoint".into(),
    }
    .into_response();
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    res
}

/// `/api/v1/...` routes (nested by the caller under `/api/v1`).
pub fn api_routes() -> Router<AppState> {
    let emp = "/employees/clients/{client_id}/employees/{employee_id}";
    Router::new()
        .route("/employees/clients", post(onboard_client).get(list_clients))
        .route("/employees/clients/{client_id}", get(get_client))
        .route(
            "/employees/clients/{client_id}/employees",
            post(create_employee).get(list_employees),
        )
        .route(
            emp,
            get(get_employee)
                .patch(update_employee)
                .delete(delete_employee),
        )
        .route(&format!("{emp}/audit"), get(employee_audit))
        .route(&format!("{emp}/interact"), post(interact))
        .route(&format!("{emp}/interact/stream"), post(interact_stream))
        .route(&format!("{emp}/memory"), get(memory))
        .route(&format!("{emp}/usage"), get(employee_usage))
        .route("/employees/clients/{client_id}/usage", get(client_usage))
        .route(&format!("{emp}/{{action}}"), post(lifecycle))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

pub fn health_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<EmployeeRequirements>(br#"{"role": 5}"#).expect_err("wrong type");
        assert_eq!(e.status(), 422);
        assert!(e.fields().expect("fields").contains_key("role"), "{e:?}");
        let e = parse_json::<EmployeeRequirements>(br#"{"role":"a","industry":"b"}"#)
            .expect_err("missing");
        assert!(
            e.fields()
                .expect("fields")
                .contains_key("communication_style"),
            "{e:?}"
        );
        let e = parse_json::<EmployeeRequirements>(
            br#"{"role":"a","industry":"b","communication_style":"friendly","model_preferences":{"temp":1}}"#,
        )
        .expect_err("unknown nested");
        assert!(
            e.fields()
                .expect("fields")
                .contains_key("model_preferences.temp"),
            "{e:?}"
        );
        let e = parse_json::<EmployeeRequirements>(br#"{"role": "a""#).expect_err("syntax");
        assert_eq!(e.status(), 400);
        let e = parse_json::<EmployeeRequirements>(b"{} trailing").expect_err("trailing");
        assert_eq!(e.status(), 400);
    }
}
