//! The dashboard (a client's employees), creating an employee, and one employee's page with
//! edit and lifecycle buttons.

use super::fns::*;
use super::*;
use crate::app::components::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

#[component]
pub fn EmployeePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let action = ServerAction::<EmployeeAction>::new();
    let delete = ServerAction::<DeleteEmployee>::new();
    let employee = Resource::new(
        move || (id(), action.version().get()),
        |(id, _)| get_employee(id),
    );
    // Where the wizard sends the person once it has stored their work.
    let done = move || match use_query_map().read().get("done").as_deref() {
        Some("created") => Some("Employee created. It is ready to chat."),
        Some("saved") => Some("Changes saved."),
        _ => None,
    };
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/dashboard", Default::default());
        }
    });

    view! {
        <Title text="Employee" />
        <p class="mb-4 text-sm"><A href="/dashboard" attr:class="text-indigo-700 hover:underline">"← Dashboard"</A></p>
        {move || done().map(|text| view! {
            <p role="status" class="mb-4 rounded-md border border-emerald-200 bg-emerald-50 p-3 text-sm text-emerald-800" data-testid="done">{text}</p>
        })}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match employee.await {
                    Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    Ok(e) => view! { <EmployeeView e action delete /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EmployeeView(
    e: Employee,
    action: ServerAction<EmployeeAction>,
    delete: ServerAction<DeleteEmployee>,
) -> impl IntoView {
    let id = e.id.to_string();
    let p = e.personality.clone();
    let m = e.model_preferences.clone();
    let archived = e.status == EmployeeStatus::Archived;
    // The same pure builder the server runs for every turn.
    let prompt = crate::conversations::prompt::system_prompt(&e);
    let sampling = crate::conversations::prompt::generation_settings(&e);
    let delete_id = id.clone();
    let lifecycle_button = {
        let id = id.clone();
        move |act: LifecycleAction, label: &'static str| {
            let allowed = act.apply(e.status).is_ok();
            let id = id.clone();
            allowed.then(move || {
                view! {
                    <ActionForm action=action>
                        <input type="hidden" name="id" value=id />
                        <input type="hidden" name="action" value=act.as_str() />
                        <button
                            class=BUTTON_SECONDARY
                            type="submit"
                            on:click=move |ev| {
                                if act == LifecycleAction::Archive
                                    && !confirmed("Archive this employee? It stops answering for good and can no longer be edited.")
                                {
                                    ev.prevent_default();
                                }
                            }
                        >
                            {label}
                        </button>
                    </ActionForm>
                }
            })
        }
    };
    view! {
        <Title text=e.name.clone() />
        <div class="space-y-6">
            <div class=CARD>
                <div class="flex flex-wrap items-center gap-3">
                    <h1 class="text-2xl font-semibold" data-testid="employee-name">{e.name.clone()}</h1>
                    <StatusBadge status=e.status />
                    <div class="flex flex-wrap gap-2 sm:ml-auto">
                        <A href=format!("/employees/{}/chat", e.id) attr:class=BUTTON>"Chat"</A>
                        <A href=format!("/employees/{}/memory", e.id) attr:class=BUTTON_SECONDARY>"Memory"</A>
                        {(!archived).then(|| view! { <A href=format!("/employees/{}/edit", e.id) attr:class=BUTTON_SECONDARY>"Edit"</A> })}
                        {lifecycle_button(LifecycleAction::Pause, "Pause")}
                        {lifecycle_button(LifecycleAction::Resume, "Resume")}
                        {lifecycle_button(LifecycleAction::Archive, "Archive")}
                        <ActionForm action=delete>
                            <input type="hidden" name="id" value=delete_id />
                            <button
                                class=BUTTON_DANGER
                                type="submit"
                                on:click=move |ev| {
                                    if !confirmed("Delete this employee and everything it remembers? This cannot be undone.") {
                                        ev.prevent_default();
                                    }
                                }
                            >
                                "Delete"
                            </button>
                        </ActionForm>
                    </div>
                </div>
                <p class="mt-1 text-sm text-slate-500">{format!("{} · {}", e.role, e.industry)}</p>
                <dl class="mt-4 grid grid-cols-2 gap-x-6 gap-y-2 text-sm md:grid-cols-3">
                    <div><dt class="text-slate-500">"Language"</dt><dd>{language::display_name(&e.language)}</dd></div>
                    <div><dt class="text-slate-500">"Style"</dt><dd>{p.communication_style.to_string()}</dd></div>
                    <div><dt class="text-slate-500">"Formality"</dt><dd>{p.formality_level.to_string()}</dd></div>
                    <div><dt class="text-slate-500">"Expertise"</dt><dd>{p.expertise_level.to_string()}</dd></div>
                    <div><dt class="text-slate-500">"Length"</dt><dd>{p.response_length.to_string()}</dd></div>
                    <div><dt class="text-slate-500">"Creativity"</dt><dd>{format!("{:.2}", p.creativity_level)}</dd></div>
                    <div><dt class="text-slate-500">"Empathy"</dt><dd>{format!("{:.2}", p.empathy_level)}</dd></div>
                    <div><dt class="text-slate-500">"Model"</dt><dd>{m.primary_model.clone()}</dd></div>
                    <div><dt class="text-slate-500">"Fallbacks"</dt><dd>{m.fallback_models.join(", ")}</dd></div>
                    <div><dt class="text-slate-500">"Temperature / max tokens"</dt><dd>{format!("{:.2} / {}", m.temperature, m.max_tokens)}</dd></div>
                    <div><dt class="text-slate-500">"Tools"</dt><dd>{e.tool_access.join(", ")}</dd></div>
                    <div class="col-span-2"><dt class="text-slate-500">"Knowledge"</dt><dd>{e.knowledge_sources.join(", ")}</dd></div>
                </dl>
                <details class="mt-4 text-sm" data-testid="system-prompt">
                    <summary class="cursor-pointer font-medium text-slate-700">"The system prompt this personality produces"</summary>
                    <p class="mt-2 text-xs text-slate-500">
                        {format!("Sent to the model before every conversation, with temperature {:.2} and at most {} tokens per answer.", sampling.0, sampling.1)}
                    </p>
                    <pre class="mt-2 whitespace-pre-wrap break-words rounded-md bg-slate-50 p-3 font-mono text-xs">{prompt}</pre>
                </details>
                {action_error(action.value())}
                {action_error(delete.value())}
            </div>
        </div>
    }
}

/// An employee's row on the dashboard, with its activity and the quick actions.
#[component]
fn EmployeeRow(
    e: Employee,
    activity: Option<crate::usage::EmployeeActivity>,
    action: ServerAction<EmployeeAction>,
    manage: bool,
) -> impl IntoView {
    let turns = activity.as_ref().map_or(0, |a| a.turns_this_month);
    let last = activity.and_then(|a| a.last_at);
    let id = e.id.to_string();
    let name = e.name.clone();
    let quick = match e.status {
        EmployeeStatus::Active => Some((LifecycleAction::Pause, "Pause")),
        EmployeeStatus::Paused => Some((LifecycleAction::Resume, "Resume")),
        EmployeeStatus::Archived => None,
    };
    view! {
        <tr data-testid="employee-row">
            <td class="break-words px-3 py-2 sm:px-4">
                <A href=format!("/employees/{id}") attr:class="font-medium text-indigo-700 hover:underline">{e.name}</A>
                <span class="block text-xs text-slate-500">{e.role}</span>
            </td>
            <td class="hidden break-words px-4 py-2 md:table-cell">{e.model_preferences.primary_model.clone()}</td>
            <td class="px-3 py-2 text-right sm:px-4" data-testid="turns-this-month">{turns}</td>
            <td class="hidden px-4 py-2 text-xs text-slate-600 lg:table-cell" data-testid="last-activity">
                {match last {
                    Some(t) => view! { <time datetime=t.to_rfc3339()>{t.format("%Y-%m-%d %H:%M UTC").to_string()}</time> }.into_any(),
                    None => view! { <span>"never"</span> }.into_any(),
                }}
            </td>
            <td class="px-3 py-2 sm:px-4"><StatusBadge status=e.status /></td>
            <td class="hidden px-4 py-2 sm:table-cell">
                <div class="flex justify-end gap-2">
                    {(e.status == EmployeeStatus::Active).then(|| view! {
                        <A href=format!("/employees/{id}/chat") attr:class=BUTTON_SECONDARY>"Chat"</A>
                    })}
                    {(manage && e.status != EmployeeStatus::Archived).then(|| view! {
                        <A href=format!("/employees/{id}/edit") attr:class=BUTTON_SECONDARY>"Edit"</A>
                    })}
                    {quick.filter(|_| manage).map(|(act, label)| view! {
                        <ActionForm action=action>
                            <input type="hidden" name="id" value=id.clone() />
                            <input type="hidden" name="action" value=act.as_str() />
                            <button type="submit" class=BUTTON_SECONDARY aria-label=format!("{label} {name}")>{label}</button>
                        </ActionForm>
                    })}
                </div>
            </td>
        </tr>
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let session = use_session();
    let action = ServerAction::<EmployeeAction>::new();
    let employees = Resource::new(move || action.version().get(), |_| list_employees());
    // Pausing or resuming changes no usage: the history is read once.
    let history = Resource::new(
        || (),
        |_| crate::usage::pages::client_usage_history(crate::usage::HISTORY_DAYS),
    );
    view! {
        <Title text="Dashboard" />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let session = session.await.ok();
                // Members chat with the employees given to them; they make none.
                let member = session
                    .as_ref()
                    .and_then(|s| s.person.as_ref())
                    .is_some_and(|p| p.role == crate::accounts::Role::Member);
                let client = session.and_then(|s| s.client);
                let Some(client) = client else {
                    return view! {
                        <div class=CARD>
                            <p>"You are not signed in as a client. " <A href="/signin" attr:class="text-indigo-700 underline">"Sign in"</A></p>
                        </div>
                    }
                    .into_any();
                };
                let list = employees.await;
                let history = history.await.ok();
                let activity: std::collections::HashMap<String, crate::usage::EmployeeActivity> = history
                    .as_ref()
                    .map(|h| h.activity.iter().map(|a| (a.employee_id.clone(), a.clone())).collect())
                    .unwrap_or_default();
                let names: std::collections::HashMap<String, String> = list
                    .as_ref()
                    .map(|l| l.iter().map(|e| (e.id.to_string(), e.name.clone())).collect())
                    .unwrap_or_default();
                view! {
                    <div class="mb-6 flex flex-wrap items-center justify-between gap-3">
                        <div>
                            <h1 class="text-2xl font-semibold">{client.name.clone()}</h1>
                            <p class="text-sm text-slate-500">
                                {format!("{} tier · up to {} employees · models: {}", client.tier, client.configuration.max_employees, client.configuration.allowed_models.join(", "))}
                            </p>
                        </div>
                        <Show when=move || !member>
                            <A href="/employees/new" attr:class=format!("{BUTTON} shrink-0 whitespace-nowrap")>"New employee"</A>
                        </Show>
                    </div>
                    {match list {
                        Ok(list) if list.is_empty() => view! {
                            <div class=CARD>
                                <p class="font-medium">"No employees yet."</p>
                                <p class="mt-1 text-sm text-slate-500">"Create one with “New employee”: give it a role and an industry, and it is ready to chat."</p>
                            </div>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="w-full table-fixed overflow-hidden rounded-lg border border-slate-200 bg-surface text-sm shadow-sm">
                                <thead class="bg-slate-50 text-left text-xs uppercase text-slate-500">
                                    <tr>
                                        <th class="px-3 py-2 sm:px-4">"Name"</th>
                                        <th class="hidden px-4 py-2 md:table-cell">"Model"</th>
                                        <th class="w-24 px-3 py-2 text-right sm:px-4" title="Answered turns this calendar month (UTC)">"Turns (month)"</th>
                                        <th class="hidden w-40 px-4 py-2 lg:table-cell">"Last activity"</th>
                                        <th class="w-24 px-3 py-2 sm:px-4">"Status"</th>
                                        <th class="hidden w-64 px-4 py-2 sm:table-cell"><span class="sr-only">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody class="divide-y divide-slate-100">
                                    {list
                                        .into_iter()
                                        .map(|e| {
                                            let a = activity.get(e.id.as_str()).cloned();
                                            view! { <EmployeeRow e activity=a action manage=!member /> }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                            {action_error(action.value())}
                        }
                        .into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }}
                    {history.map(|mut history| {
                        let month = history.month.take().filter(|_| !member);
                        view! {
                            <crate::usage::pages::UsageCharts history names />
                            {month.map(|report| view! { <crate::usage::pages::UsagePanel report /> })}
                        }
                    })}
                }
                .into_any()
            })}
        </Transition>
    }
}
