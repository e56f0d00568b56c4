//! Pools, migrations, the tenant transaction and the operator connection.
//!
//! Every tenant repository function takes a [`TenantTx`]: a transaction in which row-level
//! security shows one client's rows, carrying that client's id, so a query outside a tenant is
//! hard to write. The two reads across clients (listing clients, resolving an API key) go through
//! an [`OperatorConn`] and SECURITY DEFINER functions.

use super::config::Settings;
use crate::core::ClientId;
use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::time::Duration;

pub static MIGRATOR: Migrator = sqlx::migrate!();

/// The role every tenant query runs as.
pub const APP_ROLE: &str = "workforce_app";

/// Runs the migrations as the owner (`DATABASE_URL`) and sets the runtime role's password when
/// one is configured.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let opts = PgConnectOptions::from_str(settings.database_url.expose_secret())
        .context("DATABASE_URL")?;
    let mut conn = PgConnection::connect_with(&opts)
        .await
        .context("connecting as the owner")?;
    MIGRATOR
        .run(&mut conn)
        .await
        .context("running migrations")?;
    if let Some(pw) = &settings.app_database_password {
        let stmt: String =
            sqlx::query_scalar("SELECT format('ALTER ROLE workforce_app PASSWORD %L', $1::text)")
                .bind(pw.expose_secret())
                .fetch_one(&mut conn)
                .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await.ok();
    Ok(())
}

/// Connection options for the runtime role on the same server and database as `owner`.
pub fn app_options(owner: &PgConnectOptions, password: Option<&str>) -> PgConnectOptions {
    let opts = owner.clone().username(APP_ROLE);
    match password {
        Some(pw) => opts.password(pw),
        None => opts,
    }
}

/// The runtime pool, connected as `workforce_app`.
pub async fn app_pool(settings: &Settings) -> anyhow::Result<PgPool> {
    let opts = match &settings.app_database_url {
        Some(url) => {
            PgConnectOptions::from_str(url.expose_secret()).context("WORKFORCE_APP_DATABASE_URL")?
        }
        None => {
            let owner = PgConnectOptions::from_str(settings.database_url.expose_secret())?;
            app_options(
                &owner,
                settings
                    .app_database_password
                    .as_ref()
                    .map(|s| s.expose_secret()),
            )
        }
    };
    pool_options(settings.file.limits.db_max_connections)
        .connect_with(opts)
        .await
        .context("connecting as workforce_app")
}

/// Pool settings. A request waits at most `ACQUIRE_TIMEOUT` for a connection (then 503 with
/// Retry-After), so an outage is answered within seconds rather than held. sqlx checks a connection with a round trip each time it goes back to the
/// pool, and by default again each time it is taken out: a turn takes out two or three, so the
/// second check is skipped unless the connection sat idle for a while (as sqlx's own docs show).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub fn pool_options(max: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > Duration::from_secs(10) {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// A transaction scoped to one client: RLS sees only that client's rows until it ends. It
/// derefs to the connection, so a query runs on `&mut **tx`.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    client: ClientId,
}

impl TenantTx {
    /// Begins a transaction in which RLS shows only `client`'s rows (`set_config(..., true)` is
    /// transaction-local, so nothing leaks to the next user of the connection).
    pub async fn begin(pool: &PgPool, client: &ClientId) -> Result<Self, sqlx::Error> {
        begin_tenant(pool, client, "").await
    }

    /// A tenant transaction whose commit does not wait for the WAL to reach the disk: for writes
    /// that a crash may lose because they are redone anyway (the indexer's vectors).
    pub async fn begin_async_commit(pool: &PgPool, client: &ClientId) -> Result<Self, sqlx::Error> {
        begin_tenant(pool, client, "; SET LOCAL synchronous_commit = off").await
    }

    /// A tenant transaction whose prepared statements always run on their generic plan. For
    /// keyed reads whose best plan does not depend on the values: left to choose, Postgres kept
    /// planning a turn's read (recent turns + recall) afresh on every execution, which cost ~15%
    /// of its CPU at 16 concurrent turns (BENCHMARKS.md).
    pub async fn begin_generic_plans(
        pool: &PgPool,
        client: &ClientId,
    ) -> Result<Self, sqlx::Error> {
        begin_tenant(
            pool,
            client,
            "; SET LOCAL plan_cache_mode = force_generic_plan",
        )
        .await
    }

    /// The client whose rows this transaction sees.
    pub fn client(&self) -> &ClientId {
        &self.client
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// A pooled connection outside any tenant: RLS shows it no tenant row. Only the operator's
/// SECURITY DEFINER functions (`wf_list_clients`, `wf_lookup_api_key`) answer through it.
pub struct OperatorConn(PoolConnection<Postgres>);

impl OperatorConn {
    pub async fn acquire(pool: &PgPool) -> Result<Self, sqlx::Error> {
        Ok(OperatorConn(pool.acquire().await?))
    }
}

impl Deref for OperatorConn {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl DerefMut for OperatorConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

/// A value read from the database that the code does not know (a status, an id).
pub fn decode_err(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {what} '{value}' in the database").into())
}

/// `BEGIN` and the tenant in one round trip: one simple query of several statements. A
/// `ClientId` is `client_` and 24 lowercase hex digits (`ClientId::parse` is its only way in),
/// so it is written into the statement as it is; anything else is refused here all the same.
async fn begin_tenant(
    pool: &PgPool,
    client: &ClientId,
    then: &'static str,
) -> Result<TenantTx, sqlx::Error> {
    let id = client.as_str();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(sqlx::Error::InvalidArgument(format!(
            "not a client id: {id:?}"
        )));
    }
    let tx = pool
        .begin_with(sqlx::AssertSqlSafe(format!(
            "BEGIN; SELECT set_config('app.current_client_id', '{id}', true){then}"
        )))
        .await?;
    Ok(TenantTx {
        tx,
        client: client.clone(),
    })
}
