#[cfg(feature = "ssr")]
fn main() -> anyhow::Result<()> {
    // One inference thread per model worker (`local.*_workers` sets how many workers): on a
    // small machine several threads per inference mostly wait on each other. Set before any
    // other thread exists.
    for var in ["RAYON_NUM_THREADS", "CANDLE_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, "1");
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

#[cfg(feature = "ssr")]
async fn serve() -> anyhow::Result<()> {
    use workforce::platform::{config::Settings, db, startup};

    startup::init_tracing();
    let conf = leptos::config::get_configuration(None)?;
    let settings = Settings::load()?;
    db::migrate(&settings).await?;
    let pool = db::app_pool(&settings).await?;
    if settings.admin_token.is_none() {
        tracing::warn!(
            "WORKFORCE_ADMIN_TOKEN is not set: operator pages and onboarding are disabled"
        );
    }
    let state = startup::build_state(pool, settings, conf.leptos_options)?;
    let addr = state.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{addr}");
    axum::serve(listener, startup::build_router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser entry point is `hydrate()` in lib.rs.
}
