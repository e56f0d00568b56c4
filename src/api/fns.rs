//! Server functions behind the pages. Each one is thin: authenticate from the session cookie,
//! call the service, map the result. Until logins exist, the browser holds the operator token or
//! a client API key in an HttpOnly, SameSite=Strict cookie set by a sign-in form.
// Form-backed server functions take one argument per form field.
#![allow(clippy::too_many_arguments)]

use crate::domain::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub const OPERATOR_COOKIE: &str = "wf_operator";
pub const CLIENT_COOKIE: &str = "wf_client_key";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub operator: bool,
    pub client: Option<Client>,
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use crate::server::auth::{self, ClientPrincipal};
    use crate::server::AppState;
    use http::header::{COOKIE, SET_COOKIE};
    use http::{HeaderValue, StatusCode};
    use leptos_axum::ResponseOptions;

    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            crate::server::error::internal("server function", &"AppState missing from context")
        })
    }

    pub fn cookie(name: &str) -> Option<String> {
        let parts = use_context::<http::request::Parts>()?;
        parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    pub fn set_cookie(name: &str, value: &str, max_age_secs: u64) {
        if let Some(res) = use_context::<ResponseOptions>() {
            let c = format!(
                "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                res.append_header(SET_COOKIE, v);
            }
        }
    }

    /// Sets the response status of a failed server function to the error's status.
    pub fn fail<T>(e: AppError) -> Result<T, AppError> {
        if let Some(res) = use_context::<ResponseOptions>() {
            res.set_status(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        Err(e)
    }

    pub async fn client() -> Result<(AppState, ClientPrincipal), AppError> {
        let state = state()?;
        let key = cookie(CLIENT_COOKIE)
            .ok_or_else(|| AppError::unauthorized("sign in with your client API key first"))?;
        let who = auth::authenticate_client(&state, &key).await?;
        Ok((state, who))
    }

    pub fn operator() -> Result<AppState, AppError> {
        let state = state()?;
        let token = cookie(OPERATOR_COOKIE)
            .ok_or_else(|| AppError::unauthorized("sign in as the operator first"))?;
        auth::authenticate_operator(&state, &token)?;
        Ok(state)
    }

    pub fn employee_id(who: &ClientPrincipal, raw: &str) -> Result<EmployeeId, AppError> {
        crate::server::service::parse_employee_id(who, raw)
    }
}

/// Splits a comma- or newline-separated form field into trimmed, non-empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A trimmed form field, or `None` when blank.
pub fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// A number field of a form; an unparsable value is a validation error on that field.
pub fn form_number(field: &str, s: &str) -> Result<Option<f64>, AppError> {
    match s.trim() {
        "" => Ok(None),
        v => v
            .parse::<f64>()
            .map(Some)
            .map_err(|_| AppError::field(field, "must be a number")),
    }
}

#[server(prefix = "/rpc")]
pub async fn current_session() -> Result<Session, AppError> {
    use crate::server::auth;
    let state = ssr::state()?;
    let operator = ssr::cookie(OPERATOR_COOKIE)
        .is_some_and(|t| auth::authenticate_operator(&state, &t).is_ok());
    let client = match ssr::cookie(CLIENT_COOKIE) {
        Some(key) => match auth::authenticate_client(&state, &key).await {
            Ok(who) => crate::server::service::get_client(&state, &who).await.ok(),
            Err(_) => None,
        },
        None => None,
    };
    Ok(Session { operator, client })
}

#[server(prefix = "/rpc")]
pub async fn operator_sign_in(token: String) -> Result<(), AppError> {
    let state = ssr::state()?;
    if let Err(e) = crate::server::auth::authenticate_operator(&state, &token) {
        return ssr::fail(e);
    }
    ssr::set_cookie(OPERATOR_COOKIE, token.trim(), 12 * 3600);
    Ok(())
}

#[server(prefix = "/rpc")]
pub async fn client_sign_in(api_key: String) -> Result<Client, AppError> {
    let state = ssr::state()?;
    let result = async {
        let who = crate::server::auth::authenticate_client(&state, &api_key).await?;
        crate::server::service::get_client(&state, &who).await
    }
    .await;
    match result {
        Ok(client) => {
            ssr::set_cookie(CLIENT_COOKIE, api_key.trim(), 12 * 3600);
            leptos_axum::redirect("/dashboard");
            Ok(client)
        }
        Err(e) => ssr::fail(e),
    }
}

#[server(prefix = "/rpc")]
pub async fn sign_out() -> Result<(), AppError> {
    ssr::set_cookie(OPERATOR_COOKIE, "", 0);
    ssr::set_cookie(CLIENT_COOKIE, "", 0);
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/rpc")]
pub async fn tiers() -> Result<Vec<TierInfo>, AppError> {
    Ok(ssr::state()?.settings.tiers())
}

#[server(prefix = "/rpc")]
pub async fn onboard_client(
    name: String,
    industry: String,
    tier: String,
    max_employees: String,
    allowed_models: String,
    security_level: String,
    compliance_requirements: String,
) -> Result<OnboardedClient, AppError> {
    let result = async {
        let state = ssr::operator()?;
        let max_employees = match max_employees.trim() {
            "" => None,
            v => Some(
                v.parse::<u32>()
                    .map_err(|_| AppError::field("max_employees", "must be a whole number"))?,
            ),
        };
        let security_level = match security_level.trim() {
            "" => None,
            v => Some(SecurityLevel::parse(v).ok_or_else(|| {
                AppError::field(
                    "security_level",
                    format!("must be one of: {}", SecurityLevel::expected()),
                )
            })?),
        };
        let models = split_list(&allowed_models);
        let info = ClientInfo {
            name,
            industry: opt(&industry),
            tier,
            max_employees,
            allowed_models: (!models.is_empty()).then_some(models),
            security_level,
            compliance_requirements: Some(split_list(&compliance_requirements)),
        };
        crate::server::service::onboard_client(&state, &info).await
    }
    .await;
    result.or_else(ssr::fail)
}

#[server(prefix = "/rpc")]
pub async fn list_clients() -> Result<Vec<Client>, AppError> {
    let state = ssr::operator().or_else(ssr::fail)?;
    crate::server::service::list_clients(&state)
        .await
        .or_else(ssr::fail)
}

#[server(prefix = "/rpc")]
pub async fn list_employees() -> Result<Vec<Employee>, AppError> {
    let (state, who) = ssr::client().await.or_else(ssr::fail)?;
    crate::server::service::list_employees(&state, &who, None)
        .await
        .or_else(ssr::fail)
}

#[server(prefix = "/rpc")]
pub async fn create_employee(
    name: String,
    role: String,
    industry: String,
    communication_style: String,
    expertise_areas: String,
    tools_needed: String,
    knowledge_domains: String,
    primary_model: String,
) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = ssr::client().await?;
        let req = EmployeeRequirements {
            name: opt(&name),
            role,
            industry,
            expertise_areas: split_list(&expertise_areas),
            communication_style,
            tools_needed: split_list(&tools_needed),
            knowledge_domains: split_list(&knowledge_domains),
            personality_traits: Default::default(),
            model_preferences: opt(&primary_model).map(|m| ModelPreferencesInput {
                primary_model: Some(m),
                ..Default::default()
            }),
        };
        crate::server::service::create_employee(&state, &who, &req).await
    }
    .await;
    match result {
        Ok(e) => {
            leptos_axum::redirect(&format!("/employees/{}", e.id));
            Ok(e)
        }
        Err(e) => ssr::fail(e),
    }
}

#[server(prefix = "/rpc")]
pub async fn get_employee(id: String) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = ssr::client().await?;
        let id = ssr::employee_id(&who, &id)?;
        crate::server::service::get_employee(&state, &who, &id).await
    }
    .await;
    result.or_else(ssr::fail)
}

#[server(prefix = "/rpc")]
pub async fn update_employee(
    id: String,
    name: String,
    role: String,
    industry: String,
    expertise_areas: String,
    communication_style: String,
    formality_level: String,
    expertise_level: String,
    response_length: String,
    creativity_level: String,
    empathy_level: String,
    primary_model: String,
    fallback_models: String,
    temperature: String,
    tool_access: String,
    knowledge_sources: String,
) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = ssr::client().await?;
        let id = ssr::employee_id(&who, &id)?;
        let enum_field = |field: &str, v: &str| -> Result<serde_json::Value, AppError> {
            Ok(serde_json::Value::String(v.trim().to_owned())).and_then(|j| {
                if v.trim().is_empty() {
                    Err(AppError::field(field, "is required"))
                } else {
                    Ok(j)
                }
            })
        };
        let personality: PersonalityPatch = serde_json::from_value(serde_json::json!({
            "communication_style": enum_field("personality.communication_style", &communication_style)?,
            "formality_level": enum_field("personality.formality_level", &formality_level)?,
            "expertise_level": enum_field("personality.expertise_level", &expertise_level)?,
            "response_length": enum_field("personality.response_length", &response_length)?,
            "creativity_level": form_number("personality.creativity_level", &creativity_level)?,
            "empathy_level": form_number("personality.empathy_level", &empathy_level)?,
        }))
        .map_err(|e| AppError::field("personality", e.to_string()))?;
        let update = EmployeeUpdate {
            name: Some(name),
            role: Some(role),
            industry: Some(industry),
            expertise_areas: Some(split_list(&expertise_areas)),
            personality: Some(personality),
            model_preferences: Some(ModelPreferencesInput {
                primary_model: opt(&primary_model),
                fallback_models: Some(split_list(&fallback_models)),
                temperature: form_number("model_preferences.temperature", &temperature)?,
                ..Default::default()
            }),
            tool_access: Some(split_list(&tool_access)),
            knowledge_sources: Some(split_list(&knowledge_sources)),
        };
        crate::server::service::update_employee(&state, &who, &id, &update).await
    }
    .await;
    result.or_else(ssr::fail)
}

#[server(prefix = "/rpc")]
pub async fn employee_action(id: String, action: String) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = ssr::client().await?;
        let id = ssr::employee_id(&who, &id)?;
        let action = LifecycleAction::parse(&action)
            .ok_or_else(|| AppError::field("action", "must be pause, resume or archive"))?;
        crate::server::service::change_status(&state, &who, &id, action).await
    }
    .await;
    result.or_else(ssr::fail)
}

#[server(prefix = "/rpc")]
pub async fn delete_employee(id: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = ssr::client().await?;
        let id = ssr::employee_id(&who, &id)?;
        crate::server::service::delete_employee(&state, &who, &id).await
    }
    .await;
    match result {
        Ok(()) => {
            leptos_axum::redirect("/dashboard");
            Ok(())
        }
        Err(e) => ssr::fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_fields_split_on_commas_and_lines() {
        assert_eq!(split_list(" a, b ,,\nc\n"), vec!["a", "b", "c"]);
        assert!(split_list("  ").is_empty());
        assert_eq!(form_number("x", " 0.5 "), Ok(Some(0.5)));
        assert!(form_number("x", "lots").is_err());
    }
}

/// One chat turn, streamed to the page as newline-delimited [`ChatEvent`]s: tokens as they are
/// generated, then `done` with the stored interaction (or `error`). The turn is stored even if
/// the page goes away mid-answer.
#[server(prefix = "/rpc", output = leptos::server_fn::codec::StreamingText)]
pub async fn stream_message(
    id: String,
    message: String,
) -> Result<leptos::server_fn::codec::TextStream<AppError>, AppError> {
    let result = async {
        let (state, who) = ssr::client().await?;
        let id = ssr::employee_id(&who, &id)?;
        let req = InteractionRequest {
            message,
            context: None,
            task_type: None,
        };
        let rx = crate::server::interact::interact_stream(&state, &who, &id, &req, None).await?;
        let lines = futures::stream::unfold(rx, |mut rx| async move {
            use crate::server::interact::StreamEvent;
            let event = match rx.recv().await? {
                StreamEvent::Token(t) => ChatEvent::Token(t),
                StreamEvent::Done(r) => ChatEvent::Done(*r),
                StreamEvent::Failed(e) => ChatEvent::Error(e),
            };
            Some((Ok(event.to_line()), rx))
        });
        Ok(leptos::server_fn::codec::TextStream::new(lines))
    }
    .await;
    result.or_else(ssr::fail)
}

#[server(prefix = "/rpc")]
pub async fn recent_memory(id: String) -> Result<Vec<MemoryItem>, AppError> {
    let result = async {
        let (state, who) = ssr::client().await?;
        let id = ssr::employee_id(&who, &id)?;
        crate::server::interact::recent_memory(&state, &who, &id, 50).await
    }
    .await;
    result.or_else(ssr::fail)
}
