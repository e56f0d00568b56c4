//! The sweeper: finds answered exchanges without a vector of the current model and hands them
//! to the indexer (waiting for room, so nothing is dropped).

use super::jobs::{IndexJob, Missed};
use super::repo::{self, MissingAfter};
use crate::clients::server::service::all_client_ids;
use crate::core::InteractionId;
use crate::platform::db::TenantTx;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::mpsc;

/// Exchanges the sweeper reads at a time.
const SWEEP_PAGE: u32 = 1000;
/// How far before a dropped exchange's timestamp the sweeper starts looking.
const SWEEP_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// Finds answered exchanges without a vector of the current model and queues them (waiting for
/// room, so nothing is dropped):
/// * once at start-up, every exchange: what a crash or restart left undone, and after a switch
///   of embedding model the whole history, which is then embedded again with the new model;
/// * then, every `every` (`memory.sweep_seconds`), the exchanges from the oldest one the
///   indexer dropped or failed on, when it did; otherwise the sweeper has nothing to do.
pub(super) async fn run_sweeper(
    pool: PgPool,
    model: String,
    every: Duration,
    tx: mpsc::WeakSender<IndexJob>,
    missed: Missed,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut whole_pass_done = false;
    loop {
        tick.tick().await;
        let Some(sender) = tx.upgrade() else { return };
        if !whole_pass_done {
            match sweep(&pool, &model, &sender, None).await {
                Ok(()) => whole_pass_done = true,
                Err(e) => tracing::warn!("memory sweep over all exchanges failed: {e}"),
            }
            continue;
        }
        let Some(since) = missed.take() else { continue };
        // A row becomes visible at its commit, a moment after its timestamp was taken.
        let from = since.checked_sub_signed(SWEEP_MARGIN).unwrap_or(since);
        if let Err(e) = sweep(&pool, &model, &sender, Some(from)).await {
            tracing::warn!("memory sweep failed: {e}");
            missed.note(since);
        }
    }
}

/// Queues every answered exchange without a vector of `model`: all of them (`from` None), or
/// those stored from `from` on.
async fn sweep(
    pool: &PgPool,
    model: &str,
    tx: &mpsc::Sender<IndexJob>,
    from: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    for client in all_client_ids(pool).await? {
        // The last exchange queued: (employee, exchange, timestamp).
        let mut last: Option<(String, InteractionId, DateTime<Utc>)> = None;
        loop {
            let after = match (&last, from) {
                (None, None) => MissingAfter::Employee(""),
                (None, Some(from)) => MissingAfter::Time(from),
                (Some((employee, _, _)), None) => MissingAfter::Employee(employee),
                (Some((_, _, timestamp)), Some(_)) => MissingAfter::Time(*timestamp),
            };
            let after_interaction = last.as_ref().map_or("", |(_, id, _)| id.as_str());
            let page = {
                let mut t = TenantTx::begin(pool, &client).await?;
                let p = repo::missing_vectors(&mut t, model, after, after_interaction, SWEEP_PAGE)
                    .await?;
                t.commit().await?;
                p
            };
            let full = page.len() == SWEEP_PAGE as usize;
            let cursor = page
                .last()
                .map(|p| (p.employee_id.clone(), p.interaction_id.clone(), p.timestamp));
            for p in page {
                let job = IndexJob {
                    client: client.clone(),
                    employee_id: p.employee_id,
                    interaction_id: p.interaction_id,
                    text: p.text,
                    vector: None,
                    timestamp: p.timestamp,
                };
                if tx.send(job).await.is_err() {
                    return Ok(());
                }
            }
            if !full {
                break;
            }
            last = cursor;
        }
    }
    Ok(())
}
