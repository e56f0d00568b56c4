//! The memory browser: what one employee remembers, newest first with more on scroll, a search
//! by meaning and keywords with the signals that found each match, erasure of one exchange or of
//! everything that mentions a subject (each audited, with a receipt), and the import of a past
//! conversation (a JSON Lines file).

use super::fns::*;
use super::{ChatTurn, ImportReport, MemoryItem};
use crate::app::components::*;
use crate::core::AppError;
use crate::employees::fns::get_employee;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

#[component]
pub fn MemoryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let employee = Resource::new(id, get_employee);
    let first = Resource::new(id, |id| load_conversation(id, None));
    view! {
        <Title text="Memory" />
        <p class="mb-3 text-sm">
            <A href=move || format!("/employees/{}", id()) attr:class="text-indigo-700 hover:underline">"← Employee"</A>
        </p>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let name = employee.await.map(|e| e.name).unwrap_or_default();
                view! {
                    <Title text=format!("Memory of {name}") />
                    <h1 class="mb-4 text-2xl font-semibold">"What " {name} " remembers"</h1>
                }
            })}
        </Suspense>
        <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading the memory…"</p> }>
            {move || Suspend::new(async move {
                match first.await {
                    Ok(page) => {
                        let mut turns = page.turns;
                        turns.reverse();
                        view! { <Browser id=id() turns older=page.older /> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Browser(
    id: String,
    turns: Vec<ChatTurn>,
    older: Option<crate::core::InteractionId>,
) -> impl IntoView {
    let id = StoredValue::new(id);
    // Newest first.
    let turns = RwSignal::new(turns);
    let older = RwSignal::new(older);
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let search = ServerAction::<SearchMemory>::new();
    let forget = ServerAction::<ForgetExchange>::new();
    let forget_subject = ServerAction::<ForgetSubject>::new();
    let receipt = RwSignal::new(None::<String>);
    let import = ServerAction::<ImportMemory>::new();

    // An erased exchange leaves the lists at once.
    Effect::new(move |_| {
        if let Some(Ok(r)) = forget.value().get() {
            turns.update(|t| t.retain(|x| !r.interaction_ids.contains(&x.id.to_string())));
            receipt.set(Some(format!(
                "Erased {} exchange(s); the audit trail keeps a receipt.",
                r.erased
            )));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(r)) = forget_subject.value().get() {
            turns.update(|t| t.retain(|x| !r.interaction_ids.contains(&x.id.to_string())));
            receipt.set(Some(format!(
                "Erased {} exchange(s) that mentioned it; the audit trail keeps a receipt.",
                r.erased
            )));
        }
    });

    // After an import the newest page is read again: the imported exchanges take their places
    // by their own time.
    Effect::new(move |_| {
        if let Some(Ok(_)) = import.value().get() {
            leptos::task::spawn_local(async move {
                match load_conversation(id.get_value(), None).await {
                    Ok(page) => {
                        turns.set(page.turns.into_iter().rev().collect());
                        older.set(page.older);
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    });

    let load_more = move || {
        load_older_page(id.get_value(), older, loading, error, move |page| {
            turns.update(|t| t.extend(page.into_iter().rev()))
        })
    };
    // Infinite scroll: nearing the end of the page loads the next older page (the button
    // stays, for keyboards and for a page too short to scroll).
    #[cfg(feature = "hydrate")]
    {
        let listener = window_event_listener(leptos::ev::scroll, move |_| {
            let w = window();
            let seen = w
                .inner_height()
                .ok()
                .and_then(|h| h.as_f64())
                .unwrap_or(0.0)
                + w.scroll_y().unwrap_or(0.0);
            let total = w
                .document()
                .and_then(|d| d.body())
                .map_or(0.0, |b| f64::from(b.scroll_height()));
            if seen >= total - 600.0 {
                load_more();
            }
        });
        on_cleanup(move || listener.remove());
    }
    let erase = move |interaction_id: String| {
        if confirmed("Erase this exchange from the employee's memory? It is gone for good; the audit trail keeps only a receipt.") {
            forget.dispatch(ForgetExchange { id: id.get_value(), interaction_id });
        }
    };

    view! {
        <div class="grid gap-6 lg:grid-cols-2">
            <section class=format!("{CARD} space-y-3") aria-labelledby="search-heading">
                <h2 id="search-heading" class="text-lg font-medium">"Search memory"</h2>
                <form
                    class="flex gap-2"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        use leptos::form::FromFormData;
                        if let Ok(SearchMemory { query, .. }) = SearchMemory::from_event(&ev) {
                            search.dispatch(SearchMemory { id: id.get_value(), query });
                        }
                    }
                >
                    <input type="hidden" name="id" value=id.get_value() />
                    <label for="memory-query" class="sr-only">"Search the memory"</label>
                    <input id="memory-query" class=format!("{INPUT} mt-0") name="query" required=true maxlength="500" placeholder="e.g. what did the customer say about the invoice?" />
                    <button class=format!("{BUTTON} shrink-0") type="submit" disabled=move || search.pending().get()>
                        {move || if search.pending().get() { "Searching…" } else { "Search" }}
                    </button>
                </form>
                {action_error(search.value())}
                {move || search.value().get().and_then(Result::ok).map(|found| {
                    if found.is_empty() {
                        view! { <p class="text-sm text-slate-500">"Nothing in this memory resembles that yet."</p> }.into_any()
                    } else {
                        view! {
                            <ol class="space-y-3" data-testid="memory-results">
                                {found.into_iter().map(|m| view! { <Found m /> }).collect_view()}
                            </ol>
                        }.into_any()
                    }
                })}
                <details class="pt-2 text-sm">
                    <summary class="cursor-pointer font-medium text-slate-700">"Erase everything about a subject"</summary>
                    <form
                        class="mt-2 flex gap-2"
                        on:submit=move |ev| {
                            ev.prevent_default();
                            use leptos::form::FromFormData;
                            if let Ok(ForgetSubject { subject, .. }) = ForgetSubject::from_event(&ev) {
                                if confirmed(&format!("Erase every exchange that mentions “{subject}”? This cannot be undone.")) {
                                    forget_subject.dispatch(ForgetSubject { id: id.get_value(), subject });
                                }
                            }
                        }
                    >
                        <input type="hidden" name="id" value=id.get_value() />
                        <label for="erase-subject" class="sr-only">"Subject to erase"</label>
                        <input id="erase-subject" class=format!("{INPUT} mt-0") name="subject" required=true minlength="2" placeholder="a name, an account number…" />
                        <button class=format!("{BUTTON_DANGER} shrink-0") type="submit">"Erase"</button>
                    </form>
                    {action_error(forget_subject.value())}
                </details>
                <Import id=id.get_value() import />
            </section>
            <section class=format!("{CARD} space-y-3") aria-labelledby="recent-heading">
                <h2 id="recent-heading" class="text-lg font-medium">"Newest first"</h2>
                {move || receipt.get().map(|r| view! { <p role="status" class="rounded-md bg-emerald-50 p-2 text-sm text-emerald-800">{r}</p> })}
                {action_error(forget.value())}
                <Show when=move || turns.with(Vec::is_empty)>
                    <p class="text-sm text-slate-500">"Nothing remembered yet: every answered message is kept here."</p>
                </Show>
                <ol class="divide-y divide-slate-100" data-testid="memory-list">
                    <For each=move || turns.get() key=|t| t.id.clone() let:t>
                        {
                            let iid = t.id.to_string();
                            view! {
                                <li class="py-3 text-sm" data-testid="memory-item">
                                    <div class="flex items-start gap-3">
                                        <div class="min-w-0 flex-1 space-y-1">
                                            <p class="text-xs text-slate-500">{t.at.format("%Y-%m-%d %H:%M UTC").to_string()}</p>
                                            <p class="break-words font-medium">{t.message.clone()}</p>
                                            <p class="line-clamp-3 break-words text-slate-600">{t.answer.clone()}</p>
                                        </div>
                                        <button type="button" class=BUTTON_DANGER aria-label="Erase this exchange" on:click=move |_| erase(iid.clone())>"Erase"</button>
                                    </div>
                                </li>
                            }
                        }
                    </For>
                </ol>
                {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
                {move || older.get().map(|_| view! {
                    <button type="button" class=BUTTON_SECONDARY on:click=move |_| load_more() disabled=move || loading.get()>
                        {move || if loading.get() { "Loading…" } else { "Older exchanges" }}
                    </button>
                })}
            </section>
        </div>
    }
}

/// Import a past conversation: a JSON Lines file (read in the browser) or pasted lines.
#[component]
fn Import(id: String, import: ServerAction<ImportMemory>) -> impl IntoView {
    let id = StoredValue::new(id);
    let lines = RwSignal::new(String::new());
    let file_note = RwSignal::new(None::<String>);
    let on_file = move |ev: leptos::ev::Event| {
        file_note.set(None);
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(file) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .and_then(|input| input.files())
                .and_then(|files| files.get(0))
            else {
                return;
            };
            if file.size() > super::BROWSER_IMPORT_BYTES as f64 {
                file_note.set(Some(format!(
                    "That file is {:.1} MB; the browser imports up to {} MB at a time. Split it, or send it through the REST API.",
                    file.size() / 1_048_576.0,
                    super::BROWSER_IMPORT_BYTES / 1_048_576
                )));
                return;
            }
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(text) => lines.set(text.as_string().unwrap_or_default()),
                    Err(_) => file_note.set(Some("That file could not be read.".to_owned())),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    let report = move |r: ImportReport| {
        format!(
            "Stored {} line(s) as {} exchange(s){}. They are searchable once indexed, in the background.",
            r.stored,
            r.exchanges,
            if r.already_stored > 0 {
                format!("; {} line(s) were already stored and were left as they were", r.already_stored)
            } else {
                String::new()
            }
        )
    };
    view! {
        <details class="pt-2 text-sm">
            <summary class="cursor-pointer font-medium text-slate-700">"Import a past conversation"</summary>
            <form
                class="mt-2 space-y-2"
                on:submit=move |ev| {
                    ev.prevent_default();
                    import.dispatch(ImportMemory { id: id.get_value(), lines: lines.get_untracked() });
                }
            >
                <p class="text-slate-600">
                    "JSON Lines, one message a line: "
                    <code class="break-all text-xs">{r#"{"id": "m1", "role": "user", "content": "…", "occurred_at": "2024-05-01T09:30:00Z"}"#}</code>
                    ". Each exchange keeps its own time. Lines already imported are skipped, so a file can be sent again."
                </p>
                <label for="import-file" class="block font-medium text-slate-700">"A file (.jsonl)"</label>
                <input id="import-file" type="file" accept=".jsonl,.ndjson,.json,.txt,application/x-ndjson,application/json,text/plain" class="block text-sm" on:change=on_file />
                {move || file_note.get().map(|n| view! { <p role="alert" class="text-sm text-red-700">{n}</p> })}
                <label for="import-lines" class="block font-medium text-slate-700">"…or the lines themselves"</label>
                <textarea id="import-lines" name="lines" rows="5" required=true class=format!("{INPUT} font-mono text-xs")
                    prop:value=move || lines.get()
                    on:input=move |ev| lines.set(event_target_value(&ev))></textarea>
                <button class=BUTTON type="submit" disabled=move || import.pending().get()>
                    {move || if import.pending().get() { "Importing…" } else { "Import" }}
                </button>
            </form>
            {action_error(import.value())}
            {move || import.value().get().and_then(Result::ok).map(|r| view! {
                <p role="status" class="mt-2 rounded-md bg-emerald-50 p-2 text-emerald-800" data-testid="import-report">{report(r)}</p>
            })}
        </details>
    }
}

#[component]
fn Found(m: MemoryItem) -> impl IntoView {
    view! {
        <li class="rounded-md border border-slate-200 p-3 text-sm" data-testid="memory-result">
            <p class="text-xs text-slate-500">
                {format!("match {:.2} · {}", m.relevance_score, m.timestamp.format("%Y-%m-%d %H:%M UTC"))}
            </p>
            <p class="mt-1 flex flex-wrap gap-1 text-xs" data-testid="memory-signals">
                {m.similarity.map(|s| view! {
                    <span class="rounded bg-indigo-50 px-1.5 py-0.5 text-indigo-800">{format!("meaning {s:.2}")}</span>
                })}
                {m.keyword_score.map(|_| view! {
                    <span class="rounded bg-amber-50 px-1.5 py-0.5 text-amber-900">"keywords"</span>
                })}
            </p>
            <p class="mt-1 break-words font-medium">{m.content}</p>
            <p class="mt-1 line-clamp-3 break-words text-slate-600">{m.response}</p>
        </li>
    }
}

/// Fetches the page of turns before the cursor `older` (when there is one and no fetch is
/// running), hands it to `apply` (oldest first) and moves the cursor on; a failure lands in
/// `error`. The chat and the memory browser page through a conversation with it.
pub fn load_older_page(
    id: String,
    older: RwSignal<Option<crate::core::InteractionId>>,
    loading: RwSignal<bool>,
    error: RwSignal<Option<AppError>>,
    apply: impl FnOnce(Vec<ChatTurn>) + 'static,
) {
    let Some(before) = older.get_untracked() else {
        return;
    };
    if loading.get_untracked() {
        return;
    }
    loading.set(true);
    leptos::task::spawn_local(async move {
        match load_conversation(id, Some(before.to_string())).await {
            Ok(page) => {
                apply(page.turns);
                older.set(page.older);
                error.set(None);
            }
            Err(e) => error.set(Some(e)),
        }
        loading.set(false);
    });
}
