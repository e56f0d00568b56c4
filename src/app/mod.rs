//! The page shell, the routes and the components every page shares. Each feature holds its own
//! pages; this is the one place that knows them all.

pub mod api_docs;
pub mod components;
mod home;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// Applies the theme chosen with the header's toggle before the first paint (no flash of the
/// other theme); without a choice the page follows the system setting (`style/tailwind.css`).
const THEME_SCRIPT: &str = "try{var t=localStorage.getItem('workforce.theme');if(t==='dark'||t==='light')document.documentElement.classList.add(t)}catch(e){}";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <script>{THEME_SCRIPT}</script>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HashedStylesheet options=options.clone() id="leptos" />
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
    let epoch = RwSignal::new(0);
    provide_context(components::SessionEpoch(epoch));
    provide_context(components::SessionResource::new(epoch));
    // Every page is rendered whole, in order, before it is sent (`SsrMode::InOrder`): it reads
    // the same with the script still loading or turned off, and nothing shows "Loading…" that
    // the server knew.
    view! {
        <Title formatter=|page: String| if page.is_empty() { "workforce".to_owned() } else { format!("{page} · workforce") } />
        <Router>
            <a href="#main" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-surface focus:px-3 focus:py-2">"Skip to content"</a>
            <components::Header />
            <main id="main" class="mx-auto max-w-5xl px-3 py-4 sm:px-6 sm:py-8">
                <Routes fallback=|| view! { <Title text="Not found" /><p class="text-slate-600">"Page not found."</p> }>
                    <Route path=path!("/") view=home::HomePage ssr=SsrMode::InOrder />
                    <Route path=path!("/operator") view=crate::clients::pages::OperatorPage ssr=SsrMode::InOrder />
                    <Route path=path!("/operator/clients/:id") view=crate::clients::pages::ClientLimitsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/signin") view=crate::accounts::pages::SignInPage ssr=SsrMode::InOrder />
                    <Route path=path!("/invite") view=crate::accounts::pages::InvitePage ssr=SsrMode::InOrder />
                    <Route path=path!("/dashboard") view=crate::employees::pages::DashboardPage ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/new") view=crate::employees::wizard_page::NewEmployeePage ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id") view=crate::employees::pages::EmployeePage ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id/edit") view=crate::employees::wizard_page::EditEmployeePage ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id/chat") view=crate::conversations::chat::ChatPage ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id/memory") view=crate::memory::pages::MemoryPage ssr=SsrMode::InOrder />
                    <Route path=path!("/account") view=crate::accounts::team::AccountPage ssr=SsrMode::InOrder />
                    <Route path=path!("/audit") view=crate::audit::pages::AuditPage ssr=SsrMode::InOrder />
                    <Route path=path!("/tools") view=crate::tools::pages::ToolsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/knowledge") view=crate::knowledge::pages::KnowledgePage ssr=SsrMode::InOrder />
                    <Route path=path!("/api/docs") view=api_docs::ApiDocsPage ssr=SsrMode::InOrder />
                </Routes>
            </main>
        </Router>
    }
}
