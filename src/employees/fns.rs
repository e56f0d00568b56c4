//! Server functions behind the employee pages.
use super::*;
use crate::core::AppError;
use leptos::prelude::*;

#[server(prefix = "/rpc")]
pub async fn list_employees() -> Result<Vec<Employee>, AppError> {
    // A member (or a key bound to an employee) lists the employees given to them.
    let (state, who) = crate::accounts::server::principal::listing_in_context(
        crate::accounts::Scope::EmployeesRead,
    )
    .or_else(crate::platform::fns::fail)?;
    crate::employees::server::service::list_employees(&state, &who, None)
        .await
        .or_else(crate::platform::fns::fail)
}

/// Creates an employee from requirements (the wizard builds them from its draft).
#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn create_employee(req: EmployeeRequirements) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::employees::server::service::create_employee(&state, &who, &req).await
    }
    .await;
    // The wizard goes on to the employee's page itself (with its "created" notice).
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn get_employee(id: String) -> Result<Employee, AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::EmployeesRead,
            &id,
        )?;
        crate::employees::server::service::get_employee(&state, &who, &id).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Applies a partial update (the page builds it from its form).
#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn update_employee(id: String, update: EmployeeUpdate) -> Result<Employee, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let id = crate::accounts::server::principal::employee_id(&who, &id)?;
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

/// What the configuration wizard offers: the client's models and the one an employee gets when
/// it names none.
#[server(prefix = "/rpc")]
pub async fn load_wizard_options() -> Result<super::wizard::WizardOptions, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let client = crate::clients::server::service::get_client(&state, &who).await?;
        let allowed = client.configuration.allowed_models;
        let default_model =
            super::generator::default_model(&allowed, state.settings.default_model()).to_owned();
        Ok(super::wizard::WizardOptions {
            allowed_models: allowed,
            default_model,
        })
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}
