//! The REST API's OpenAPI 3.1 document, served at `GET /api/v1/openapi.json` and read by the
//! `/api/docs` page. Each feature's `rest` module describes its own operations (a
//! `#[utoipa::path]` on every handler, gathered in its `Api`); the wire types derive their
//! schemas under `ssr` only. Here the parts are merged, and what every operation shares is
//! added once: the error body, the error responses and the two ways to authenticate.
//!
//! Like `startup`, this is a composition root: it knows every feature's `rest` module.
//!
//! `tests/it/openapi.rs` fails when the router serves a route this document lacks.

use super::http::{ErrorBody, ErrorDetail};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The error responses any operation may give, by status, with when each happens.
const COMMON_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "The request is malformed (e.g. its JSON does not parse).",
    ),
    ("401", "No credentials, or credentials that are not valid."),
    (
        "403",
        "The credentials are valid but may not do this (role or key scope).",
    ),
    ("404", "No such resource for this client, or a foreign one."),
    ("413", "The body is larger than the server accepts."),
    ("415", "The body is not `application/json`."),
    (
        "422",
        "A field is missing, has the wrong type or a value out of range; `fields` names each.",
    ),
    (
        "429",
        "Too many requests; `Retry-After` says when to try again.",
    ),
    (
        "500",
        "An internal error; `ref_id` names the server's log entry.",
    ),
    (
        "503",
        "A dependency is briefly unavailable; `Retry-After` says when to try again.",
    ),
];

struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A client API key (`wfk_<key id>_<secret>`), or the operator token.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::accounts::SESSION_COOKIE,
                "A person's session, set by `POST /api/v1/auth/sessions`.",
            ))),
        );
        for (status, why) in COMMON_ERRORS {
            components.responses.insert(
                format!("Error{status}"),
                ResponseBuilder::new()
                    .description(*why)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build()
                    .into(),
            );
        }
        let authenticated = vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ];
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_shared(op, &authenticated);
            }
        }
    }
}

/// Adds the error responses an operation does not describe itself, and the default security
/// (an operation that needs none says `security(())`).
fn add_shared(op: &mut Operation, authenticated: &[SecurityRequirement]) {
    for (status, _) in COMMON_ERRORS {
        op.responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| Ref::from_response_name(format!("Error{status}")).into());
    }
    if op.security.is_none() {
        op.security = Some(authenticated.to_vec());
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "workforce",
        description = "Hire AI employees: onboard clients, create employees, talk to them, \
                       read and erase their memory, and audit all of it. Every path is under \
                       `/api/v1`. Authenticate with `Authorization: Bearer <client API key or \
                       operator token>`, or with the `wf_session` cookie a person's sign-in \
                       sets. Every error is `{\"error\": {\"code\", \"message\", \"fields\"?}}`."
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "clients", description = "Onboarding, suspending and reactivating clients (the operator)."),
        (name = "accounts", description = "Sign-in, sessions, invites, members and API keys."),
        (name = "employees", description = "Creating employees from requirements, and their lifecycle."),
        (name = "conversations", description = "Talking to an employee, whole or streamed."),
        (name = "memory", description = "What an employee remembers, and erasing it."),
        (name = "usage", description = "Turns, tokens, budgets and limits."),
        (name = "audit", description = "The hash-chained audit trail: read, verify, export."),
        (name = "tools", description = "The client's tool catalogue: built-in and HTTP tools its employees may call."),
        (name = "knowledge", description = "The client's knowledge: collections of documents, uploaded and ingested in the background."),
    )
)]
struct Base;

/// The whole document.
pub fn document() -> Document {
    let mut doc = Base::openapi();
    for part in [
        crate::clients::server::rest::Api::openapi(),
        crate::accounts::server::rest::Api::openapi(),
        crate::employees::server::rest::Api::openapi(),
        crate::conversations::server::rest::Api::openapi(),
        crate::memory::server::rest::Api::openapi(),
        crate::usage::server::rest::Api::openapi(),
        crate::audit::server::rest::Api::openapi(),
        crate::tools::server::rest::Api::openapi(),
        crate::knowledge::server::rest::Api::openapi(),
    ] {
        doc.merge(part);
    }
    Shared.modify(&mut doc);
    doc
}

/// The document as served: built once.
pub fn json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| document().to_json().unwrap_or_else(|_| "{}".to_owned()))
}
