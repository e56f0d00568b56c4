//! `/account`: the client's people and API keys, for owners, admins and admin keys — invite a
//! person (the link shown once), remove one, make a key (shown once) and revoke one.

use super::{ApiKeyInfo, CreatedApiKey, CreatedInvite, Member, NewApiKey, NewInvite, Role, Scope};
use crate::app::components::*;
use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// What the account page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub members: Vec<Member>,
    pub keys: Vec<ApiKeyInfo>,
    /// Every employee, as (id, name), to give to members and bind keys to.
    pub employees: Vec<(String, String)>,
}

#[server(prefix = "/rpc")]
pub async fn load_team() -> Result<Team, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let members = crate::accounts::server::people::list_members(&state, &who).await?;
        let keys = crate::accounts::server::keys::list_keys(&state, &who).await?;
        let employees = crate::employees::server::service::list_employees(&state, &who, None)
            .await?
            .into_iter()
            .map(|e| (e.id.to_string(), e.name))
            .collect();
        Ok(Team {
            members,
            keys,
            employees,
        })
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn invite_person(invite: NewInvite) -> Result<CreatedInvite, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::accounts::server::people::create_invite(&state, &who, &invite).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn remove_person(user_id: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::accounts::server::people::remove_member(&state, &who, &user_id).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn make_api_key(key: NewApiKey) -> Result<CreatedApiKey, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::accounts::server::keys::create_key(&state, &who, &key).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn revoke_api_key(key_id: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        crate::accounts::server::keys::revoke_key(&state, &who, &key_id).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or("never".to_owned(), |t| {
        t.format("%Y-%m-%d %H:%M UTC").to_string()
    })
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let invite = ServerAction::<InvitePerson>::new();
    let remove = ServerAction::<RemovePerson>::new();
    let make = ServerAction::<MakeApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let team = Resource::new(
        move || {
            (
                invite.version().get(),
                remove.version().get(),
                make.version().get(),
                revoke.version().get(),
            )
        },
        |_| load_team(),
    );
    // What the forms hold lives here, above the part that reloads after each action, so a
    // reload never loses what is being typed.
    let forms = Forms {
        role: RwSignal::new("member".to_owned()),
        chosen: RwSignal::new(Vec::new()),
        name: RwSignal::new(String::new()),
        scopes: RwSignal::new(vec![Scope::EmployeesRead, Scope::Interact]),
        bound: RwSignal::new(String::new()),
    };
    view! {
        <Title text="People and keys" />
        <h1 class="mb-6 text-2xl font-semibold">"People and keys"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match team.await {
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                    Ok(t) => view! {
                        <div class="space-y-6">
                            <People t=t.clone() invite remove forms />
                            <Keys t make revoke forms />
                        </div>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

/// The account page's form fields.
#[derive(Clone, Copy)]
struct Forms {
    role: RwSignal<String>,
    chosen: RwSignal<Vec<String>>,
    name: RwSignal<String>,
    scopes: RwSignal<Vec<Scope>>,
    bound: RwSignal<String>,
}

/// Checkboxes of the client's employees, kept in `chosen`.
fn employee_choices(
    employees: Vec<(String, String)>,
    chosen: RwSignal<Vec<String>>,
    legend: &'static str,
) -> impl IntoView {
    view! {
        <fieldset class="sm:col-span-2">
            <legend class=LABEL>{legend}</legend>
            <div class="mt-1 flex flex-wrap gap-x-4 gap-y-1 text-sm">
                {employees
                    .into_iter()
                    .map(|(id, name)| {
                        let checked_id = id.clone();
                        view! {
                            <label class="inline-flex items-center gap-2">
                                <input
                                    type="checkbox"
                                    prop:checked=move || chosen.with(|c| c.contains(&checked_id))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let id = id.clone();
                                        chosen.update(|c| {
                                            c.retain(|x| *x != id);
                                            if on {
                                                c.push(id);
                                            }
                                        });
                                    }
                                />
                                {name}
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
        </fieldset>
    }
}

#[component]
fn People(
    t: Team,
    invite: ServerAction<InvitePerson>,
    remove: ServerAction<RemovePerson>,
    forms: Forms,
) -> impl IntoView {
    let Forms { role, chosen, .. } = forms;
    let names: std::collections::HashMap<String, String> = t.employees.iter().cloned().collect();
    view! {
        <section class=CARD aria-labelledby="people-heading">
            <h2 id="people-heading" class="mb-3 text-lg font-medium">"People"</h2>
            {t.members.is_empty().then(|| view! {
                <p class="text-sm text-slate-500">"No one has an account yet: invite someone below. Until then the client works through its API keys."</p>
            })}
            <ul class="divide-y divide-slate-100 text-sm">
                {t.members
                    .into_iter()
                    .map(|m| {
                        let id = m.id.to_string();
                        let email = m.email.clone();
                        let given = m
                            .employee_ids
                            .iter()
                            .map(|e| names.get(e).cloned().unwrap_or_else(|| e.clone()))
                            .collect::<Vec<_>>()
                            .join(", ");
                        view! {
                            <li class="flex flex-wrap items-center gap-3 py-2" data-testid="member-row">
                                <div class="min-w-0 flex-1">
                                    <p class="font-medium break-all">{m.email.clone()}</p>
                                    <p class="text-xs text-slate-500">
                                        {format!("{} · last signed in {}", m.role.as_str(), when(m.last_sign_in_at))}
                                        {(m.role == Role::Member).then(|| format!(" · may use: {}", if given.is_empty() { "no employee yet".to_owned() } else { given.clone() }))}
                                    </p>
                                </div>
                                <button
                                    type="button"
                                    class=BUTTON_DANGER
                                    on:click=move |_| {
                                        if confirmed(&format!("Remove {email}? Their sessions end at once.")) {
                                            remove.dispatch(RemovePerson { user_id: id.clone() });
                                        }
                                    }
                                >
                                    "Remove"
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {action_error(remove.value())}
            <form
                class="mt-4 grid gap-3 border-t border-slate-100 pt-4 sm:grid-cols-2"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let Some(role) = Role::parse(&role.get_untracked()) else { return };
                    let employee_ids = if role == Role::Member { chosen.get_untracked() } else { vec![] };
                    invite.dispatch(InvitePerson { invite: NewInvite { role, employee_ids } });
                }
            >
                <h3 class="text-sm font-medium sm:col-span-2">"Invite someone"</h3>
                <label class="block">
                    <span class=LABEL>"Role"</span>
                    <select class=INPUT name="role" prop:value=move || role.get() on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="member">"Member — chats with the employees given to them"</option>
                        <option value="admin">"Admin — manages employees, people and keys"</option>
                        <option value="owner">"Owner — everything, including other owners"</option>
                    </select>
                </label>
                <Show when=move || role.get() == "member">
                    {employee_choices(t.employees.clone(), chosen, "Employees they may use")}
                </Show>
                <div class="sm:col-span-2">
                    <button type="submit" class=BUTTON disabled=move || invite.pending().get()>"Make an invitation link"</button>
                </div>
            </form>
            {action_error(invite.value())}
            {move || invite.value().get().and_then(Result::ok).map(|c| {
                let link = format!("{}{}", page_origin(), c.url);
                view! {
                    <div role="status" class="mt-3 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm" data-testid="invite-link">
                        <p class="font-medium">"Send this link to the person. It works once, and it is shown only now."</p>
                        <p class="mt-1 break-all font-mono text-xs" data-testid="invite-url">{link.clone()}</p>
                        <div class="mt-2"><CopyButton text=link /></div>
                    </div>
                }
            })}
        </section>
    }
}

/// Where this page was loaded from (for the full invitation link); empty on the server.
fn page_origin() -> String {
    #[cfg(feature = "hydrate")]
    if let Some(origin) = web_sys::window().and_then(|w| w.location().origin().ok()) {
        return origin;
    }
    String::new()
}

#[component]
fn Keys(
    t: Team,
    make: ServerAction<MakeApiKey>,
    revoke: ServerAction<RevokeApiKey>,
    forms: Forms,
) -> impl IntoView {
    let Forms {
        name,
        scopes,
        bound,
        ..
    } = forms;
    let names: std::collections::HashMap<String, String> = t.employees.iter().cloned().collect();
    view! {
        <section class=CARD aria-labelledby="keys-heading">
            <h2 id="keys-heading" class="mb-3 text-lg font-medium">"API keys"</h2>
            <ul class="divide-y divide-slate-100 text-sm">
                {t.keys
                    .into_iter()
                    .map(|k| {
                        let id = k.id.to_string();
                        let label = k.name.clone();
                        let revoked = k.revoked_at.is_some();
                        let bound_to = k.employee_id.as_ref().map(|e| names.get(e).cloned().unwrap_or_else(|| e.clone()));
                        view! {
                            <li class="flex flex-wrap items-center gap-3 py-2" data-testid="key-row">
                                <div class="min-w-0 flex-1">
                                    <p class="font-medium">{k.name.clone()} " " <code class="text-xs text-slate-500">{format!("{}…", k.prefix)}</code></p>
                                    <p class="text-xs text-slate-500">
                                        {format!("{} · made {} · last used {}{}",
                                            k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                                            when(Some(k.created_at)), when(k.last_used_at),
                                            bound_to.map(|b| format!(" · only for {b}")).unwrap_or_default())}
                                    </p>
                                </div>
                                {if revoked {
                                    view! { <span class="text-xs font-medium text-slate-500" data-testid="revoked">"revoked"</span> }.into_any()
                                } else {
                                    view! {
                                        <button
                                            type="button"
                                            class=BUTTON_DANGER
                                            on:click=move |_| {
                                                if confirmed(&format!("Revoke the key “{label}”? Every program using it stops at once.")) {
                                                    revoke.dispatch(RevokeApiKey { key_id: id.clone() });
                                                }
                                            }
                                        >
                                            "Revoke"
                                        </button>
                                    }.into_any()
                                }}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {action_error(revoke.value())}
            <form
                class="mt-4 grid gap-3 border-t border-slate-100 pt-4 sm:grid-cols-2"
                on:submit=move |ev| {
                    ev.prevent_default();
                    let employee_id = Some(bound.get_untracked()).filter(|b| !b.is_empty());
                    make.dispatch(MakeApiKey { key: NewApiKey { name: name.get_untracked(), scopes: scopes.get_untracked(), employee_id } });
                }
            >
                <h3 class="text-sm font-medium sm:col-span-2">"Make a key"</h3>
                <label class="block">
                    <span class=LABEL>"Name"</span>
                    <input class=INPUT name="key_name" placeholder="Support widget" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <label class="block">
                    <span class=LABEL>"Only for one employee (optional)"</span>
                    <select class=INPUT name="employee_id" prop:value=move || bound.get() on:change=move |ev| bound.set(event_target_value(&ev))>
                        <option value="">"Any employee"</option>
                        {t.employees.iter().map(|(id, n)| view! { <option value=id.clone()>{n.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <fieldset class="sm:col-span-2">
                    <legend class=LABEL>"What it may do"</legend>
                    <div class="mt-1 flex flex-wrap gap-x-4 gap-y-1 text-sm">
                        {Scope::ALL
                            .iter()
                            .map(|s| {
                                let s = *s;
                                view! {
                                    <label class="inline-flex items-center gap-2">
                                        <input
                                            type="checkbox"
                                            prop:checked=move || scopes.with(|v| v.contains(&s))
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                scopes.update(|v| {
                                                    v.retain(|x| *x != s);
                                                    if on {
                                                        v.push(s);
                                                    }
                                                });
                                            }
                                        />
                                        {s.as_str()}
                                    </label>
                                }
                            })
                            .collect_view()}
                    </div>
                </fieldset>
                <div class="sm:col-span-2">
                    <button type="submit" class=BUTTON disabled=move || make.pending().get()>"Make the key"</button>
                </div>
            </form>
            {action_error(make.value())}
            {move || make.value().get().and_then(Result::ok).map(|k| view! {
                <div role="status" class="mt-3 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm">
                    <p class="font-medium">"Copy the key now: it is shown only this once and cannot be recovered."</p>
                    <p class="mt-1 break-all font-mono text-xs" data-testid="new-key">{k.api_key.clone()}</p>
                    <div class="mt-2"><CopyButton text=k.api_key /></div>
                </div>
            })}
        </section>
    }
}
