//! Talking to one employee.

use super::components::*;
use crate::api::fns::*;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ChatPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let send = ServerAction::<SendMessage>::new();
    let employee = Resource::new(id, get_employee);
    let history = Resource::new(
        move || (id(), send.version().get()),
        |(id, _)| recent_memory(id),
    );

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
                                        .map(|m| view! {
                                            <li class="space-y-1">
                                                <p class="ml-auto w-fit max-w-[80%] rounded-lg bg-indigo-600 px-3 py-2 text-sm text-white">{m.content}</p>
                                                <p class="w-fit max-w-[80%] whitespace-pre-wrap rounded-lg bg-slate-100 px-3 py-2 text-sm">{m.response}</p>
                                            </li>
                                        })
                                        .collect_view()}
                                </ol>
                            }
                            .into_any()
                        }
                    }
                })}
            </Transition>
            <ActionForm action=send attr:class="mt-4 flex gap-2">
                <input type="hidden" name="id" value=id />
                <input class=INPUT name="message" placeholder="Write a message…" required=true autocomplete="off" />
                <button class=format!("{BUTTON} shrink-0") type="submit" disabled=move || send.pending().get()>
                    {move || if send.pending().get() { "Sending…" } else { "Send" }}
                </button>
            </ActionForm>
            {action_error(send.value())}
        </div>
    }
}
