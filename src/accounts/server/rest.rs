//! Accounts over REST.
//! - `…/clients/{client_id}/api-keys` (create, list) and `…/api-keys/{key_id}` (revoke);
//!   `…/invites` (a one-time link for a new person) and `…/members`, `…/members/{user_id}`
//!   (list, change a role or a member's employees, remove): for owners, admins and `admin` keys
//!   (the policy's default for a client route), with owner-only powers checked in `people`.
//! - `/auth/sessions` (sign in: `POST`; sign out everywhere: `DELETE`),
//!   `/auth/sessions/current` (who am I: `GET`; sign out: `DELETE`) and `/auth/invites/accept`:
//!   for people, with the session in an HttpOnly cookie.

use super::people::{self, SignedIn};
use super::principal::{cookie, ClientPath};
use super::sessions;
use super::throttle;
use crate::accounts::{
    AcceptInvite, ApiKeyInfo, CreatedApiKey, CreatedInvite, Member, MemberUpdate, NewApiKey,
    NewInvite, Person, SignIn, SESSION_COOKIE,
};
use crate::core::AppError;
use crate::platform::http::ApiRoutes;
use crate::platform::http::{ApiJson, CLIENT};
use crate::platform::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;

async fn create(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    ApiJson(req): ApiJson<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), AppError> {
    let key = super::keys::create_key(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

async fn list(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<ApiKeyInfo>>, AppError> {
    Ok(Json(super::keys::list_keys(&state, &who).await?))
}

async fn revoke(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    let id = params.get("key_id").map_or("", String::as_str);
    super::keys::revoke_key(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn invite(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    ApiJson(req): ApiJson<NewInvite>,
) -> Result<(StatusCode, Json<CreatedInvite>), AppError> {
    let created = people::create_invite(&state, &who, &req).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn members(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<Member>>, AppError> {
    Ok(Json(people::list_members(&state, &who).await?))
}

async fn update_member(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
    ApiJson(req): ApiJson<MemberUpdate>,
) -> Result<Json<Member>, AppError> {
    let id = params.get("user_id").map_or("", String::as_str);
    Ok(Json(people::update_member(&state, &who, id, &req).await?))
}

async fn remove_member(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    let id = params.get("user_id").map_or("", String::as_str);
    people::remove_member(&state, &who, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's address (for throttling).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(throttle::client_ip(&parts.extensions)))
    }
}

/// A new session's answer: the person (201) and the cookie.
fn session_response(signed: SignedIn, secure: bool) -> Response {
    let max_age = (signed.person.session_expires_at - chrono::Utc::now()).num_seconds();
    let mut res = (StatusCode::CREATED, Json(signed.person)).into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::cookie(&signed.token, max_age, secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn cleared(secure: bool) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&sessions::cookie("", 0, secure)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(req): ApiJson<SignIn>,
) -> Result<Response, AppError> {
    let signed = people::sign_in(&state, &ip, &req).await?;
    start_session(&state, signed, &headers, &uri).await
}

/// 201 with the new session's cookie; the session the browser held (if any) ends, so each
/// sign-in is a new session.
async fn start_session(
    state: &AppState,
    signed: SignedIn,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Response, AppError> {
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        sessions::close(state, old, false).await?;
    }
    Ok(session_response(signed, sessions::over_https(headers, uri)))
}

async fn accept_invite(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    uri: Uri,
    ApiJson(req): ApiJson<AcceptInvite>,
) -> Result<Response, AppError> {
    let signed = people::accept_invite(&state, &ip, &req).await?;
    start_session(&state, signed, &headers, &uri).await
}

/// The session the request carries, or 401.
fn current_person(parts: &Parts) -> Result<(String, sessions::SessionPerson), AppError> {
    let principal = parts
        .extensions
        .get::<super::principal::Principal>()
        .cloned()
        .unwrap_or_default();
    match (cookie(&parts.headers, SESSION_COOKIE), principal.person()) {
        (Some(token), Some(p)) => Ok((token.to_owned(), p.clone())),
        _ => Err(AppError::unauthorized(
            "not signed in (sign in with POST /api/v1/auth/sessions)",
        )),
    }
}

/// Extractor: the signed-in person and their session cookie.
pub struct SignedInPerson(String, sessions::SessionPerson);

impl<S: Send + Sync> FromRequestParts<S> for SignedInPerson {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (token, person) = current_person(parts)?;
        Ok(SignedInPerson(token, person))
    }
}

async fn who_am_i(SignedInPerson(_, p): SignedInPerson) -> Json<Person> {
    Json(p.person())
}

async fn sign_out(
    State(state): State<AppState>,
    SignedInPerson(token, p): SignedInPerson,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    people::sign_out(&state, &token, Some(&p), false).await?;
    Ok(cleared(sessions::over_https(&headers, &uri)))
}

async fn sign_out_everywhere(
    State(state): State<AppState>,
    SignedInPerson(token, p): SignedInPerson,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AppError> {
    people::sign_out(&state, &token, Some(&p), true).await?;
    Ok(cleared(sessions::over_https(&headers, &uri)))
}

/// Routes open to anyone (they are how a person gets a session).
pub const PUBLIC_ROUTES: &[&str] = &["/auth/sessions", "/auth/invites/accept"];

pub fn router() -> ApiRoutes {
    ApiRoutes::new()
        .post(&format!("{CLIENT}/api-keys"), create)
        .get(&format!("{CLIENT}/api-keys"), list)
        .delete(&format!("{CLIENT}/api-keys/{{key_id}}"), revoke)
        .post(&format!("{CLIENT}/invites"), invite)
        .get(&format!("{CLIENT}/members"), members)
        .patch(&format!("{CLIENT}/members/{{user_id}}"), update_member)
        .delete(&format!("{CLIENT}/members/{{user_id}}"), remove_member)
        .post("/auth/sessions", sign_in)
        .delete("/auth/sessions", sign_out_everywhere)
        .get("/auth/sessions/current", who_am_i)
        .delete("/auth/sessions/current", sign_out)
        .post("/auth/invites/accept", accept_invite)
}
