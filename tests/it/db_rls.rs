//! Row-level security, proven against the real Postgres as the runtime role `workforce_app`.

use crate::helpers;
use chrono::Utc;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use workforce::audit::server::repo::{insert_audit, insert_status_change, AuditEvent};
use workforce::audit::{Actor, AuditAction};
use workforce::clients::server::repo::{insert_client, list_all_clients};
use workforce::clients::*;
use workforce::core::{ClientId, EmployeeId, KeyId};
use workforce::employees::generator::generate_employee;
use workforce::employees::server::repo::{get_employee, insert_employee};
use workforce::employees::*;
use workforce::platform::db::{OperatorConn, TenantTx};

const TENANT_TABLES: [&str; 7] = [
    "clients",
    "employees",
    "employee_status_history",
    "employee_interactions",
    "interaction_vectors",
    "api_keys",
    "audit_events",
];

fn client(name: &str) -> Client {
    let now = Utc::now();
    Client {
        id: ClientId::generate(),
        name: name.into(),
        industry: None,
        tier: "starter".into(),
        configuration: ClientConfiguration {
            max_employees: 5,
            allowed_models: vec!["gpt-4o-mini".into()],
            security_level: SecurityLevel::Standard,
            compliance_requirements: vec![],
            retention_days: None,
        },
        status: ClientStatus::Active,
        created_at: now,
        updated_at: now,
    }
}

fn employee(c: &Client) -> Employee {
    let req: EmployeeRequirements =
        serde_json::from_value(helpers::requirements("analyst")).expect("req");
    let cfg =
        generate_employee(&req, &c.configuration.allowed_models, "gpt-4o-mini").expect("config");
    cfg.into_employee(EmployeeId::generate(&c.id), c.id.clone(), Utc::now())
}

/// Seeds one client with an employee, a status row, an interaction, a key and an audit event,
/// all through the runtime role inside the client's own tenant transaction.
async fn seed(pool: &PgPool, name: &str) -> (Client, Employee) {
    let c = client(name);
    let e = employee(&c);
    let mut tx = TenantTx::begin(pool, &c.id).await.expect("tx");
    insert_client(&mut tx, &c).await.expect("client");
    insert_employee(&mut tx, &e).await.expect("employee");
    // The client id's random part makes a key id of its own for each client.
    let key_id = KeyId::parse(&c.id.as_str()[7..23]).expect("key id");
    let actor = Actor::ApiKey(key_id.clone());
    insert_status_change(&mut tx, &e.id, None, e.status, &actor)
        .await
        .expect("status");
    workforce::accounts::server::repo::insert_api_key(
        &mut tx,
        &key_id,
        "hash",
        "default",
        &[workforce::accounts::Scope::Admin],
        None,
    )
    .await
    .expect("key");
    insert_audit(
        &mut tx,
        AuditEvent {
            actor: &actor,
            action: AuditAction::EmployeeCreate,
            entity_id: e.id.as_str(),
            before: None,
            after: None,
        },
    )
    .await
    .expect("audit");
    sqlx::query(
        "INSERT INTO employee_interactions (client_id, employee_id, interaction_id, message, response)
         VALUES ($1, $2, 'i1', 'hello', 'hi')",
    )
    .bind(c.id.as_str())
    .bind(e.id.as_str())
    .execute(&mut *tx)
    .await
    .expect("interaction");
    let stored = workforce::memory::server::repo::insert_vectors(
        &mut tx,
        &[e.id.as_str()],
        &["i1"],
        "test-model",
        &[&pgvector::HalfVector::from_f32_slice(&[0.6, 0.8])],
    )
    .await
    .expect("vector");
    assert_eq!(stored, 1);
    tx.commit().await.expect("commit");
    (c, e)
}

async fn count(conn: &mut PgConnection, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(conn)
        .await
        .expect("count")
}

#[sqlx::test]
async fn with_no_client_set_every_tenant_table_reads_empty(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let pool = helpers::app_pool(&owner).await;
    seed(&pool, "A").await;
    seed(&pool, "B").await;

    let mut as_owner = PgConnection::connect_with(&owner).await.expect("owner");
    assert_eq!(count(&mut as_owner, "employees").await, 2, "the rows exist");

    let mut conn = pool.acquire().await.expect("conn");
    for table in TENANT_TABLES {
        assert_eq!(
            count(&mut conn, table).await,
            0,
            "{table} must read empty with no client set"
        );
    }
    // An empty setting is the same as none.
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("SELECT set_config('app.current_client_id', '', true)")
        .execute(&mut *tx)
        .await
        .expect("set");
    assert_eq!(count(&mut tx, "employees").await, 0);
}

#[sqlx::test]
async fn client_a_can_neither_read_nor_write_client_b(_p: PgPoolOptions, owner: PgConnectOptions) {
    let pool = helpers::app_pool(&owner).await;
    let (a, a_emp) = seed(&pool, "A").await;
    let (b, b_emp) = seed(&pool, "B").await;

    let mut tx = TenantTx::begin(&pool, &a.id).await.expect("tx");
    for table in TENANT_TABLES {
        assert_eq!(
            count(&mut tx, table).await,
            1,
            "{table}: A sees exactly its own row"
        );
    }
    let seen: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM clients WHERE id = $1) + (SELECT count(*) FROM employees WHERE id = $2)",
    )
    .bind(b.id.as_str())
    .bind(b_emp.id.as_str())
    .fetch_one(&mut *tx)
    .await
    .expect("q");
    assert_eq!(
        seen, 0,
        "B's client and employee are invisible to A, asked for by id"
    );
    assert!(get_employee(&mut tx, &a_emp.id, false)
        .await
        .expect("q")
        .is_some());

    // Update and delete of B's rows touch nothing.
    let updated = sqlx::query("UPDATE employees SET name = 'pwned' WHERE id = $1")
        .bind(b_emp.id.as_str())
        .execute(&mut *tx)
        .await
        .expect("update runs");
    assert_eq!(updated.rows_affected(), 0);
    let deleted = sqlx::query("DELETE FROM employee_interactions WHERE client_id = $1")
        .bind(b.id.as_str())
        .execute(&mut *tx)
        .await
        .expect("delete runs");
    assert_eq!(deleted.rows_affected(), 0);
    // Moving A's own employee to B is refused by WITH CHECK.
    let moved = sqlx::query("UPDATE employees SET client_id = $1 WHERE id = $2")
        .bind(b.id.as_str())
        .bind(a_emp.id.as_str())
        .execute(&mut *tx)
        .await;
    assert!(moved.is_err(), "moving a row to another client must fail");
    tx.rollback().await.expect("rollback");

    // Inserting rows for B from A's transaction is refused.
    for sql in [
        "INSERT INTO audit_events (client_id, actor, action, entity_type, entity_id) VALUES ($1, 'x', 'x', 'x', 'x')",
        "INSERT INTO api_keys (client_id, id, key_hash) VALUES ($1, 'kforged', 'h')",
        "INSERT INTO interaction_vectors (client_id, employee_id, interaction_id, model, embedding)
         VALUES ($1, 'x', 'i1', 'm', '[1,0]')",
    ] {
        let mut tx = TenantTx::begin(&pool, &a.id).await.expect("tx");
        let r = sqlx::query(sql).bind(b.id.as_str()).execute(&mut *tx).await;
        let err = r.expect_err("insert for another client must fail").to_string();
        assert!(err.contains("row-level security"), "{err}");
    }
    let mut tx = TenantTx::begin(&pool, &a.id).await.expect("tx");
    let forged = employee(&b);
    assert!(insert_employee(&mut tx, &forged).await.is_err());
    drop(tx);

    let mut as_owner = PgConnection::connect_with(&owner).await.expect("owner");
    let name: String = sqlx::query_scalar("SELECT name FROM employees WHERE id = $1")
        .bind(b_emp.id.as_str())
        .fetch_one(&mut as_owner)
        .await
        .expect("b still there");
    assert_eq!(name, b_emp.name);
    assert_eq!(count(&mut as_owner, "employee_interactions").await, 2);
}

#[sqlx::test]
async fn the_tenant_setting_does_not_outlive_its_transaction(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(workforce::platform::db::app_options(
            &owner,
            crate::helpers::app_password().as_deref(),
        ))
        .await
        .expect("pool");
    let (a, _) = seed(&pool, "A").await;
    let mut tx = TenantTx::begin(&pool, &a.id).await.expect("tx");
    assert_eq!(count(&mut tx, "employees").await, 1);
    tx.commit().await.expect("commit");
    // Same single connection, no tenant transaction: nothing is visible.
    let mut conn = pool.acquire().await.expect("conn");
    assert_eq!(count(&mut conn, "employees").await, 0);
}

#[sqlx::test]
async fn the_runtime_role_is_unprivileged_and_the_operator_path_is_narrow(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let pool = helpers::app_pool(&owner).await;
    let (a, _) = seed(&pool, "A").await;
    let (b, _) = seed(&pool, "B").await;
    let mut conn = OperatorConn::acquire(&pool).await.expect("conn");

    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *conn)
            .await
            .expect("role");
    assert!(!superuser && !bypass);
    let owned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
            .fetch_one(&mut *conn)
            .await
            .expect("owned");
    assert_eq!(owned, 0, "workforce_app must own no table");

    // The operator path lists every client, and resolves keys, but exposes nothing else.
    let all = list_all_clients(&mut conn).await.expect("list");
    let ids: Vec<_> = all.iter().map(|c| c.id.clone()).collect();
    assert!(ids.contains(&a.id) && ids.contains(&b.id));
    assert!(sqlx::query("SET ROLE workforce_operator")
        .execute(&mut *conn)
        .await
        .is_err());
    assert!(sqlx::query("SELECT * FROM wf_list_clients() WHERE false")
        .execute(&mut *conn)
        .await
        .is_ok());
    // The runtime role cannot rewrite the audit trail.
    let mut tx = TenantTx::begin(&pool, &a.id).await.expect("tx");
    assert!(sqlx::query("DELETE FROM audit_events")
        .execute(&mut *tx)
        .await
        .is_err());
}

#[sqlx::test]
async fn every_table_that_holds_a_clients_rows_forces_row_level_security(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    // Every table with a client_id column (and clients itself), with its RLS flags and the
    // number of policies that both filter reads and check writes on the tenant setting.
    let rows: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                (SELECT count(*) FROM pg_policies p
                 WHERE p.tablename = c.relname AND p.qual LIKE '%app.current_client_id%'
                   AND (p.with_check LIKE '%app.current_client_id%' OR p.cmd = 'SELECT'))
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND (c.relname = 'clients' OR EXISTS (
                SELECT 1 FROM information_schema.columns col
                WHERE col.table_schema = 'public' AND col.table_name = c.relname
                  AND col.column_name = 'client_id'))
         ORDER BY 1",
    )
    .fetch_all(&mut db)
    .await
    .expect("catalog");
    assert!(rows.len() >= 10, "{rows:?}");
    for (table, enabled, forced, policies) in &rows {
        assert!(
            *enabled && *forced && *policies > 0,
            "{table}: RLS enabled {enabled}, forced {forced}, tenant policies {policies}"
        );
    }
    db.close().await.ok();
}
