//! The audit trail's hash chain, and its verification (used by `GET …/audit/verify`, by the
//! `workforce audit verify` command on an export, and documented in docs/audit.md so a client
//! can check an export with its own tools).
//!
//! Each event's *canonical JSON* is the object of its fields `v` (1), `client_id`, `actor`,
//! `action`, `entity_type`, `entity_id`, `before`, `after`, `request_id`, `ip` and `created_at`
//! (RFC 3339, UTC, microseconds, `Z`), with keys in byte order and no whitespace — what
//! `serde_json` writes for a map. Its hash is the lowercase hex SHA-256 of the previous event's
//! hash (the empty string for the first), a newline, and the canonical JSON. An event stores the
//! previous hash (`prev_hash`) and its own (`hash`), so any change to a row, and any row removed
//! or inserted in the middle, breaks the chain at that row.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One event as it is stored and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainedEvent {
    pub id: i64,
    pub client_id: String,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `None` for an event written before the trail was chained.
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// The fields that are hashed.
pub struct Content<'a> {
    pub client_id: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub before: Option<&'a Value>,
    pub after: Option<&'a Value>,
    pub request_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

impl Content<'_> {
    pub fn canonical(&self) -> String {
        json!({
            "v": 1,
            "client_id": self.client_id,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "before": self.before,
            "after": self.after,
            "request_id": self.request_id,
            "ip": self.ip,
            "created_at": self.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        })
        .to_string()
    }
}

impl ChainedEvent {
    pub fn content(&self) -> Content<'_> {
        Content {
            client_id: &self.client_id,
            actor: &self.actor,
            action: &self.action,
            entity_type: &self.entity_type,
            entity_id: &self.entity_id,
            before: self.before.as_ref(),
            after: self.after.as_ref(),
            request_id: self.request_id.as_deref(),
            ip: self.ip.as_deref(),
            created_at: self.created_at,
        }
    }
}

/// The hash of an event whose canonical JSON is `canonical`, after the event hashed `prev`.
pub fn link_hash(prev: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// The first event at which the chain does not hold, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

/// What verifying a trail found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verdict {
    pub ok: bool,
    /// Events checked (chained ones).
    pub events: u64,
    /// Events written before the trail was chained (they precede every chained one).
    pub unchained: u64,
    /// The newest event's hash: keep it elsewhere, and a later verification also proves that
    /// nothing was cut off the end.
    pub head: Option<String>,
    pub first_broken: Option<Broken>,
}

/// Checks events in the order they were written (by id).
#[derive(Default)]
pub struct Verifier {
    prev: Option<String>,
    last_id: Option<i64>,
    events: u64,
    unchained: u64,
    broken: Option<Broken>,
}

impl Verifier {
    pub fn push(&mut self, e: &ChainedEvent) {
        if self.broken.is_some() {
            return;
        }
        let fail = |reason: &str| {
            Some(Broken {
                id: e.id,
                reason: reason.to_owned(),
            })
        };
        if self.last_id.is_some_and(|last| e.id <= last) {
            self.broken = fail("events are out of order");
            return;
        }
        self.last_id = Some(e.id);
        let (Some(prev_hash), Some(hash)) = (&e.prev_hash, &e.hash) else {
            if self.events > 0 {
                self.broken = fail("an unchained event after the chain began");
            } else {
                self.unchained += 1;
            }
            return;
        };
        let expected_prev = self.prev.as_deref().unwrap_or("");
        if prev_hash != expected_prev {
            self.broken = fail(
                "its previous hash is not the hash of the event before it \
                 (an event was removed, inserted or changed before it)",
            );
            return;
        }
        if *hash != link_hash(prev_hash, &e.content().canonical()) {
            self.broken = fail("its content does not match its hash (the event was changed)");
            return;
        }
        self.events += 1;
        self.prev = Some(hash.clone());
    }

    pub fn finish(self) -> Verdict {
        Verdict {
            ok: self.broken.is_none(),
            events: self.events,
            unchained: self.unchained,
            head: self.prev,
            first_broken: self.broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<ChainedEvent> {
        let mut prev = String::new();
        (0..n)
            .map(|i| {
                let mut e = ChainedEvent {
                    id: i as i64 + 1,
                    client_id: "acme".into(),
                    actor: "operator".into(),
                    action: "employee.create".into(),
                    entity_type: "employee".into(),
                    entity_id: format!("e{i}"),
                    before: None,
                    after: Some(json!({"name": "Ada", "level": 0.7})),
                    request_id: Some("r".into()),
                    ip: Some("127.0.0.1".into()),
                    created_at: Utc::now(),
                    prev_hash: Some(prev.clone()),
                    hash: None,
                };
                let h = link_hash(&prev, &e.content().canonical());
                e.hash = Some(h.clone());
                prev = h;
                e
            })
            .collect()
    }

    fn verify(events: &[ChainedEvent]) -> Verdict {
        let mut v = Verifier::default();
        events.iter().for_each(|e| v.push(e));
        v.finish()
    }

    #[test]
    fn an_intact_chain_verifies_and_names_its_head() {
        let c = chain(5);
        let v = verify(&c);
        assert!(v.ok, "{v:?}");
        assert_eq!(v.events, 5);
        assert_eq!(v.head, c[4].hash);
    }

    #[test]
    fn a_changed_removed_or_reordered_event_is_named() {
        let mut c = chain(5);
        c[2].after = Some(json!({"name": "Eve", "level": 0.7}));
        let v = verify(&c);
        assert_eq!(v.first_broken.map(|b| b.id), Some(3));

        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c).first_broken.map(|b| b.id), Some(3));

        let mut c = chain(5);
        c.swap(1, 2);
        assert!(!verify(&c).ok);
    }

    #[test]
    fn unchained_events_are_accepted_only_before_the_chain() {
        let mut c = chain(3);
        for e in &mut c {
            e.id += 2;
        }
        let mut old = c[0].clone();
        old.prev_hash = None;
        old.hash = None;
        let mut events = vec![
            ChainedEvent {
                id: 1,
                ..old.clone()
            },
            ChainedEvent {
                id: 2,
                ..old.clone()
            },
        ];
        events.extend(c.clone());
        let v = verify(&events);
        assert!(v.ok && v.unchained == 2 && v.events == 3, "{v:?}");
        events.push(ChainedEvent { id: 9, ..old });
        assert_eq!(verify(&events).first_broken.map(|b| b.id), Some(9));
    }

    #[test]
    fn the_canonical_json_is_sorted_and_compact() {
        let c = &chain(1)[0];
        let text = c.content().canonical();
        assert!(text.starts_with(r#"{"action":"employee.create","actor":"operator","after":{"level":0.7,"name":"Ada"}"#), "{text}");
        assert!(!text.contains(": "));
    }
}
