#[cfg(feature = "ssr")]
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("audit") {
        return audit_command(&args[1..]);
    }
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
    // The first operator account, while there is none.
    workforce::accounts::server::people::ensure_operator(
        &state,
        std::env::var("WORKFORCE_ADMIN_EMAIL").ok().as_deref(),
        std::env::var("WORKFORCE_ADMIN_PASSWORD").ok().as_deref(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the first operator: {e}"))?;
    // Retention purges run for the life of the process (tests run sweeps themselves).
    workforce::memory::server::retention::start(
        state.clone(),
        std::time::Duration::from_secs(state.settings.file.memory.retention_sweep_seconds.max(1)),
    );
    let addr = state.leptos_options.site_addr;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{addr}");
    let limits = state.settings.file.server.clone();
    workforce::platform::serve::serve(listener, startup::build_router(state), &limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// `workforce audit verify [FILE]`: verifies an exported trail (JSON Lines, from
/// `GET …/audit/export`; standard input when FILE is absent or `-`). Prints the verdict as JSON;
/// exits 1 when the chain is broken.
#[cfg(feature = "ssr")]
fn audit_command(args: &[String]) -> anyhow::Result<()> {
    use std::io::BufRead;
    use workforce::audit::server::chain::{ChainedEvent, Verifier};
    let (Some("verify"), file) = (args.first().map(String::as_str), args.get(1)) else {
        anyhow::bail!("usage: workforce audit verify [FILE]  (an export of GET …/audit/export)");
    };
    let input: Box<dyn BufRead> = match file.map(String::as_str) {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
    };
    let mut v = Verifier::default();
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let e: ChainedEvent = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("line {}: not an audit event: {e}", n + 1))?;
        v.push(&e);
    }
    let verdict = v.finish();
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    if !verdict.ok {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser entry point is `hydrate()` in lib.rs.
}
