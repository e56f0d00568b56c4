//! Talking to one employee. The answer streams in token by token (`stream_message`); when it is
//! complete the history is read again from the employee's memory.

use super::ChatEvent;
#[cfg(feature = "ssr")]
use super::InteractionRequest;
use crate::app::components::*;
use crate::core::AppError;
use crate::employees::fns::get_employee;
use crate::memory::fns::recent_memory;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// The exchange in flight: what was said and what has streamed back so far.
#[derive(Clone, Default)]
struct Pending {
    message: String,
    answer: String,
}

/// Sends `message` and feeds the streamed answer into `pending`; returns the error, if any.
async fn stream_turn(
    id: String,
    message: String,
    pending: RwSignal<Option<Pending>>,
) -> Option<AppError> {
    use futures::StreamExt;
    let stream = match stream_message(id, message).await {
        Ok(s) => s,
        Err(e) => return Some(e),
    };
    let mut pieces = stream.into_inner();
    let mut buffer = String::new();
    while let Some(piece) = pieces.next().await {
        match piece {
            Ok(text) => buffer.push_str(&text),
            Err(e) => return Some(e),
        }
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
                Ok(ChatEvent::Done(_)) => return None,
                Ok(ChatEvent::Error(e)) => return Some(e),
                Err(e) => {
                    return Some(AppError::Transport {
                        message: format!("unreadable answer: {e}"),
                    })
                }
            }
        }
    }
    Some(AppError::Transport {
        message: "the answer was cut off".into(),
    })
}

#[component]
pub fn ChatPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let employee = Resource::new(id, get_employee);
    let turns = RwSignal::new(0u32);
    let history = Resource::new(move || (id(), turns.get()), |(id, _)| recent_memory(id));
    let pending = RwSignal::new(None::<Pending>);
    let error = RwSignal::new(None::<AppError>);
    let draft = RwSignal::new(String::new());

    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let message = draft.get_untracked().trim().to_owned();
        if message.is_empty() || pending.get_untracked().is_some() {
            return;
        }
        draft.set(String::new());
        error.set(None);
        pending.set(Some(Pending {
            message: message.clone(),
            answer: String::new(),
        }));
        let id = id();
        leptos::task::spawn_local(async move {
            let failed = stream_turn(id, message, pending).await;
            // The turn is stored either way (a failed one keeps the message): show the history.
            turns.update(|n| *n += 1);
            pending.set(None);
            error.set(failed);
        });
    };

    view! {
        <p class="mb-4 text-sm">
            <A href=move || format!("/employees/{}", id()) attr:class="text-indigo-700 hover:underline">"← Employee"</A>
        </p>
        <div class=format!("{CARD} max-w-3xl")>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let name = employee.await.map(|e| e.name).unwrap_or_default();
                    view! { <h1 class="mb-4 text-xl font-semibold">"Chat with " {name}</h1> }
                })}
            </Transition>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Err(e) => view! { <ErrorBox error=e /> }.into_any(),
                        Ok(items) if items.is_empty() => {
                            view! { <p class="text-sm text-slate-500">"No messages yet."</p> }.into_any()
                        }
                        Ok(mut items) => {
                            items.reverse();
                            view! {
                                <ol class="space-y-3" data-testid="chat-log">
                                    {items
                                        .into_iter()
                                        .map(|m| view! { <Exchange message=m.content answer=m.response /> })
                                        .collect_view()}
                                </ol>
                            }
                            .into_any()
                        }
                    }
                })}
            </Transition>
            {move || pending.get().map(|p| view! {
                <ol class="mt-3 space-y-3" data-testid="chat-pending" aria-live="polite">
                    <Exchange message=p.message answer=if p.answer.is_empty() { "…".to_owned() } else { p.answer } />
                </ol>
            })}
            <form class="mt-4 flex gap-2" on:submit=send>
                <input class=INPUT name="message" placeholder="Write a message…" required=true autocomplete="off"
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev)) />
                <button class=format!("{BUTTON} shrink-0") type="submit" disabled=move || pending.with(Option::is_some)>
                    {move || if pending.with(Option::is_some) { "Answering…" } else { "Send" }}
                </button>
            </form>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
        </div>
    }
}

#[component]
fn Exchange(message: String, answer: String) -> impl IntoView {
    view! {
        <li class="space-y-1">
            <p class="ml-auto w-fit max-w-[80%] rounded-lg bg-indigo-600 px-3 py-2 text-sm text-white">{message}</p>
            <p class="w-fit max-w-[80%] whitespace-pre-wrap rounded-lg bg-slate-100 px-3 py-2 text-sm" data-testid="answer">{answer}</p>
        </li>
    }
}

/// One chat turn, streamed to the page as newline-delimited [`ChatEvent`]s: tokens as they are
/// generated, then `done` with the stored interaction (or `error`). The turn is stored even if
/// the page goes away mid-answer.
#[server(prefix = "/rpc", output = leptos::server_fn::codec::StreamingText)]
pub async fn stream_message(
    id: String,
    message: String,
) -> Result<leptos::server_fn::codec::TextStream<AppError>, AppError> {
    let result = async {
        let (state, who, id) = crate::accounts::server::principal::employee_in_context(
            crate::accounts::Scope::Interact,
            &id,
        )?;
        let req = InteractionRequest {
            message,
            context: None,
            task_type: None,
        };
        let rx = super::server::stream::interact_stream(&state, &who, &id, &req, None).await?;
        let lines = futures::stream::unfold(rx, |mut rx| async move {
            let event = rx.recv().await?;
            Some((Ok(event.to_line()), rx))
        });
        Ok(leptos::server_fn::codec::TextStream::new(lines))
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}
