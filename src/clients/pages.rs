//! The operator's page: onboard a client, see every client.

use super::fns::*;
use super::forms::OnboardForm;
use super::*;
use crate::accounts::fns::*;
use crate::app::components::*;
use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn OperatorPage() -> impl IntoView {
    let sign_in = ServerAction::<OperatorSignIn>::new();
    let onboard = ServerAction::<OnboardClient>::new();
    let session = Resource::new(move || sign_in.version().get(), |_| current_session());
    let set_active = ServerAction::<SetClientActive>::new();
    let clients = Resource::new(
        move || {
            (
                sign_in.version().get(),
                onboard.version().get(),
                set_active.version().get(),
            )
        },
        |_| list_clients(),
    );
    let tiers = Resource::new(|| (), |_| tiers());
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_in.value().get() {
            session_changed();
        }
    });

    view! {
        <Title text="Operator console" />
        <h1 class="mb-6 text-2xl font-semibold">"Operator console"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let operator = session.await.map(|s| s.operator).unwrap_or(false);
                if !operator {
                    view! {
                        <div class=CARD>
                            <h2 class="mb-3 text-lg font-medium">"Sign in as the operator"</h2>
                            <ActionForm action=sign_in attr:class="flex items-end gap-3">
                                <label class="block grow">
                                    <span class=LABEL>"Admin token"</span>
                                    <input class=INPUT type="password" name="token" required=true />
                                </label>
                                <button class=BUTTON type="submit">"Sign in"</button>
                            </ActionForm>
                            {action_error(sign_in.value())}
                        </div>
                    }
                    .into_any()
                } else {
                    let tier_list = tiers.await.unwrap_or_default();
                    view! {
                        <div class="grid gap-6 md:grid-cols-2">
                            <OnboardForm onboard tiers=tier_list />
                            <ClientList clients set_active />
                        </div>
                    }
                    .into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn OnboardForm(onboard: ServerAction<OnboardClient>, tiers: Vec<TierInfo>) -> impl IntoView {
    let use_key = ServerAction::<ClientSignIn>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = use_key.value().get() {
            session_changed();
            navigate("/dashboard", Default::default());
        }
    });
    // Once a client is onboarded the form is emptied: a second click cannot onboard it twice.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(form)) = (onboard.value().get(), form.get_untracked()) {
            form.reset();
        }
    });
    let tier_help = tiers
        .iter()
        .map(|t| {
            format!(
                "{}: up to {} employees; {}",
                t.name,
                t.max_employees,
                t.allowed_models.join(", ")
            )
        })
        .collect::<Vec<_>>();
    let tier_names = tiers.into_iter().map(|t| t.name).collect::<Vec<_>>();
    // A form that cannot mean anything is answered here, before any call.
    let form_error = RwSignal::new(None::<AppError>);
    view! {
        <div class=CARD>
            <h2 class="mb-3 text-lg font-medium">"Onboard a client"</h2>
            <form
                node_ref=form
                class="space-y-3"
                on:submit=move |ev| {
                    submit_form(&ev, OnboardForm::client_info, form_error, |info| {
                        onboard.dispatch(OnboardClient { info });
                    })
                }
            >
                <Field label="Name" name="name" required=true />
                <Field label="Industry" name="industry" />
                <Select label="Tier" name="tier" options=tier_names />
                <ul class="text-xs text-slate-500">
                    {tier_help.into_iter().map(|h| view! { <li>{h}</li> }).collect_view()}
                </ul>
                <Field label="Max employees (blank: tier default)" name="max_employees" />
                <Field label="Allowed models, comma-separated (blank: tier default)" name="allowed_models" />
                <Select
                    label="Security level"
                    name="security_level"
                    options=SecurityLevel::ALL.iter().map(|s| s.to_string()).collect()
                />
                <Field label="Compliance requirements" name="compliance_requirements" placeholder="gdpr, soc2" />
                <button class=BUTTON type="submit" disabled=move || onboard.pending().get()>
                    {move || if onboard.pending().get() { "Onboarding…" } else { "Onboard client" }}
                </button>
            </form>
            {move || form_error.get().map(|error| view! { <ErrorBox error /> })}
            {action_error(onboard.value())}
            {move || {
                onboard
                    .value()
                    .get()
                    .and_then(Result::ok)
                    .map(|o| {
                        let key = o.api_key.clone();
                        view! {
                            <div data-testid="onboarded" class="mt-4 space-y-2 rounded-md border border-emerald-200 bg-emerald-50 p-3 text-sm">
                                <p>
                                    "Onboarded " <strong>{o.client.name.clone()}</strong> " (" <code>{o.client.id.to_string()}</code> ")."
                                </p>
                                <p class="font-medium">"API key — shown only this once. Copy it now and keep it somewhere safe: it cannot be shown again."</p>
                                <code data-testid="api-key" class="block break-all rounded bg-surface p-2">{key.clone()}</code>
                                <CopyButton text=key.clone() label="Copy the key" />
                                <ActionForm action=use_key>
                                    <input type="hidden" name="api_key" value=key />
                                    <button class=BUTTON type="submit">"Continue as this client"</button>
                                </ActionForm>
                            </div>
                        }
                    })
            }}
            {action_error(use_key.value())}
        </div>
    }
}

#[component]
fn ClientList(
    clients: Resource<Result<Vec<ClientSummary>, AppError>>,
    set_active: ServerAction<SetClientActive>,
) -> impl IntoView {
    view! {
        <div class=CARD>
            <h2 class="mb-3 text-lg font-medium">"Clients"</h2>
            {action_error(set_active.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match clients.await {
                        Ok(list) if list.is_empty() => view! { <p class="text-sm text-slate-500">"No clients yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="divide-y divide-slate-100 text-sm">
                                {list
                                    .into_iter()
                                    .map(|summary| {
                                        let c = summary.client;
                                        let id = c.id.to_string();
                                        let active = c.status == ClientStatus::Active;
                                        let name = c.name.clone();
                                        view! {
                                            <li class="flex items-start gap-3 py-2" data-testid="client-row">
                                                <div class="min-w-0 flex-1">
                                                    <p class="font-medium">{c.name.clone()}</p>
                                                    <p class="break-all text-xs text-slate-500">
                                                        {format!("{} · {} · {}", c.tier, c.status, c.id)}
                                                    </p>
                                                    <p class="text-xs text-slate-600" data-testid="client-figures">
                                                        {format!("{} of {} employees · this month: {} turns, {} tokens",
                                                            summary.employees, c.configuration.max_employees,
                                                            summary.turns_this_month, summary.tokens_this_month)}
                                                    </p>
                                                </div>
                                                <A href=format!("/operator/clients/{}", c.id) attr:class=BUTTON_SECONDARY>"Limits"</A>
                                                <button
                                                    type="button"
                                                    class=if active { BUTTON_DANGER } else { BUTTON_SECONDARY }
                                                    on:click=move |_| {
                                                        if !active
                                                            || confirmed(&format!("Suspend {name}? Its people, keys and employees stop at once; nothing is deleted."))
                                                        {
                                                            set_active.dispatch(SetClientActive { id: id.clone(), active: !active });
                                                        }
                                                    }
                                                >
                                                    {if active { "Suspend" } else { "Reactivate" }}
                                                </button>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                        .into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// One client's limits: what is in force, and the operator's overrides of its tier's values.
#[component]
pub fn ClientLimitsPage() -> impl IntoView {
    use super::forms::{LimitsForm, LIMIT_FIELDS};
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let save = ServerAction::<SetClientLimits>::new();
    let limits = Resource::new(
        move || (id(), save.version().get()),
        |(id, _)| load_client_limits(id),
    );
    view! {
        <Title text="Client limits" />
        <p class="mb-4 text-sm"><A href="/operator" attr:class="text-indigo-700 hover:underline">"← Operator console"</A></p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let l = match limits.await {
                    Ok(l) => l,
                    Err(error) => return view! { <ErrorBox error /> }.into_any(),
                };
                let form = RwSignal::new(LimitsForm::of(&l.overrides));
                let problems = Memo::new(move |_| form.with(|f| f.overrides().err()));
                let in_force = serde_json::to_value(&l.in_force).unwrap_or_default();
                let client_id = l.client.id.to_string();
                view! {
                    <div class=format!("{CARD} max-w-2xl")>
                        <h1 class="text-xl font-semibold">{format!("Limits of {}", l.client.name)}</h1>
                        <p class="mt-1 text-sm text-slate-500">
                            {format!("{} tier. A blank field takes the tier's value; saving replaces this client's overrides and every instance applies them from the next request.", l.in_force.tier)}
                        </p>
                        <form
                            class="mt-4 grid gap-4 sm:grid-cols-2"
                            novalidate=true
                            on:submit=move |ev| {
                                ev.prevent_default();
                                if let Ok(overrides) = form.get_untracked().overrides() {
                                    save.dispatch(SetClientLimits { id: client_id.clone(), overrides });
                                }
                            }
                        >
                            {LIMIT_FIELDS
                                .into_iter()
                                .map(|(name, label, _)| {
                                    let now = in_force.get(name).map(|v| v.to_string()).unwrap_or_default();
                                    let overridden = l.in_force.overridden.iter().any(|o| o == name);
                                    let error = move || problems.with(|p| p.as_ref().and_then(|e| e.fields()).and_then(|f| f.get(name).cloned()));
                                    view! {
                                        <label class="block">
                                            <span class=LABEL>{label}</span>
                                            <input
                                                class=INPUT
                                                name=name
                                                inputmode="decimal"
                                                placeholder="blank: the tier's"
                                                aria-describedby=format!("in-force-{name} limit-error-{name}")
                                                prop:value=move || form.with(|f| f.0.get(name).cloned().unwrap_or_default())
                                                value=form.with_untracked(|f| f.0.get(name).cloned().unwrap_or_default())
                                                aria-invalid=move || error().map(|_| "true")
                                                on:input=move |ev| {
                                                    let v = event_target_value(&ev);
                                                    form.update(|f| { f.0.insert(name.to_owned(), v); });
                                                }
                                            />
                                            <span class="mt-1 block text-xs text-slate-500" id=format!("in-force-{name}") data-testid=format!("in-force-{name}")>
                                                {format!("In force: {now}{}", if overridden { " (set here)" } else { " (the tier's)" })}
                                            </span>
                                            {move || error().map(|m| view! { <span class="block text-sm text-red-700" id=format!("limit-error-{name}") data-testid="field-error">{m}</span> })}
                                        </label>
                                    }
                                })
                                .collect_view()}
                            <div class="sm:col-span-2">
                                <button class=BUTTON type="submit" disabled=move || save.pending().get() || problems.with(Option::is_some)>"Save limits"</button>
                            </div>
                        </form>
                        {action_error(save.value())}
                        {move || matches!(save.value().get(), Some(Ok(_))).then(|| view! {
                            <p role="status" class="mt-3 text-sm text-emerald-700" data-testid="done">"Saved. The limits above are in force now."</p>
                        })}
                    </div>
                }
                .into_any()
            })}
        </Transition>
    }
}
