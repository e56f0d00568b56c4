//! HTTP plumbing shared by every feature's REST routes: the strict JSON body extractor, the wire
//! error's status and body (`{"error": {"code", "message", "fields"?, "ref_id"?}}`), the path
//! prefixes, and the answers for unknown endpoints and methods.

use crate::core::AppError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

/// The REST paths (under `/api/v1`), as the seed names them.
pub const CLIENTS: &str = "/employees/clients";
pub const CLIENT: &str = "/employees/clients/{client_id}";
pub const EMPLOYEES: &str = "/employees/clients/{client_id}/employees";
pub const EMPLOYEE: &str = "/employees/clients/{client_id}/employees/{employee_id}";

// ---- what the OpenAPI document says of every route ---------------------------------------------

/// Path parameters of a route under one client.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ClientParams {
    /// The client (`client_…`).
    client_id: crate::core::ClientId,
}

/// Path parameters of a route under one employee.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct EmployeeParams {
    /// The client (`client_…`).
    client_id: crate::core::ClientId,
    /// The employee (`client_…_emp_…`); it must belong to that client.
    employee_id: crate::core::EmployeeId,
}

/// Every error has this body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// A stable code: `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `validation`, `limit_exceeded`, `budget_exhausted`, `payload_too_large`,
    /// `unsupported_media_type`, `rate_limited`, `unavailable`, `in_progress` or `internal`.
    code: String,
    /// What went wrong, in words a person understands.
    message: String,
    /// For `validation`: each bad field's path (e.g. `personality.empathy_level`) → what is
    /// wrong with it.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    fields: Option<crate::core::FieldErrors>,
    /// For `internal`: the reference under which the server logged the details.
    ref_id: Option<String>,
}

/// The JSON body of an error: `{"error": {"code", "message", "fields"?, "ref_id"?}}`. The same
/// body goes out as a response and as a streamed `error` event.
pub fn error_body(e: &AppError) -> serde_json::Value {
    let mut body = json!({ "code": e.code(), "message": e.to_string() });
    if let Some(fields) = e.fields() {
        body["fields"] = json!(fields);
    }
    if let AppError::Internal { ref_id } = e {
        body["ref_id"] = json!(ref_id);
    }
    json!({ "error": body })
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, Json(error_body(&self))).into_response();
        let retry = match &self {
            AppError::RateLimited {
                retry_after_secs, ..
            }
            | AppError::InProgress {
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
    if let Some(field) = crate::core::nul_path(&value) {
        return Err(AppError::field(
            field,
            "must not contain NUL characters (\\u0000)",
        ));
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

/// Headers every response carries unless its handler set them: no MIME sniffing, no framing by
/// other sites (`frame-ancestors` and, for older browsers, `X-Frame-Options`), no plugins or
/// `<base>` rewriting, and no full URL sent as the referrer to other sites. (A script-src policy
/// needs the hydration script's nonce; it is not set yet.)
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
) -> axum::Router<S> {
    use tower_http::set_header::SetResponseHeaderLayer;
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    router
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("x-frame-options", "DENY"))
        .layer(header(
            "content-security-policy",
            "frame-ancestors 'none'; object-src 'none'; base-uri 'self'",
        ))
        .layer(header("referrer-policy", "strict-origin-when-cross-origin"))
}

pub async fn api_not_found() -> AppError {
    AppError::not_found("endpoint")
}

pub async fn method_not_allowed() -> Response {
    let mut res = AppError::BadRequest {
        message: "method not allowed on this endpoint".into(),
    }
    .into_response();
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::employees::EmployeeRequirements;

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
        let e = parse_json::<EmployeeRequirements>(
            br#"{"role":"a","industry":"b","communication_style":"friendly","expertise_areas":["x","y\u0000"]}"#,
        )
        .expect_err("NUL");
        assert_eq!(e.status(), 422);
        assert!(
            e.fields()
                .expect("fields")
                .contains_key("expertise_areas[1]"),
            "{e:?}"
        );
    }

    #[test]
    fn an_error_body_keeps_its_fields_and_reference() {
        let v = error_body(&AppError::field("message", "is required"));
        assert_eq!(v["error"]["code"], "validation");
        assert_eq!(v["error"]["fields"]["message"], "is required");
        let i = error_body(&AppError::Internal {
            ref_id: "abc123".into(),
        });
        assert_eq!(i["error"]["ref_id"], "abc123");
        assert!(i["error"].get("fields").is_none());
    }
}

// ---- the REST route table ---------------------------------------------------------------------

/// A feature's REST routes, each registered with its method so the whole API can list itself
/// (the attack suite and `GET /api/v1/routes`-style tooling take the list from here, never
/// from a hand-kept copy). Several methods on one path merge into one route, as in axum.
#[derive(Default)]
pub struct ApiRoutes {
    router: axum::Router<crate::platform::AppState>,
    list: Vec<(http::Method, String)>,
}

macro_rules! api_method {
    ($name:ident, $method:ident) => {
        pub fn $name<H, T>(self, path: &str, handler: H) -> Self
        where
            H: axum::handler::Handler<T, crate::platform::AppState>,
            T: 'static,
        {
            self.add(http::Method::$method, path, axum::routing::$name(handler))
        }
    };
}

impl ApiRoutes {
    pub fn new() -> Self {
        Self::default()
    }

    fn add(
        mut self,
        method: http::Method,
        path: &str,
        route: axum::routing::MethodRouter<crate::platform::AppState>,
    ) -> Self {
        self.router = self.router.route(path, route);
        self.list.push((method, path.to_owned()));
        self
    }

    api_method!(get, GET);
    api_method!(post, POST);
    api_method!(patch, PATCH);
    api_method!(put, PUT);
    api_method!(delete, DELETE);

    /// A POST route whose body may be up to `limit` bytes (the server's `request_body_bytes`
    /// holds for every other route).
    pub fn post_large<H, T>(self, path: &str, handler: H, limit: usize) -> Self
    where
        H: axum::handler::Handler<T, crate::platform::AppState>,
        T: 'static,
    {
        self.add(
            http::Method::POST,
            path,
            axum::routing::post(handler).layer(axum::extract::DefaultBodyLimit::max(limit)),
        )
    }

    pub fn merge(mut self, other: ApiRoutes) -> Self {
        self.router = self.router.merge(other.router);
        self.list.extend(other.list);
        self
    }

    /// The routes as (method, path template).
    pub fn list(&self) -> &[(http::Method, String)] {
        &self.list
    }

    pub fn into_router(self) -> axum::Router<crate::platform::AppState> {
        self.router
    }
}
