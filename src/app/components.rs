//! Small shared pieces of UI.

use crate::core::AppError;
use crate::employees::EmployeeStatus;
use leptos::prelude::*;

pub const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none";
pub const LABEL: &str = "block text-sm font-medium text-slate-700";
pub const BUTTON: &str = "inline-flex items-center rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50";
pub const BUTTON_SECONDARY: &str = "inline-flex items-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50";
pub const BUTTON_DANGER: &str = "inline-flex items-center rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50";
pub const CARD: &str = "rounded-lg border border-slate-200 bg-white p-6 shadow-sm";

/// Shows an error; a validation error lists each invalid field on its own line.
#[component]
pub fn ErrorBox(error: AppError) -> impl IntoView {
    let fields = error.fields().cloned().unwrap_or_default();
    let headline = if fields.is_empty() {
        error.to_string()
    } else {
        "Please correct:".to_owned()
    };
    view! {
        <div role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
            <p class="font-medium">{headline}</p>
            <ul class="mt-1 list-disc pl-5">
                {fields
                    .into_iter()
                    .map(|(f, m)| view! { <li><code>{f}</code>": "{m}</li> })
                    .collect_view()}
            </ul>
        </div>
    }
}

/// The error of a finished action, if any.
pub fn action_error<T, S>(value: S) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    move || match value.get() {
        Some(Err(e)) => Some(view! { <ErrorBox error=e /> }),
        _ => None,
    }
}

#[component]
pub fn StatusBadge(status: EmployeeStatus) -> impl IntoView {
    let class = match status {
        EmployeeStatus::Active => "bg-emerald-100 text-emerald-800",
        EmployeeStatus::Paused => "bg-amber-100 text-amber-800",
        EmployeeStatus::Archived => "bg-slate-200 text-slate-700",
    };
    view! {
        <span
            data-testid="status"
            class=format!("inline-flex rounded-full px-2.5 py-0.5 text-xs font-medium {class}")
        >
            {status.as_str()}
        </span>
    }
}

/// Reads a submitted form as `F` and turns it into what a server function takes; a form that
/// cannot mean anything is put in `error` (and nothing is sent), else `send` gets the value.
pub fn submit_form<F, T>(
    ev: &leptos::ev::SubmitEvent,
    read: impl FnOnce(F) -> Result<T, AppError>,
    error: RwSignal<Option<AppError>>,
    send: impl FnOnce(T),
) where
    F: serde::de::DeserializeOwned,
{
    use leptos::form::FromFormData;
    ev.prevent_default();
    match F::from_event(ev)
        .map_err(|e| AppError::bad_request(e.to_string()))
        .and_then(read)
    {
        Ok(value) => {
            error.set(None);
            send(value);
        }
        Err(e) => error.set(Some(e)),
    }
}

#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(optional, into)] value: String,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    view! {
        <label class="block">
            <span class=LABEL>{label}</span>
            <input class=INPUT type="text" name=name value=value placeholder=placeholder required=required />
        </label>
    }
}

#[component]
pub fn Select(
    label: &'static str,
    name: &'static str,
    options: Vec<String>,
    #[prop(optional, into)] selected: String,
) -> impl IntoView {
    view! {
        <label class="block">
            <span class=LABEL>{label}</span>
            <select class=INPUT name=name>
                {options
                    .into_iter()
                    .map(|o| {
                        let is = o == selected;
                        view! { <option value=o.clone() selected=is>{o.clone()}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}
