//! The audit page: the client's trail newest first, filtered by action or actor, each row's
//! actor, action and what it touched, and the verdict on the whole hash chain.

use super::{AuditAction, ChainCheck, TrailEntry, TrailPage};
use crate::app::components::*;
use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;

/// A page of the trail, newest first: events before `before`, only `action` and `actor` when
/// not empty (owners and admins).
#[server(prefix = "/rpc")]
pub async fn audit_trail(
    before: Option<i64>,
    action: String,
    actor: String,
) -> Result<TrailPage, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let action = action.trim();
        if !action.is_empty() && AuditAction::parse(action).is_none() {
            return Err(AppError::field(
                "action",
                "is not an action the trail records",
            ));
        }
        let actor = actor.trim();
        if actor.len() > 200 || actor.contains('\0') {
            return Err(AppError::field(
                "actor",
                "must be at most 200 characters of text",
            ));
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let (action, actor) = (some(action), some(actor));
        crate::audit::server::service::trail(
            &state,
            &who,
            before,
            action.as_deref(),
            actor.as_deref(),
        )
        .await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Checks every link of the client's hash chain (owners and admins).
#[server(prefix = "/rpc")]
pub async fn check_audit_chain() -> Result<ChainCheck, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let v = crate::audit::server::service::verify_chain(&state, &who).await?;
        Ok(ChainCheck {
            ok: v.ok,
            events: v.events,
            unchained: v.unchained,
            head: v.head,
            broken: v.first_broken.map(|b| (b.id, b.reason)),
        })
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let filter = RwSignal::new((String::new(), String::new()));
    let first = Resource::new(
        move || filter.get(),
        |(action, actor)| audit_trail(None, action, actor),
    );
    let check = Resource::new(|| (), |_| check_audit_chain());
    view! {
        <Title text="Audit trail" />
        <div class="mb-4 flex flex-wrap items-end justify-between gap-3">
            <div>
                <h1 class="text-2xl font-semibold">"Audit trail"</h1>
                <p class="text-sm text-slate-500">"Every change to this client's employees, people, keys and memory, as written, newest first."</p>
            </div>
            <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Checking the chain…"</p> }>
                {move || Suspend::new(async move {
                    match check.await {
                        Ok(c) => view! { <Verdict c /> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
        <form
            class=format!("{CARD} mb-4 grid gap-3 sm:grid-cols-3 sm:items-end")
            on:submit=move |ev| {
                ev.prevent_default();
                use leptos::form::FromFormData;
                if let Ok(f) = AuditTrail::from_event(&ev) {
                    filter.set((f.action, f.actor));
                }
            }
        >
            <label class="block">
                <span class=LABEL>"Action"</span>
                <select class=INPUT name="action">
                    <option value="">"Any action"</option>
                    {AuditAction::ALL.iter().map(|a| view! { <option value=a.as_str()>{a.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <label class="block">
                <span class=LABEL>"Actor"</span>
                <input class=INPUT name="actor" placeholder="operator, person:…, api_key:…" />
            </label>
            <div><button class=BUTTON type="submit">"Filter"</button></div>
        </form>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading the trail…"</p> }>
            {move || Suspend::new(async move {
                match first.await {
                    Ok(page) => view! { <Trail page filter=filter.get_untracked() /> }.into_any(),
                    Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Verdict(c: ChainCheck) -> impl IntoView {
    let (class, text) = if c.ok {
        (
            "border-emerald-200 bg-emerald-50 text-emerald-800",
            format!(
                "Chain verified: {} events link, none altered or removed.",
                c.events
            ),
        )
    } else {
        let (id, why) = c.broken.clone().unwrap_or_default();
        (
            "border-red-200 bg-red-50 text-red-800",
            format!("Chain broken at event {id}: {why}"),
        )
    };
    view! {
        <div role="status" data-testid="chain-verdict" class=format!("max-w-md rounded-md border p-3 text-sm {class}")>
            <p class="font-medium">{text}</p>
            {c.head.map(|h| view! { <p class="mt-1 break-all text-xs">"Head: " <code>{h}</code> " — keep it elsewhere to prove later that nothing was cut off the end."</p> })}
        </div>
    }
}

#[component]
fn Trail(page: TrailPage, filter: (String, String)) -> impl IntoView {
    let entries = RwSignal::new(page.entries);
    let older = RwSignal::new(page.older);
    let error = RwSignal::new(None::<AppError>);
    let filter = StoredValue::new(filter);
    let more = move |_| {
        let Some(before) = older.get_untracked() else {
            return;
        };
        let (action, actor) = filter.get_value();
        leptos::task::spawn_local(async move {
            match audit_trail(Some(before), action, actor).await {
                Ok(p) => {
                    entries.update(|e| e.extend(p.entries));
                    older.set(p.older);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <Show when=move || entries.with(Vec::is_empty)>
            <p class="text-sm text-slate-500">"No event matches."</p>
        </Show>
        <ol class="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-surface text-sm" data-testid="audit-trail">
            <For each=move || entries.get() key=|e| e.id let:e>
                <Row e />
            </For>
        </ol>
        {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
        {move || older.get().map(|_| view! { <button type="button" class=format!("{BUTTON_SECONDARY} mt-3") on:click=more>"Older events"</button> })}
    }
}

#[component]
fn Row(e: TrailEntry) -> impl IntoView {
    let r = e.record;
    let change = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
    };
    let (before, after) = (change(&r.before), change(&r.after));
    let has_change = before.is_some() || after.is_some();
    view! {
        <li class="px-3 py-2" data-testid="audit-row">
            <div class="flex flex-wrap items-baseline gap-x-3 gap-y-1">
                <code class="font-medium" data-testid="audit-action">{r.action.as_str()}</code>
                <span class="text-slate-600">{format!("by {}", r.actor)}</span>
                <span class="break-all text-slate-500">{format!("{} {}", r.entity_type, r.entity_id)}</span>
                <span class="ml-auto text-xs text-slate-500">{format!("#{} · {}", e.id, r.created_at.format("%Y-%m-%d %H:%M:%S UTC"))}</span>
            </div>
            {has_change.then(|| view! {
                <details class="mt-1 text-xs">
                    <summary class="cursor-pointer text-slate-600">"What changed"</summary>
                    <div class="mt-1 grid gap-2 md:grid-cols-2">
                        <pre class="overflow-x-auto rounded bg-slate-50 p-2">{before.unwrap_or_else(|| "(nothing before)".into())}</pre>
                        <pre class="overflow-x-auto rounded bg-slate-50 p-2">{after.unwrap_or_else(|| "(nothing after)".into())}</pre>
                    </div>
                </details>
            })}
        </li>
    }
}
