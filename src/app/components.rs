//! Small shared pieces of UI.

use crate::accounts::fns::{current_session, SignOut};
use crate::accounts::Role;
use crate::core::AppError;
use crate::employees::EmployeeStatus;
use leptos::prelude::*;
use leptos_router::components::A;

pub const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 bg-surface px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none";
pub const LABEL: &str = "block text-sm font-medium text-slate-700";
pub const BUTTON: &str = "inline-flex items-center rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50";
pub const BUTTON_SECONDARY: &str = "inline-flex items-center rounded-md border border-slate-300 bg-surface px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50";
pub const BUTTON_DANGER: &str = "inline-flex items-center rounded-md border border-red-300 bg-surface px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50";
pub const CARD: &str = "rounded-lg border border-slate-200 bg-surface p-6 shadow-sm";

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

const NAV_LINK: &str = "shrink-0 rounded px-1 py-1 text-slate-600 hover:text-slate-900 aria-[current=page]:font-semibold aria-[current=page]:text-slate-900";

/// The header: where one can go, as far as the one signed in may, who that is, sign-out, and the
/// theme toggle. On a phone the links scroll sideways instead of wrapping.
/// Bumped whenever someone signs in or out on this page, so the header reads the session again.
#[derive(Clone, Copy)]
pub struct SessionEpoch(pub RwSignal<u32>);

/// Who is signed in, read once per page for the header and the page alike (`App` provides it);
/// read again whenever `session_changed` is called.
#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<crate::accounts::Session, AppError>>);

impl SessionResource {
    /// A session resource following `epoch`.
    pub fn new(epoch: RwSignal<u32>) -> Self {
        SessionResource(Resource::new(move || epoch.get(), |_| current_session()))
    }
}

/// The page's session (the one `App` provides; a fresh one outside it).
pub fn use_session() -> Resource<Result<crate::accounts::Session, AppError>> {
    use_context::<SessionResource>()
        .unwrap_or_else(|| SessionResource::new(RwSignal::new(0)))
        .0
}

/// Tells the header the session changed (a sign-in or sign-out on this page).
pub fn session_changed() {
    if let Some(SessionEpoch(epoch)) = use_context::<SessionEpoch>() {
        epoch.update(|n| *n += 1);
    }
}

/// Asks the person to confirm `question` (the browser's own dialog); `true` without a script.
pub fn confirmed(_question: &str) -> bool {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        return window.confirm_with_message(_question).unwrap_or(false);
    }
    true
}

/// What this browser keeps under `key` (its local storage); `None` on the server.
pub fn stored(_key: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let storage = web_sys::window()?.local_storage().ok()??;
        storage.get_item(_key).ok()?
    }
    #[cfg(not(feature = "hydrate"))]
    {
        None
    }
}

/// Keeps `text` under `key` in this browser; an empty text removes it.
pub fn store(_key: &str, _text: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(Ok(Some(storage))) = web_sys::window().map(|w| w.local_storage()) {
        let _ = if _text.is_empty() {
            storage.remove_item(_key)
        } else {
            storage.set_item(_key, _text)
        };
    }
}

/// A button that copies `text` to the clipboard and says so.
#[component]
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub fn CopyButton(text: String, #[prop(optional)] label: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    let label = if label.is_empty() { "Copy" } else { label };
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
    };
    view! {
        <button type="button" class=BUTTON_SECONDARY on:click=copy>
            {move || if copied.get() { "Copied" } else { label }}
        </button>
    }
}

#[component]
pub fn Header() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let session = use_session();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            session_changed();
            navigate("/signin", Default::default());
        }
    });
    view! {
        <header class="border-b border-slate-200 bg-surface">
            <nav aria-label="Main" class="mx-auto flex max-w-5xl items-center gap-4 px-3 py-3 text-sm sm:gap-6 sm:px-6">
                <A href="/" attr:class="shrink-0 text-lg font-semibold tracking-tight text-indigo-700">"workforce"</A>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let s = session.await.ok();
                        let operator = s.as_ref().is_some_and(|s| s.operator);
                        let client = s.as_ref().and_then(|s| s.client.clone());
                        let person = s.as_ref().and_then(|s| s.person.clone());
                        let who = match (&person, &client, operator) {
                            (Some(p), _, _) => Some(format!("{} ({})", p.email, p.role.as_str())),
                            (None, Some(c), _) => Some(format!("{} (API key)", c.name)),
                            (None, None, true) => Some("Operator (token)".to_owned()),
                            _ => None,
                        };
                        let role = person.as_ref().map(|p| p.role);
                        view! {
                            <div class="flex min-w-0 flex-1 items-center gap-4 overflow-x-auto sm:gap-6">
                                {client.is_some().then(|| view! { <A href="/dashboard" attr:class=NAV_LINK>"Dashboard"</A> })}
                                // The trail is for owners and admins (and a client's own admin key).
                                {(client.is_some() && role != Some(Role::Member)).then(|| view! { <A href="/tools" attr:class=NAV_LINK>"Tools"</A> })}
                                {(client.is_some() && role != Some(Role::Member)).then(|| view! { <A href="/knowledge" attr:class=NAV_LINK>"Knowledge"</A> })}
                                {(client.is_some() && role != Some(Role::Member)).then(|| view! { <A href="/audit" attr:class=NAV_LINK>"Audit"</A> })}
                                {(client.is_some() && role != Some(Role::Member)).then(|| view! { <A href="/account" attr:class=NAV_LINK>"People and keys"</A> })}
                                {(operator || role == Some(Role::Operator)).then(|| view! { <A href="/operator" attr:class=NAV_LINK>"Operator"</A> })}
                                <a href="/api/docs" class=NAV_LINK>"API"</a>
                            </div>
                            {match who {
                                Some(who) => view! {
                                    <span class="sr-only">"Signed in as "</span>
                                    <span class="hidden max-w-56 truncate text-slate-600 md:inline" data-testid="signed-in-as" title=who.clone()>{who.clone()}</span>
                                    <ActionForm action=sign_out attr:class="shrink-0">
                                        <button type="submit" class="rounded px-1 py-1 text-slate-600 hover:text-slate-900">"Sign out"</button>
                                    </ActionForm>
                                }.into_any(),
                                None => view! { <A href="/signin" attr:class=NAV_LINK>"Sign in"</A> }.into_any(),
                            }}
                        }
                    })}
                </Suspense>
                <ThemeToggle />
            </nav>
        </header>
    }
}

/// Light, dark, or as the system says: the choice is kept in this browser.
#[component]
fn ThemeToggle() -> impl IntoView {
    // What the page shows is set by the script in the page's head; this only changes it.
    let toggle = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let Some(window) = web_sys::window() else {
                return;
            };
            let Some(root) = window.document().and_then(|d| d.document_element()) else {
                return;
            };
            let classes = root.class_list();
            let dark_now = classes.contains("dark")
                || (!classes.contains("light")
                    && window
                        .match_media("(prefers-color-scheme: dark)")
                        .ok()
                        .flatten()
                        .is_some_and(|m| m.matches()));
            let next = if dark_now { "light" } else { "dark" };
            let _ = classes.remove_2("dark", "light");
            let _ = classes.add_1(next);
            if let Ok(Some(storage)) = window.local_storage() {
                let _ = storage.set_item("workforce.theme", next);
            }
        }
    };
    view! {
        <button type="button" on:click=toggle class="shrink-0 rounded p-1 text-slate-600 hover:text-slate-900" aria-label="Switch between light and dark" title="Switch between light and dark">
            <svg aria-hidden="true" viewBox="0 0 24 24" class="h-5 w-5" fill="none" stroke="currentColor" stroke-width="2">
                <path d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z" />
            </svg>
        </button>
    }
}
