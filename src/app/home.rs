//! The landing page.

use super::components::{BUTTON, BUTTON_SECONDARY};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="" />
        <section class="space-y-4">
            <h1 class="text-3xl font-semibold tracking-tight">"Hire AI employees"</h1>
            <p class="max-w-2xl text-slate-600">
                "An operator onboards a client; the client creates employees from requirements — role, industry, expertise, personality, models, tools and knowledge — and manages their lifecycle."
            </p>
            <div class="flex gap-3">
                <A href="/operator" attr:class=BUTTON>"Operator console"</A>
                <A href="/signin" attr:class=BUTTON_SECONDARY>"Client sign-in"</A>
            </div>
        </section>
    }
}
