//! Stopping an answer while it is being written. The turn runs on whichever instance took the
//! message; the stop may reach any other. A request to stop is checked against the turn's claim
//! on its idempotency key (held in Postgres while the turn is answered), then told to this
//! instance's turns and published on Redis (`workforce:turn-stop`) for the others'. The turn
//! that hears it stops reading the model (which closes the model's request, so no more is
//! generated or billed) and stores what was written until then, marked as stopped.

use super::repo;
use crate::accounts::ClientPrincipal;
use crate::core::{AppError, EmployeeId};
use crate::platform::AppState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;

pub const CHANNEL: &str = "workforce:turn-stop";

/// The streamed turns running on this instance that can be stopped, by client, employee and key.
#[derive(Default)]
pub struct TurnStops {
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
}

fn name(who: &ClientPrincipal, id: &EmployeeId, key: &str) -> String {
    // Neither ids nor keys (visible ASCII) contain spaces.
    format!("{} {} {key}", who.client_id.as_str(), id.as_str())
}

impl TurnStops {
    /// Makes the turn under `key` stoppable until the returned signal is dropped.
    pub fn register(
        self: &Arc<Self>,
        who: &ClientPrincipal,
        id: &EmployeeId,
        key: &str,
    ) -> StopSignal {
        let (tx, rx) = watch::channel(false);
        let name = name(who, id, key);
        if let Ok(mut running) = self.running.lock() {
            running.insert(name.clone(), tx);
        }
        StopSignal {
            stops: Arc::downgrade(self),
            name,
            rx: Some(rx),
        }
    }

    /// Stops the turn named `name` if it runs here.
    fn stop(&self, name: &str) {
        if let Some(tx) = self.running.lock().ok().and_then(|r| r.get(name).cloned()) {
            let _ = tx.send(true);
        }
    }
}

impl crate::platform::redis::Follower for TurnStops {
    fn subscribed(&self) {}
    fn message(&self, payload: &str) {
        self.stop(payload);
    }
    fn lost(&self) {}
}

/// Keeps `stops` hearing the stops published by every instance for as long as it lives.
pub fn listen(redis: crate::platform::redis::Cache, stops: Weak<TurnStops>) {
    crate::platform::redis::follow(redis, CHANNEL, stops);
}

/// A running turn's side of a stop: `stopped` completes once someone asked for the stop.
pub struct StopSignal {
    stops: Weak<TurnStops>,
    name: String,
    rx: Option<watch::Receiver<bool>>,
}

impl StopSignal {
    /// A turn without an idempotency key cannot be named, so cannot be stopped.
    pub fn never() -> Self {
        StopSignal {
            stops: Weak::new(),
            name: String::new(),
            rx: None,
        }
    }

    /// Completes when the turn is asked to stop; never, for one that cannot be.
    pub async fn stopped(&mut self) {
        match &mut self.rx {
            Some(rx) => {
                if rx.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

impl Drop for StopSignal {
    fn drop(&mut self) {
        if let Some(stops) = self.stops.upgrade() {
            if let Ok(mut running) = stops.running.lock() {
                running.remove(&self.name);
            }
        }
    }
}

/// Asks the streamed turn sent under `key` to stop, wherever it runs. Refused when no turn
/// under that key is being answered (never sent, or already stored).
pub async fn request_stop(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    key: &str,
) -> Result<(), AppError> {
    let mut tx = crate::platform::db::TenantTx::begin(&state.pool, &who.client_id).await?;
    let in_flight = repo::key_in_flight(&mut tx, id, key).await?;
    let stored = if in_flight {
        false
    } else {
        repo::interaction_by_idempotency_key(&mut tx, id, key)
            .await?
            .is_some()
    };
    tx.commit().await?;
    if stored {
        return Err(AppError::conflict(
            "this answer is already finished; there is nothing to stop",
        ));
    }
    if !in_flight {
        return Err(AppError::NotFound {
            message: "no answer is being written under this Idempotency-Key".into(),
        });
    }
    let name = name(who, id, key);
    state.stops.stop(&name);
    if !state.cache.publish(CHANNEL, &name).await {
        tracing::warn!("a stop could not be published; only this instance's turns heard it");
    }
    Ok(())
}
