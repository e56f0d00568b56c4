//! The page shell, the routes and the components every page shares. Each feature holds its own
//! pages; this is the one place that knows them all.

pub mod api_docs;
pub mod components;
mod home;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/workforce.css" />
        <Title text="workforce" />
        <Router>
            <header class="border-b border-slate-200 bg-white">
                <nav class="mx-auto flex max-w-5xl items-center gap-6 px-6 py-4 text-sm">
                    <A href="/" attr:class="text-lg font-semibold tracking-tight text-indigo-700">
                        "workforce"
                    </A>
                    <A href="/dashboard" attr:class="text-slate-600 hover:text-slate-900">
                        "Dashboard"
                    </A>
                    <A href="/operator" attr:class="text-slate-600 hover:text-slate-900">
                        "Operator"
                    </A>
                    <a href="/api/docs" class="text-slate-600 hover:text-slate-900">"API"</a>
                    <A href="/signin" attr:class="ml-auto text-slate-600 hover:text-slate-900">
                        "Sign in"
                    </A>
                </nav>
            </header>
            <main class="mx-auto max-w-5xl px-6 py-8">
                <Routes fallback=|| view! { <p class="text-slate-600">"Page not found."</p> }>
                    <Route path=path!("/") view=home::HomePage />
                    <Route path=path!("/operator") view=crate::clients::pages::OperatorPage />
                    <Route path=path!("/signin") view=crate::accounts::pages::SignInPage />
                    <Route path=path!("/invite") view=crate::accounts::pages::InvitePage />
                    <Route path=path!("/dashboard") view=crate::employees::pages::DashboardPage />
                    <Route path=path!("/employees/new") view=crate::employees::pages::NewEmployeePage />
                    <Route path=path!("/employees/:id") view=crate::employees::pages::EmployeePage />
                    <Route path=path!("/employees/:id/chat") view=crate::conversations::chat::ChatPage />
                    <Route path=path!("/api/docs") view=api_docs::ApiDocsPage />
                </Routes>
            </main>
        </Router>
    }
}
