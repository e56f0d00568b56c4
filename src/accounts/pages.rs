//! Signing in with a client API key.

use super::fns::*;
use crate::app::components::*;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<ClientSignIn>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = sign_in.value().get() {
            navigate("/dashboard", Default::default());
        }
    });
    view! {
        <div class=format!("{CARD} max-w-xl")>
            <h1 class="mb-3 text-xl font-semibold">"Client sign-in"</h1>
            <ActionForm action=sign_in attr:class="space-y-3">
                <label class="block">
                    <span class=LABEL>"API key"</span>
                    <input class=INPUT type="password" name="api_key" placeholder="wfk_…" required=true />
                </label>
                <button class=BUTTON type="submit">"Sign in"</button>
            </ActionForm>
            {action_error(sign_in.value())}
            <ActionForm action=sign_out attr:class="mt-6">
                <button class=BUTTON_SECONDARY type="submit">"Sign out everywhere"</button>
            </ActionForm>
        </div>
    }
}
