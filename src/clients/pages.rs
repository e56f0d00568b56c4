//! The operator's page: onboard a client, see every client.

use super::fns::*;
use super::forms::OnboardForm;
use super::*;
use crate::accounts::fns::*;
use crate::app::components::*;
use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

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
    clients: Resource<Result<Vec<Client>, AppError>>,
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
                                    .map(|c| {
                                        let id = c.id.to_string();
                                        let active = c.status == ClientStatus::Active;
                                        let name = c.name.clone();
                                        view! {
                                            <li class="flex items-start gap-3 py-2" data-testid="client-row">
                                                <div class="min-w-0 flex-1">
                                                    <p class="font-medium">{c.name.clone()}</p>
                                                    <p class="break-all text-xs text-slate-500">
                                                        {format!("{} · {} · up to {} employees · {}", c.tier, c.status, c.configuration.max_employees, c.id)}
                                                    </p>
                                                </div>
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
