//! Server functions behind the employee pages.
// Form-backed server functions take one argument per form field.
#![allow(clippy::too_many_arguments)]

use super::*;
#[cfg(feature = "ssr")]
use crate::core::forms::{form_number, opt, split_list};
use crate::core::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc")]
pub async fn list_employees() -> Result<Vec<Employee>, AppError> {
    let (state, who) = crate::accounts::server::principal::client_in_context()
        .or_else(crate::platform::fns::fail)?;
    crate::employees::server::service::list_employees(&state, &who, None)
        .await
        .or_else(crate::platform::fns::fail)
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
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
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
        crate::employees::server::service::create_employee(&state, &who, &req).await
    }
    .await;
    match result {
        Ok(e) => {
            leptos_axum::redirect(&format!("/employees/{}", e.id));
            Ok(e)
        }
        Err(e) => crate::platform::fns::fail(e),
    }
}

#[server(prefix = "/rpc")]
pub async fn get_employee(id: String) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let id = crate::accounts::server::principal::employee_id(&who, &id)?;
        crate::employees::server::service::get_employee(&state, &who, &id).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
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
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let id = crate::accounts::server::principal::employee_id(&who, &id)?;
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
        crate::employees::server::service::update_employee(&state, &who, &id, &update).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn employee_action(id: String, action: String) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let id = crate::accounts::server::principal::employee_id(&who, &id)?;
        let action = LifecycleAction::parse(&action)
            .ok_or_else(|| AppError::field("action", "must be pause, resume or archive"))?;
        crate::employees::server::service::change_status(&state, &who, &id, action).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn delete_employee(id: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let id = crate::accounts::server::principal::employee_id(&who, &id)?;
        crate::employees::server::service::delete_employee(&state, &who, &id).await
    }
    .await;
    match result {
        Ok(()) => {
            leptos_axum::redirect("/dashboard");
            Ok(())
        }
        Err(e) => crate::platform::fns::fail(e),
    }
}
