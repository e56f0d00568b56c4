//! The principal: the credentials a request carries — `Authorization: Bearer …`, else the
//! browser's sign-in cookies — resolved once, by the `resolve` middleware, into a [`Principal`]
//! kept in the request's extensions. REST handlers read it through the extractors below, server
//! functions through [`from_context`]; nobody parses a key or a path client by hand.

use super::keys::{authenticate_client, authenticate_operator};
use super::sessions::{self, SessionPerson};
use super::throttle;
use crate::accounts::{Credential, Role, CLIENT_COOKIE, OPERATOR_COOKIE, SESSION_COOKIE};
use crate::core::{AppError, EmployeeId};
use crate::platform::AppState;
use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::time::Duration;

pub use crate::accounts::ClientPrincipal;

/// The credentials of one request, each checked: the operator token and a client API key, when
/// sent. A browser signed in as the operator that went on as a client carries both.
#[derive(Debug, Clone, Default)]
pub struct Principal {
    operator: Option<Result<(), AppError>>,
    client: Option<Result<ClientPrincipal, AppError>>,
    person: Option<SessionPerson>,
}

impl Principal {
    /// The operator, or why not.
    pub fn operator(&self) -> Result<(), AppError> {
        self.operator.clone().unwrap_or_else(|| {
            Err(AppError::unauthorized(
                "missing operator token (sign in as the operator, or send Authorization: Bearer …)",
            ))
        })
    }

    /// The client, or why not.
    pub fn client(&self) -> Result<ClientPrincipal, AppError> {
        self.client.clone().unwrap_or_else(|| {
            Err(AppError::unauthorized(
                "missing API key (sign in with your client API key, or send Authorization: Bearer …)",
            ))
        })
    }

    /// The person whose session the request carries, when it carries a live one.
    pub fn person(&self) -> Option<&SessionPerson> {
        self.person.as_ref()
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.operator, Some(Ok(())))
    }

    /// Whether a credential it carried was wrong (not merely absent, nor a suspended client's).
    pub fn failed(&self) -> bool {
        let any_ok = matches!(self.operator, Some(Ok(()))) || matches!(self.client, Some(Ok(_)));
        let wrong = |e: Option<&AppError>| matches!(e, Some(AppError::Unauthorized { .. }));
        !any_ok
            && (wrong(self.operator.as_ref().and_then(|r| r.as_ref().err()))
                || wrong(self.client.as_ref().and_then(|r| r.as_ref().err())))
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Checks an operator token.
pub fn check_operator(state: &AppState, token: &str) -> Result<(), AppError> {
    authenticate_operator(state.settings.admin_token.as_ref(), token)
}

/// Checks a client API key.
pub async fn check_client(state: &AppState, key: &str) -> Result<ClientPrincipal, AppError> {
    let ttl = Duration::from_secs(state.settings.file.limits.api_key_cache_seconds);
    authenticate_client(&state.pool, &state.keys, &state.secrets, ttl, key).await
}

/// Resolves what the request carries: a bearer token stands alone; without one, the cookies.
pub async fn resolve_headers(state: &AppState, headers: &http::HeaderMap) -> Principal {
    if let Some(token) = bearer(headers) {
        // A client key (`wfk_…`) is checked as one; anything else only as the operator token.
        return if token.starts_with("wfk_") {
            Principal {
                operator: Some(Err(AppError::unauthorized(
                    "missing or invalid operator token",
                ))),
                client: Some(check_client(state, token).await),
                person: None,
            }
        } else {
            Principal {
                operator: Some(check_operator(state, token)),
                client: Some(Err(AppError::unauthorized("missing or invalid API key"))),
                person: None,
            }
        };
    }
    let mut operator = cookie(headers, OPERATOR_COOKIE).map(|t| check_operator(state, t));
    let mut client = match cookie(headers, CLIENT_COOKIE) {
        Some(key) => Some(check_client(state, key).await),
        None => None,
    };
    // A person's session stands for them: the operator, or one client's owner, admin or member.
    // A session that has ended is no credential at all (the browser is simply signed out).
    let person = match cookie(headers, SESSION_COOKIE) {
        Some(token) => match sessions::resolve(state, token).await {
            Ok(p) => p,
            Err(e) => {
                client = Some(Err(e));
                None
            }
        },
        None => None,
    };
    if let Some(p) = &person {
        match (&p.client_id, p.role) {
            (None, Role::Operator) => operator = Some(Ok(())),
            (Some(client_id), role) => {
                client = Some(if p.client_active {
                    Ok(ClientPrincipal {
                        client_id: client_id.clone(),
                        credential: Credential::Person {
                            id: p.user_id.clone(),
                            role,
                        },
                        tier: p.tier.clone(),
                        scopes: role.scopes(),
                        employees: (role == Role::Member).then(|| p.employee_ids.clone()),
                    })
                } else {
                    Err(AppError::Forbidden {
                        message: "this client is suspended".into(),
                    })
                });
            }
            _ => {}
        }
    }
    Principal {
        operator,
        client,
        person,
    }
}

/// Middleware: resolves the principal once and keeps it in the request's extensions; the
/// client's id goes on the request's span.
///
/// Credentials that fail are throttled per IP address (`limits.auth_failure_*`): once an
/// address has used up its failures, its requests carrying credentials get 429 before anything
/// is checked. A client's API and server-function requests draw on its tier's rate limits, per
/// client and per key (429 with `Retry-After` past them).
pub async fn resolve(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = throttle::client_ip(req.extensions());
    let carries_credentials = bearer(req.headers()).is_some()
        || cookie(req.headers(), OPERATOR_COOKIE).is_some()
        || cookie(req.headers(), CLIENT_COOKIE).is_some()
        || cookie(req.headers(), SESSION_COOKIE).is_some();
    if carries_credentials {
        if let Err(e) = throttle::before_attempt(&state, &ip, None).await {
            return e.into_response();
        }
    }
    let mut principal = resolve_headers(&state, req.headers()).await;
    if principal.failed() {
        throttle::failed_attempt(&state, &ip, None).await;
    }
    // The operator on a client's own route acts under that client's support grant, or not at all
    // (a request carrying a client's own valid credentials is that client's).
    if principal.is_operator() && !matches!(principal.client, Some(Ok(_))) {
        if let Some(client) = super::support::client_of_path(req.uri().path()) {
            principal.client = Some(super::support::operator_principal(&state, &client).await);
        }
    }
    if let Some(Ok(who)) = &principal.client {
        tracing::Span::current().record("client_id", who.client_id.as_str());
        let path = req.uri().path();
        if path.starts_with("/api/") || path.starts_with("/rpc/") {
            if let Err(e) = throttle::rate_limit(&state, who).await {
                return e.into_response();
            }
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

fn principal_of(parts: &Parts) -> Principal {
    parts
        .extensions
        .get::<Principal>()
        .cloned()
        .unwrap_or_default()
}

/// The principal of the request a server function is serving.
pub fn from_context() -> Principal {
    leptos::prelude::use_context::<Parts>()
        .map(|p| principal_of(&p))
        .unwrap_or_default()
}

/// For a server function: the state and the signed-in client. The pages act for the whole
/// client, so signing in to them takes a key with the `admin` scope, bound to no employee.
pub fn client_in_context() -> Result<(AppState, ClientPrincipal), AppError> {
    let state = crate::platform::fns::state()?;
    let who = from_context().client()?;
    who.authorize(crate::accounts::Scope::Admin, None)
        .map_err(|message| AppError::Forbidden { message })?;
    Ok((state, who))
}

/// For a server function listing what `scope` reads: the state and the signed-in caller, who
/// may be limited to some employees (the listing then shows those alone).
pub fn listing_in_context(
    scope: crate::accounts::Scope,
) -> Result<(AppState, ClientPrincipal), AppError> {
    let state = crate::platform::fns::state()?;
    let who = from_context().client()?;
    who.authorize_scope(scope)
        .map_err(|message| AppError::Forbidden { message })?;
    Ok((state, who))
}

/// For a server function about one employee: the state, the signed-in caller, and the employee
/// (`raw`, one of the caller's client's), once the policy allows `scope` on it. Members reach
/// the employees given to them this way.
pub fn employee_in_context(
    scope: crate::accounts::Scope,
    raw: &str,
) -> Result<(AppState, ClientPrincipal, EmployeeId), AppError> {
    let state = crate::platform::fns::state()?;
    let who = from_context().client()?;
    let id = employee_id(&who, raw)?;
    who.authorize(scope, Some(&id))
        .map_err(|message| AppError::Forbidden { message })?;
    Ok((state, who, id))
}

/// For a server function: the state, once the operator is signed in.
pub fn operator_in_context() -> Result<AppState, AppError> {
    let state = crate::platform::fns::state()?;
    from_context().operator()?;
    Ok(state)
}

/// Extractor: the operator.
pub struct OperatorAuth;

impl<S: Send + Sync> FromRequestParts<S> for OperatorAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        principal_of(parts).operator().map(|()| OperatorAuth)
    }
}

/// The path's named parameters; a path that does not parse is a resource that does not exist.
async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<HashMap<String, String>, AppError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map(|Path(p)| p)
        .map_err(|_| AppError::not_found("resource"))
}

/// The path's client must be the caller's; another client's id answers exactly like a missing
/// one.
fn check_path_client(
    who: &ClientPrincipal,
    params: &HashMap<String, String>,
) -> Result<(), AppError> {
    match params.get("client_id") {
        Some(c) if c == who.client_id.as_str() => Ok(()),
        _ => Err(AppError::not_found("client")),
    }
}

/// An employee id of the caller's client; anything else is a missing employee.
pub fn employee_id(who: &ClientPrincipal, raw: &str) -> Result<EmployeeId, AppError> {
    EmployeeId::parse(raw)
        .filter(|id| id.client_id() == who.client_id)
        .ok_or_else(|| AppError::not_found("employee"))
}

/// The policy's verdict on a request: the route's scope (`policy::required_scope`), and the
/// employee it is about. A refusal is 403 naming what is missing.
fn authorize(
    who: &ClientPrincipal,
    parts: &Parts,
    employee: Option<&EmployeeId>,
) -> Result<(), AppError> {
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or(parts.uri.path(), MatchedPath::as_str);
    let scope = super::policy::required_scope(&parts.method, route);
    // The list of employees: a caller limited to some sees those alone (the list is filtered).
    let listing = parts.method == http::Method::GET
        && route.strip_prefix("/api/v1") == Some(crate::platform::http::EMPLOYEES);
    if listing && employee.is_none() {
        who.authorize_scope(scope)
    } else {
        who.authorize(scope, employee)
    }
    .map_err(|message| AppError::Forbidden { message })
}

/// Extractor: a client acting on its own `/clients/{client_id}` path, with the scope the route
/// needs.
pub struct ClientPath(pub ClientPrincipal);

impl FromRequestParts<AppState> for ClientPath {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = principal_of(parts).client()?;
        let params = path_params(parts, state).await?;
        check_path_client(&who, &params)?;
        authorize(&who, parts, None)?;
        record_support_use(state, &who, parts).await?;
        Ok(ClientPath(who))
    }
}

/// Extractor: a client acting on one of its employees, `/clients/{client_id}/employees/{employee_id}`,
/// with the scope the route needs (and, for a key bound to an employee, on that one).
pub struct EmployeePath(pub ClientPrincipal, pub EmployeeId);

impl FromRequestParts<AppState> for EmployeePath {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = principal_of(parts).client()?;
        let params = path_params(parts, state).await?;
        check_path_client(&who, &params)?;
        let id = employee_id(&who, params.get("employee_id").map_or("", String::as_str))?;
        authorize(&who, parts, Some(&id))?;
        record_support_use(state, &who, parts).await?;
        Ok(EmployeePath(who, id))
    }
}

/// A request the operator makes under a support grant, once the policy allowed it, goes into
/// the client's audit trail before anything is read.
async fn record_support_use(
    state: &AppState,
    who: &ClientPrincipal,
    parts: &Parts,
) -> Result<(), AppError> {
    if let Credential::Support { expires_at } = &who.credential {
        // The path as requested (under a nested router, `parts.uri` lacks the prefix).
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(parts.uri.path(), |u| u.0.path());
        super::support::record_use(state, who, *expires_at, parts.method.as_str(), path).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_cookies_are_read() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Basic abc"),
        );
        assert_eq!(bearer(&h), None);
        h.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("a=1; wf_client_key=wfk_x; b=2"),
        );
        assert_eq!(cookie(&h, CLIENT_COOKIE), Some("wfk_x"));
        assert_eq!(cookie(&h, OPERATOR_COOKIE), None);
    }

    #[test]
    fn a_missing_credential_is_a_401_naming_what_to_send() {
        let p = Principal::default();
        assert_eq!(p.client().expect_err("none").status(), 401);
        assert_eq!(p.operator().expect_err("none").status(), 401);
        assert!(!p.is_operator());
    }
}
