//! Signing in (a person's email and password, or a client API key) and accepting an invite.

use super::fns::*;
use super::{Person, Role};
use crate::app::components::*;
use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

/// Where a person lands once signed in.
fn home_of(person: &Person) -> &'static str {
    if person.role == Role::Operator {
        "/operator"
    } else {
        "/dashboard"
    }
}

/// Goes to `to(output)` once `value` holds a successful output.
fn go_on_success<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    to: fn(&T) -> &'static str,
) {
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(out)) = value.get() {
            session_changed();
            navigate(to(&out), Default::default());
        }
    });
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let with_key = ServerAction::<ClientSignIn>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let sign_out_everywhere = ServerAction::<SignOutEverywhere>::new();
    go_on_success(sign_in.value(), home_of);
    go_on_success(with_key.value(), |_| "/dashboard");
    view! {
        <Title text="Sign in" />
        <div class=format!("{CARD} max-w-xl")>
            <h1 class="mb-3 text-xl font-semibold">"Sign in"</h1>
            <ActionForm action=sign_in attr:class="space-y-3">
                <label class="block">
                    <span class=LABEL>"Email"</span>
                    <input class=INPUT type="email" name="email" autocomplete="username" required=true />
                </label>
                <label class="block">
                    <span class=LABEL>"Password"</span>
                    <input class=INPUT type="password" name="password" autocomplete="current-password" required=true />
                </label>
                <button class=BUTTON type="submit">"Sign in"</button>
            </ActionForm>
            {action_error(sign_in.value())}
            <details class="mt-6 text-sm">
                <summary class="cursor-pointer text-slate-600">"Use a client API key instead"</summary>
                <ActionForm action=with_key attr:class="mt-3 space-y-3">
                    <label class="block">
                        <span class=LABEL>"API key"</span>
                        <input class=INPUT type="password" name="api_key" placeholder="wfk_…" required=true />
                    </label>
                    <button class=BUTTON_SECONDARY type="submit">"Continue with the key"</button>
                </ActionForm>
                {action_error(with_key.value())}
            </details>
            <div class="mt-6 flex gap-3">
                <ActionForm action=sign_out>
                    <button class=BUTTON_SECONDARY type="submit">"Sign out"</button>
                </ActionForm>
                <ActionForm action=sign_out_everywhere>
                    <button class=BUTTON_SECONDARY type="submit">"Sign out on every device"</button>
                </ActionForm>
            </div>
        </div>
    }
}

/// `/invite#<token>`: the invited person picks their email and password. The token travels in
/// the fragment, which browsers never send to a server (nor put in a `Referer`); the page reads
/// it once hydrated.
#[component]
pub fn InvitePage() -> impl IntoView {
    let accept = ServerAction::<AcceptInvite>::new();
    let token = RwSignal::new(String::new());
    Effect::new(move |_| {
        let hash = window().location().hash().unwrap_or_default();
        token.set(hash.trim_start_matches('#').to_owned());
    });
    go_on_success(accept.value(), home_of);
    view! {
        <Title text="Accept an invitation" />
        <div class=format!("{CARD} max-w-xl")>
            <h1 class="mb-1 text-xl font-semibold">"Accept your invitation"</h1>
            <p class="mb-4 text-sm text-slate-600">
                "Choose the email and the password you will sign in with (at least 12 characters)."
            </p>
            <ActionForm action=accept attr:class="space-y-3">
                <input type="hidden" name="token" prop:value=move || token.get() />
                <label class="block">
                    <span class=LABEL>"Email"</span>
                    <input class=INPUT type="email" name="email" autocomplete="username" required=true />
                </label>
                <label class="block">
                    <span class=LABEL>"Password"</span>
                    <input class=INPUT type="password" name="password" autocomplete="new-password" minlength="12" required=true />
                </label>
                <button class=BUTTON type="submit">"Create my account"</button>
            </ActionForm>
            {action_error(accept.value())}
        </div>
    }
}
