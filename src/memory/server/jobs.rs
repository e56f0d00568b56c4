//! What the indexer and the sweeper hand each other.

use crate::core::{ClientId, InteractionId};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// One exchange to index.
pub struct IndexJob {
    pub client: ClientId,
    pub employee_id: String,
    pub interaction_id: InteractionId,
    /// Its memory unit (`repo::memory_unit`).
    pub text: String,
    /// The unit's vector when the turn made it already (for its recall): stored as is.
    pub vector: Option<pgvector::HalfVector>,
    /// The exchange's timestamp, as stored.
    pub timestamp: DateTime<Utc>,
}

/// The oldest exchange the indexer dropped or failed on since the sweeper last looked: the
/// sweeper then goes over every exchange from there on.
#[derive(Clone, Default)]
pub struct Missed(Arc<Mutex<Option<DateTime<Utc>>>>);

impl Missed {
    pub fn note(&self, timestamp: DateTime<Utc>) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *m = Some(m.map_or(timestamp, |t| t.min(timestamp)));
    }

    pub fn take(&self) -> Option<DateTime<Utc>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
