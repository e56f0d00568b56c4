//! The page shell, the routes and the components every page shares. Each feature holds its own
//! pages; this is the one place that knows them all.

pub mod api_docs;
pub mod components;
mod home;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{lazy_route, path, Lazy, LazyRoute, SsrMode};

/// A route whose page is loaded when it is first shown: with `cargo leptos --split` each page's
/// code is its own WASM file, fetched for the page at hand, so the first download is the shell
/// (header, router, reactive system) and that one page, not every page of the app.
macro_rules! lazy_page {
    ($route:ident => $page:ident) => {
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    };
}

use crate::accounts::pages::{InvitePage, SignInPage};
use crate::accounts::team::AccountPage;
use crate::audit::pages::AuditPage;
use crate::clients::pages::{ClientLimitsPage, OperatorPage};
use crate::conversations::chat::ChatPage;
use crate::employees::pages::{DashboardPage, EmployeePage};
use crate::employees::wizard_page::{EditEmployeePage, NewEmployeePage};
use crate::memory::pages::MemoryPage;
use api_docs::ApiDocsPage;
use home::HomePage;

lazy_page!(HomeRoute => HomePage);
lazy_page!(OperatorRoute => OperatorPage);
lazy_page!(ClientLimitsRoute => ClientLimitsPage);
lazy_page!(SignInRoute => SignInPage);
lazy_page!(InviteRoute => InvitePage);
lazy_page!(DashboardRoute => DashboardPage);
lazy_page!(NewEmployeeRoute => NewEmployeePage);
lazy_page!(EmployeeRoute => EmployeePage);
lazy_page!(EditEmployeeRoute => EditEmployeePage);
lazy_page!(ChatRoute => ChatPage);
lazy_page!(MemoryRoute => MemoryPage);
lazy_page!(AccountRoute => AccountPage);
lazy_page!(AuditRoute => AuditPage);
lazy_page!(ApiDocsRoute => ApiDocsPage);

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
    provide_context(components::SessionEpoch(RwSignal::new(0)));
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
                    <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/operator") view={Lazy::<OperatorRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/operator/clients/:id") view={Lazy::<ClientLimitsRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/signin") view={Lazy::<SignInRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/invite") view={Lazy::<InviteRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/dashboard") view={Lazy::<DashboardRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/new") view={Lazy::<NewEmployeeRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id") view={Lazy::<EmployeeRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id/edit") view={Lazy::<EditEmployeeRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id/chat") view={Lazy::<ChatRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/employees/:id/memory") view={Lazy::<MemoryRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::InOrder />
                    <Route path=path!("/api/docs") view={Lazy::<ApiDocsRoute>::new()} ssr=SsrMode::InOrder />
                </Routes>
            </main>
        </Router>
    }
}
