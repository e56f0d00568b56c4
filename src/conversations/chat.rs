//! Talking to one employee. The page opens at the newest exchange; older ones load as the
//! conversation is scrolled up (a cursor, no cap). An answer streams in token by token and is
//! rendered as Markdown (`markdown`) as it grows; under each one, the model that answered, its
//! tokens and time, and the memories it was given. A send that fails keeps the message, with a
//! Retry that reuses the turn's idempotency key, so it can never answer twice.
//!
//! Before the script has loaded (or without it) the same form posts to `send_message` and the
//! browser comes back to the page with the answer; the log is a `column-reverse` box, so it
//! opens scrolled to the newest message without any script.

use super::fns::{stop_message, stream_message, SendMessage};
use super::markdown;
use super::ChatEvent;
use super::InteractionResponse;
use crate::app::components::*;
use crate::core::sources::SourceRecord;
use crate::core::tool_calls::{ToolCallRecord, ToolCallStatus};
use crate::core::AppError;
use crate::employees::fns::get_employee;
use crate::memory::fns::load_conversation;
use crate::memory::{ChatHistory, ChatTurn, RecalledNote, EXCERPT_CHARS};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The exchange in flight: what was said, what has streamed back so far, the turn's key and,
/// once it failed, why.
#[derive(Clone, Default)]
struct Pending {
    message: String,
    answer: String,
    key: String,
    error: Option<AppError>,
    /// Stop was pressed: the answer ends soon, with what was written until then.
    stopping: bool,
    /// The tools called so far, as they run and end.
    tools: Vec<ToolActivity>,
}

/// A tool call as the chat shows it: running (no status yet), or how it ended.
#[derive(Clone, Debug, PartialEq)]
struct ToolActivity {
    id: String,
    name: String,
    status: Option<ToolCallStatus>,
    summary: String,
}

impl ToolActivity {
    fn of(r: &ToolCallRecord) -> Self {
        ToolActivity {
            id: r.id.clone(),
            name: r.tool.clone(),
            status: Some(r.status),
            summary: r.result_excerpt.clone(),
        }
    }
}

/// The tools an answer called, each with its state; nothing when it called none.
#[component]
fn ToolActivityList(items: Vec<ToolActivity>) -> impl IntoView {
    (!items.is_empty()).then(|| {
        view! {
            <ul class="flex max-w-[95%] flex-wrap gap-1 text-xs" data-testid="tool-calls" aria-label="Tools used for this answer">
                {items
                    .into_iter()
                    .map(|t| {
                        let (label, tone) = match t.status {
                            None => ("running…", "bg-slate-100 text-slate-700"),
                            Some(ToolCallStatus::Ok) => ("done", "bg-emerald-50 text-emerald-800"),
                            Some(s) => (s.as_str(), "bg-amber-50 text-amber-900"),
                        };
                        view! {
                            <li
                                class=format!("rounded-full px-2 py-0.5 {tone}")
                                title=t.summary
                                data-testid="tool-call"
                                data-status=label
                            >
                                {format!("⚙ {} · {}", t.name, label.replace('_', " "))}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
    })
}

/// Sends `message` under `key` and feeds the streamed answer into `pending`; returns the stored
/// turn or the error.
async fn stream_turn(
    id: String,
    message: String,
    key: String,
    pending: RwSignal<Option<Pending>>,
) -> Result<InteractionResponse, AppError> {
    use futures::StreamExt;
    let mut pieces = stream_message(id, message, key).await?.into_inner();
    let mut buffer = String::new();
    while let Some(piece) = pieces.next().await {
        buffer.push_str(&piece?);
        for event in ChatEvent::drain_lines(&mut buffer) {
            match event {
                Ok(ChatEvent::Token(t)) => pending.update(|p| {
                    if let Some(p) = p {
                        p.answer.push_str(&t);
                    }
                }),
                Ok(ChatEvent::Restart(_)) => pending.update(|p| {
                    if let Some(p) = p {
                        p.answer.clear();
                    }
                }),
                Ok(ChatEvent::ToolCall { id, name, .. }) => pending.update(|p| {
                    if let Some(p) = p {
                        p.tools.push(ToolActivity {
                            id,
                            name,
                            status: None,
                            summary: String::new(),
                        });
                    }
                }),
                Ok(ChatEvent::ToolResult {
                    id,
                    status,
                    summary,
                    ..
                }) => pending.update(|p| {
                    if let Some(t) = p
                        .as_mut()
                        .and_then(|p| p.tools.iter_mut().rev().find(|t| t.id == id))
                    {
                        t.status = Some(status);
                        t.summary = summary;
                    }
                }),
                Ok(ChatEvent::Done(done)) => return Ok(done),
                Ok(ChatEvent::Error(e)) => return Err(e),
                Err(e) => {
                    return Err(AppError::Transport {
                        message: format!("unreadable answer: {e}"),
                    })
                }
            }
        }
    }
    Err(AppError::Transport {
        message: "the answer was cut off; Retry asks again without repeating the turn".into(),
    })
}

/// The stored turn as the log shows it; the memories it used are named from the exchanges on
/// the page (an older one is named by its id until the page is reloaded).
fn turn_of(message: String, r: InteractionResponse, shown: &[ChatTurn]) -> ChatTurn {
    let memories = r
        .memories_used
        .iter()
        .map(|m| RecalledNote {
            id: m.clone(),
            excerpt: shown
                .iter()
                .find(|t| &t.id == m)
                .map(|t| t.message.chars().take(EXCERPT_CHARS).collect())
                .unwrap_or_else(|| format!("an earlier exchange ({m})")),
        })
        .collect();
    ChatTurn {
        id: r.interaction_id,
        message,
        answer: r.message,
        model: Some(r.model),
        prompt_tokens: r.usage.prompt_tokens,
        completion_tokens: r.usage.completion_tokens,
        latency_ms: r.latency_ms.min(u64::from(u32::MAX)) as u32,
        at: r.created_at,
        memories,
        stopped: r.stopped,
        tool_calls: r.tool_calls,
        sources: r.sources,
    }
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let employee = Resource::new(id, get_employee);
    // `?before=` is how the "Earlier messages" link pages without a script.
    let first = Resource::new(
        move || (id(), query.read().get("before")),
        |(id, before)| load_conversation(id, before),
    );
    // The plain form's failure comes back in the URL.
    let form_error = move || {
        query.read().get("__err").map(|e| {
            serde_json::from_str::<AppError>(&e).unwrap_or_else(|_| AppError::bad_request(e))
        })
    };

    view! {
        <Title text="Chat" />
        <div class="flex h-[calc(100dvh-7.5rem)] min-h-[24rem] flex-col sm:h-[calc(100dvh-9rem)]">
            <div class="mb-3 flex items-center gap-3">
                <A href=move || format!("/employees/{}", id()) attr:class="text-sm text-indigo-700 hover:underline">"← Employee"</A>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let name = employee.await.map(|e| e.name).unwrap_or_default();
                        view! {
                            <h1 class="truncate text-lg font-semibold">"Chat with " {name.clone()}</h1>
                            <Title text=format!("Chat with {name}") />
                        }
                    })}
                </Suspense>
            </div>
            {move || form_error().map(|e| view! { <ErrorBox error=e /> })}
            <Suspense fallback=|| view! { <p class="text-sm text-slate-500">"Loading the conversation…"</p> }>
                {move || Suspend::new(async move {
                    match first.await {
                        Ok(history) => view! { <Conversation id=id() history /> }.into_any(),
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// A key for a new turn, made in the browser.
fn fresh_key() -> String {
    #[cfg(feature = "hydrate")]
    {
        (0..4)
            .map(|_| {
                format!(
                    "{:08x}",
                    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
                )
            })
            .collect()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// The draft kept for employee `id` across reloads (the browser's local storage).
fn draft_key(id: &str) -> String {
    format!("workforce.draft.{id}")
}

fn load_draft(id: &str) -> Option<String> {
    stored(&draft_key(id))
}

fn save_draft(id: &str, text: &str) {
    store(&draft_key(id), text)
}

/// Serves a code block's Copy button (`data-copy`, written by `markdown`).
fn copy_code(_ev: leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(button) = _ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .filter(|e| e.has_attribute("data-copy"))
        else {
            return;
        };
        let code = button
            .closest(".code-block")
            .ok()
            .flatten()
            .and_then(|block| block.query_selector("code").ok().flatten())
            .and_then(|code| code.text_content());
        if let (Some(code), Some(window)) = (code, web_sys::window()) {
            let _ = window.navigator().clipboard().write_text(&code);
            button.set_text_content(Some("Copied"));
        }
    }
}

#[component]
fn Conversation(id: String, history: ChatHistory) -> impl IntoView {
    // The plain form's idempotency key, made where the page is rendered: sending that form twice
    // makes one turn. (Hydration keeps the server's value; the script sends with keys of its own.)
    #[cfg(feature = "ssr")]
    let form_key = uuid::Uuid::new_v4().to_string();
    #[cfg(not(feature = "ssr"))]
    let form_key = String::new();
    let turns = RwSignal::new(history.turns);
    let older = RwSignal::new(history.older);
    let loading_older = RwSignal::new(false);
    let older_error = RwSignal::new(None::<AppError>);
    let pending = RwSignal::new(None::<Pending>);
    let draft = RwSignal::new(String::new());
    let form = NodeRef::<leptos::html::Form>::new();
    let log = NodeRef::<leptos::html::Div>::new();
    let id = StoredValue::new(id);
    let busy = move || pending.with(|p| p.as_ref().is_some_and(|p| p.error.is_none()));

    // A draft left in this browser comes back (once the script runs).
    Effect::new(move |_| {
        if let Some(saved) = load_draft(&id.get_value()) {
            if draft.get_untracked().is_empty() {
                draft.set(saved);
            }
        }
    });

    let load_older = move || {
        crate::memory::pages::load_older_page(
            id.get_value(),
            older,
            loading_older,
            older_error,
            move |page| {
                turns.update(|t| {
                    let mut all = page;
                    all.append(t);
                    *t = all;
                })
            },
        )
    };

    let start = move |message: String, key: String| {
        pending.set(Some(Pending {
            message: message.clone(),
            answer: String::new(),
            key: key.clone(),
            error: None,
            stopping: false,
            tools: Vec::new(),
        }));
        leptos::task::spawn_local(async move {
            match stream_turn(id.get_value(), message.clone(), key, pending).await {
                Ok(done) => {
                    turns.update(|t| {
                        let turn = turn_of(message, done, t);
                        // A Retry whose first try was stored after all is not shown twice.
                        if !t.iter().any(|x| x.id == turn.id) {
                            t.push(turn);
                        }
                    });
                    pending.set(None);
                }
                Err(e) => pending.update(|p| {
                    if let Some(p) = p {
                        p.error = Some(e);
                    }
                }),
            }
        });
    };

    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let message = draft.get_untracked().trim().to_owned();
        if message.is_empty() || busy() {
            return;
        }
        draft.set(String::new());
        save_draft(&id.get_value(), "");
        start(message, fresh_key());
    };

    // Stop: the server stores what was written so far and ends the stream with it. Should the
    // answer have finished meanwhile, there is nothing to stop and the stream ends as usual.
    let stop = move |_| {
        let Some(key) = pending.with_untracked(|p| p.as_ref().map(|p| p.key.clone())) else {
            return;
        };
        pending.update(|p| {
            if let Some(p) = p {
                p.stopping = true;
            }
        });
        leptos::task::spawn_local(async move {
            let _ = stop_message(id.get_value(), key).await;
        });
    };
    let stopping = move || pending.with(|p| p.as_ref().is_some_and(|p| p.stopping));

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            if let Some(form) = form.get() {
                let _ = form.request_submit();
            }
        }
    };

    // Older exchanges load when the conversation is scrolled near its top. The log is
    // `column-reverse`: its scrollTop is 0 at the bottom and negative above.
    let on_scroll = move |_| {
        if let Some(el) = log.get() {
            let from_top = el.scroll_height() - el.client_height() + el.scroll_top();
            if from_top < 300 {
                load_older();
            }
        }
    };

    view! {
        <div
            node_ref=log
            class="flex min-h-0 flex-1 flex-col-reverse overflow-y-auto rounded-lg border border-slate-200 bg-surface px-3 py-4 sm:px-5"
            on:scroll=on_scroll
            on:click=copy_code
        >
            <div class="space-y-4">
                {move || older.get().map(|before| view! {
                    <p class="text-center">
                        <a
                            class="text-sm text-indigo-700 hover:underline"
                            href=format!("?before={before}")
                            on:click=move |ev| { ev.prevent_default(); load_older(); }
                        >
                            {move || if loading_older.get() { "Loading earlier messages…" } else { "Earlier messages" }}
                        </a>
                    </p>
                })}
                {move || older_error.get().map(|e| view! { <ErrorBox error=e /> })}
                <Show when=move || turns.with(Vec::is_empty) && pending.with(Option::is_none)>
                    <p class="py-8 text-center text-sm text-slate-500">
                        "No messages yet. Write below: the answer appears here as it is written, and the employee remembers the conversation."
                    </p>
                </Show>
                <ol class="space-y-5" data-testid="chat-log">
                    <For each=move || turns.get() key=|t| t.id.clone() let:turn>
                        <Exchange turn />
                    </For>
                </ol>
                {move || pending.get().map(|p| {
                    let failed = p.error.clone();
                    let retry = (p.message.clone(), p.key.clone());
                    let edit = p.message.clone();
                    let tools = p.tools.clone();
                    let answer = if p.answer.is_empty() && failed.is_none() {
                        r#"<p class="animate-pulse">…</p>"#.to_owned()
                    } else {
                        markdown::to_html(&p.answer)
                    };
                    view! {
                        <div class="space-y-1" data-testid="chat-pending">
                            <div class="flex justify-end">
                                <p class="max-w-[85%] whitespace-pre-wrap break-words rounded-2xl rounded-br-sm bg-indigo-600 px-3 py-2 text-sm text-white" data-testid="pending-message">{p.message}</p>
                            </div>
                            <ToolActivityList items=tools />
                            <div class="md max-w-[95%] text-sm" data-testid="answer" aria-live="polite" aria-busy=move || busy().to_string() inner_html=answer></div>
                            {failed.map(|e| view! {
                                <div class="space-y-2">
                                    <ErrorBox error=e />
                                    <div class="flex gap-2">
                                        <button type="button" class=BUTTON on:click=move |_| start(retry.0.clone(), retry.1.clone())>"Retry"</button>
                                        <button type="button" class=BUTTON_SECONDARY on:click=move |_| {
                                            draft.set(edit.clone());
                                            pending.set(None);
                                        }>"Edit message"</button>
                                    </div>
                                </div>
                            })}
                        </div>
                    }
                })}
            </div>
        </div>
        <form
            node_ref=form
            method="post"
            action=SendMessage::url()
            class="mt-3 flex items-end gap-2"
            on:submit=send
        >
            <input type="hidden" name="id" value=id.get_value() />
            <input type="hidden" name="key" value=form_key />
            <label for="chat-message" class="sr-only">"Message"</label>
            <textarea
                id="chat-message"
                name="message"
                rows="1"
                required=true
                maxlength="16000"
                placeholder="Write a message…  (Enter sends, Shift+Enter starts a new line)"
                class=format!("{INPUT} mt-0 max-h-48 min-h-11 resize-none [field-sizing:content]")
                prop:value=move || draft.get()
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    save_draft(&id.get_value(), &text);
                    draft.set(text);
                }
                on:keydown=on_keydown
            ></textarea>
            <Show
                when=busy
                fallback=|| view! { <button class=format!("{BUTTON} h-11 shrink-0") type="submit">"Send"</button> }
            >
                <button
                    class=format!("{BUTTON_SECONDARY} h-11 shrink-0")
                    type="button"
                    disabled=stopping
                    on:click=stop
                    title="Stop the answer here; what was written so far is kept"
                >
                    {move || if stopping() { "Stopping…" } else { "Stop" }}
                </button>
            </Show>
        </form>
    }
}

/// One exchange: the message, the answer (Markdown), and what shaped the answer.
#[component]
fn Exchange(turn: ChatTurn) -> impl IntoView {
    let tokens = turn.prompt_tokens + turn.completion_tokens;
    let seconds = f64::from(turn.latency_ms) / 1000.0;
    let model = turn.model.clone().unwrap_or_else(|| "unknown model".into());
    let n = turn.memories.len();
    let memories = turn.memories.clone();
    let when = turn.at.format("%Y-%m-%d %H:%M UTC").to_string();
    let passages = turn.sources.len();
    let consulted = turn.sources.clone();
    view! {
        <li class="space-y-1" data-turn=turn.id.to_string()>
            <div class="flex justify-end">
                <p class="max-w-[85%] whitespace-pre-wrap break-words rounded-2xl rounded-br-sm bg-indigo-600 px-3 py-2 text-sm text-white">{turn.message}</p>
            </div>
            <ToolActivityList items=turn.tool_calls.iter().map(ToolActivity::of).collect() />
            {if turn.answer.is_empty() && turn.stopped {
                view! { <p class="text-sm italic text-slate-500" data-testid="answer">"Stopped before the answer began."</p> }.into_any()
            } else {
                view! { <div class="md max-w-[95%] text-sm" data-testid="answer" inner_html=markdown::to_html(&turn.answer)></div> }.into_any()
            }}
            <CitedSources sources=turn.sources.iter().filter(|s| s.cited).cloned().collect() />
            <details class="text-xs text-slate-500" data-testid="turn-meta">
                <summary class="cursor-pointer select-none">
                    <span data-testid="turn-model">{model}</span>
                    {format!(" · {tokens} tokens · {seconds:.1} s")}
                    {(n > 0).then(|| format!(" · {n} {}", if n == 1 { "memory" } else { "memories" }))}
                    {(passages > 0).then(|| format!(" · {passages} {}", if passages == 1 { "passage" } else { "passages" }))}
                    {turn.stopped.then(|| view! { <span data-testid="turn-stopped">" · stopped by you"</span> })}
                </summary>
                <div class="mt-1 space-y-1 pl-3">
                    <p>{format!("{when} · {} prompt + {} answer tokens", turn.prompt_tokens, turn.completion_tokens)}</p>
                    {if memories.is_empty() {
                        view! { <p>"No earlier exchange was recalled for this answer."</p> }.into_any()
                    } else {
                        view! {
                            <p>"Recalled from memory:"</p>
                            <ul class="list-disc pl-5" data-testid="turn-memories">
                                {memories.into_iter().map(|m| view! { <li>{m.excerpt}</li> }).collect_view()}
                            </ul>
                        }
                        .into_any()
                    }}
                    {(!consulted.is_empty()).then(|| view! {
                        <p>"Knowledge given to the model:"</p>
                        <ul class="list-disc pl-5" data-testid="turn-passages">
                            {consulted.into_iter().map(|s| view! {
                                <li>{format!("[{}] {} ({}, passage {}){}", s.n, s.title, s.collection, s.chunk + 1,
                                             if s.cited { " — cited" } else { "" })}</li>
                            }).collect_view()}
                        </ul>
                    })}
                </div>
            </details>
        </li>
    }
}

/// The passages an answer cites, under it: number, document and collection, with the start
/// of the passage on demand.
#[component]
fn CitedSources(sources: Vec<SourceRecord>) -> impl IntoView {
    (!sources.is_empty()).then(|| {
        view! {
            <div class="max-w-[95%] text-xs text-slate-600 dark:text-slate-400" data-testid="sources">
                <p class="font-medium">"Sources"</p>
                <ol class="mt-1 space-y-1">
                    {sources.into_iter().map(|s| view! {
                        <li data-testid="source">
                            <details>
                                <summary class="cursor-pointer select-none">
                                    <span class="font-mono">{format!("[{}]", s.n)}</span>
                                    " "
                                    <span class="font-medium">{s.title}</span>
                                    {format!(" · {}", s.collection)}
                                </summary>
                                <p class="mt-1 whitespace-pre-wrap border-l-2 border-slate-300 pl-2 dark:border-slate-600">{s.excerpt}</p>
                            </details>
                        </li>
                    }).collect_view()}
                </ol>
            </div>
        }
    })
}
