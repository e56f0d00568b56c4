//! `POST …/employees/{id}/memory/import`: a past conversation, as JSON Lines of
//! `{"id", "role", "content", "occurred_at"}`, stored as the employee's memory without calling
//! any model — the way a client brings an existing assistant's history.
//!
//! * The whole body is checked before anything is stored: a bad line is a 422 naming it.
//! * Lines become exchanges as a chat makes them: a `user` line opens one, the `assistant` lines
//!   after it are its answer (an `assistant` line with no `user` line before it is an exchange
//!   with an empty message). Each exchange's time is its first line's `occurred_at`; its memory
//!   unit carries the reply before it.
//! * Idempotent per line id: an exchange's id is derived from its first line's id (given, or the
//!   SHA-256 of the line's role, time and content), so sending a file again, or the rest of it
//!   after an interruption, stores each line once.
//! * Stored in batches (one transaction each, with its audit row), then indexed off the request
//!   path: the exchanges are handed to the background indexer, and the sweeper picks up whatever
//!   it could not take. Keyword recall finds them at once; recall by meaning once indexed.

use super::jobs::IndexJob;
use super::repo::{self, ImportedExchange};
use crate::accounts::ClientPrincipal;
use crate::audit::server::service as audit;
use crate::audit::AuditAction;
use crate::core::{AppError, EmployeeId, InteractionId};
use crate::employees::server::lookup::ensure_exists;
pub use crate::memory::ImportReport;
use crate::platform::db::TenantTx;
use crate::platform::AppState;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// The most lines one import takes (send a longer history in several).
pub const MAX_IMPORT_LINES: usize = 50_000;
/// The largest import body, in bytes.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// The longest line content, in characters.
pub const MAX_CONTENT_CHARS: usize = 32_000;
/// Exchanges stored per transaction.
const IMPORT_BATCH: usize = 500;

/// One line, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub id: String,
    pub assistant: bool,
    pub content: String,
    pub occurred_at: DateTime<Utc>,
}

fn line_error(n: usize, field: &str, message: &str) -> AppError {
    AppError::field(format!("line {n}.{field}"), message)
}

/// Checks every line of an import body (blank lines are skipped; numbered from 1).
pub fn parse(body: &str) -> Result<Vec<Line>, AppError> {
    let mut lines = Vec::new();
    for (i, raw) in body.lines().enumerate() {
        let n = i + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        if lines.len() == MAX_IMPORT_LINES {
            return Err(AppError::field(
                "body",
                format!("holds more than {MAX_IMPORT_LINES} lines; send it in parts"),
            ));
        }
        let v: serde_json::Value = serde_json::from_str(raw).map_err(|_| {
            AppError::field(
                format!("line {n}"),
                "is not a JSON object ({\"role\", \"content\", \"occurred_at\"} on one line)",
            )
        })?;
        let Some(o) = v.as_object() else {
            return Err(AppError::field(
                format!("line {n}"),
                "must be a JSON object",
            ));
        };
        let text = |k: &str| o.get(k).and_then(serde_json::Value::as_str);
        let assistant = match text("role") {
            Some("user") => false,
            Some("assistant") => true,
            _ => return Err(line_error(n, "role", "must be \"user\" or \"assistant\"")),
        };
        let content = text("content")
            .ok_or_else(|| line_error(n, "content", "is required (the message's text)"))?;
        if content.chars().count() > MAX_CONTENT_CHARS {
            return Err(line_error(
                n,
                "content",
                &format!("must be at most {MAX_CONTENT_CHARS} characters"),
            ));
        }
        if content.contains('\0') {
            return Err(line_error(n, "content", "must not contain NUL characters"));
        }
        let occurred_at = text("occurred_at")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                line_error(
                    n,
                    "occurred_at",
                    "is required: when it was said, as RFC 3339 (2024-05-01T09:30:00Z)",
                )
            })?;
        crate::conversations::server::service::check_occurred_at(Some(occurred_at)).map_err(
            |_| {
                line_error(
                    n,
                    "occurred_at",
                    "must not be in the future nor before 1970",
                )
            },
        )?;
        let id = match o.get("id") {
            None | Some(serde_json::Value::Null) => {
                let mut h = Sha256::new();
                h.update(if assistant { "assistant" } else { "user" });
                h.update([0]);
                h.update(occurred_at.to_rfc3339());
                h.update([0]);
                h.update(content);
                hex::encode(h.finalize())
            }
            Some(serde_json::Value::String(s))
                if !s.is_empty() && s.len() <= 255 && !s.contains('\0') =>
            {
                s.clone()
            }
            Some(serde_json::Value::Number(x)) => x.to_string(),
            Some(_) => return Err(line_error(n, "id", "must be a string of 1–255 characters")),
        };
        lines.push(Line {
            id,
            assistant,
            content: content.to_owned(),
            occurred_at,
        });
    }
    if lines.is_empty() {
        return Err(AppError::field(
            "body",
            "is empty: send JSON Lines, one {\"role\", \"content\", \"occurred_at\"} a line",
        ));
    }
    Ok(lines)
}

/// The id of the exchange an imported line opens.
pub fn exchange_id(line_id: &str) -> InteractionId {
    let digest = hex::encode(Sha256::digest(line_id.as_bytes()));
    InteractionId::from(format!("imp_{}", &digest[..40]))
}

/// The exchanges to store for `lines`, in the file's order: lines grouped as a chat makes them
/// (a `user` line and the `assistant` lines after it), leaving out the lines in `already`
/// (stored by an earlier import) and any line whose id came earlier in the file. What is left
/// of an exchange cut in two is an exchange of its own, keyed by its first line. `prior` is the
/// reply before the first line; each exchange's unit carries the reply before it in the file.
pub fn exchanges(
    lines: Vec<Line>,
    prior: String,
    already: &HashSet<String>,
) -> Vec<ImportedExchange> {
    // Each group: a chat's exchange, its lines each with whether it is to be stored.
    let mut groups: Vec<Vec<(Line, bool)>> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for line in lines {
        let keep = seen.insert(line.id.clone()) && !already.contains(&line.id);
        match groups.last_mut() {
            Some(g) if line.assistant => g.push((line, keep)),
            _ => groups.push(vec![(line, keep)]),
        }
    }
    let join = |lines: &mut dyn Iterator<Item = &Line>| {
        lines
            .map(|l| l.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    let mut out = Vec::new();
    let mut before = prior;
    for g in groups {
        let kept: Vec<&Line> = g.iter().filter(|(_, k)| *k).map(|(l, _)| l).collect();
        if let Some(first) = kept.first() {
            let (message, answer) = if first.assistant {
                (String::new(), &kept[..])
            } else {
                (first.content.clone(), &kept[1..])
            };
            out.push(ImportedExchange {
                interaction_id: exchange_id(&first.id),
                message,
                response: join(&mut answer.iter().copied()),
                prior_reply: repo::prior_reply(&before).to_owned(),
                at: first.occurred_at,
                line_ids: kept.iter().map(|l| l.id.clone()).collect(),
            });
        }
        before = join(&mut g.iter().map(|(l, _)| l).filter(|l| l.assistant));
    }
    out
}

/// Imports `body` into the employee's memory.
#[tracing::instrument(skip_all, fields(client_id = %who.client_id, employee_id = %id))]
pub async fn import(
    state: &AppState,
    who: &ClientPrincipal,
    id: &EmployeeId,
    body: &str,
) -> Result<ImportReport, AppError> {
    let lines = parse(body)?;
    let n_lines = lines.len();
    let body_sha256 = hex::encode(Sha256::digest(body.as_bytes()));
    let first_at = lines[0].occurred_at;
    let (prior, already) = {
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        ensure_exists(&mut tx, id).await?;
        let prior = repo::reply_before(&mut tx, id, first_at).await?;
        let ids: Vec<&str> = lines.iter().map(|l| l.id.as_str()).collect();
        let already = repo::imported_lines(&mut tx, id, &ids).await?;
        tx.commit().await?;
        (prior, already)
    };
    let all = exchanges(lines, prior, &already);
    let (mut stored_lines, mut stored_exchanges) = (0, 0);
    for (b, batch) in all.chunks(IMPORT_BATCH).enumerate() {
        let mut tx = TenantTx::begin(&state.pool, &who.client_id).await?;
        let new = repo::insert_imported(&mut tx, id, batch).await?;
        let lines_now: usize = batch
            .iter()
            .filter(|e| new.contains(&e.interaction_id))
            .map(|e| e.line_ids.len())
            .sum();
        audit::record(
            &mut tx,
            &who.actor(),
            AuditAction::MemoryImport,
            id.as_str(),
            None,
            Some(serde_json::json!({
                "body_sha256": body_sha256,
                "batch": b,
                "exchanges": new.len(),
                "lines": lines_now,
            })),
        )
        .await?;
        tx.commit().await?;
        stored_lines += lines_now;
        stored_exchanges += new.len();
        if let Some(m) = &state.memory {
            for e in batch.iter().filter(|e| new.contains(&e.interaction_id)) {
                m.indexer.enqueue(IndexJob {
                    client: who.client_id.clone(),
                    employee_id: id.as_str().to_owned(),
                    interaction_id: e.interaction_id.clone(),
                    text: repo::memory_unit(&e.message, &e.prior_reply),
                    vector: None,
                    timestamp: e.at,
                });
            }
        }
    }
    metrics::counter!("memory_imported_lines_total").increment(stored_lines as u64);
    Ok(ImportReport {
        lines: n_lines,
        stored: stored_lines,
        already_stored: n_lines - stored_lines,
        exchanges: stored_exchanges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_exchanges_with_the_reply_before_each() {
        let body = r#"{"id":"a","role":"assistant","content":"Hello! Any plans for the summer?","occurred_at":"2023-05-01T10:00:00Z"}
{"id":"b","role":"user","content":"Researching adoption agencies","occurred_at":"2023-05-01T10:01:00Z"}
{"id":"c","role":"assistant","content":"That is wonderful.","occurred_at":"2023-05-01T10:02:00Z"}
{"id":"d","role":"assistant","content":"Tell me more.","occurred_at":"2023-05-01T10:02:30Z"}

{"id":"e","role":"user","content":"Later","occurred_at":"2023-05-02T08:00:00Z"}"#;
        let lines = parse(body).expect("valid");
        assert_eq!(lines.len(), 5);
        let ex = exchanges(lines, "earlier".into(), &HashSet::new());
        assert_eq!(ex.len(), 3);
        assert_eq!(ex[0].message, "");
        assert_eq!(ex[0].prior_reply, "earlier");
        assert_eq!(ex[1].message, "Researching adoption agencies");
        assert_eq!(ex[1].response, "That is wonderful.\n\nTell me more.");
        assert_eq!(ex[1].prior_reply, "Hello! Any plans for the summer?");
        assert_eq!(ex[2].prior_reply, "That is wonderful.\n\nTell me more.");
        assert_eq!(ex[1].interaction_id, exchange_id("b"));
        assert_eq!(
            ex[2].at,
            DateTime::parse_from_rfc3339("2023-05-02T08:00:00Z").expect("time")
        );
    }

    #[test]
    fn lines_stored_before_are_left_out_and_the_rest_of_a_cut_exchange_stands_alone() {
        let body = r#"{"id":"u1","role":"user","content":"one","occurred_at":"2023-05-01T10:00:00Z"}
{"id":"a1","role":"assistant","content":"reply one","occurred_at":"2023-05-01T10:00:01Z"}
{"id":"u2","role":"user","content":"two","occurred_at":"2023-05-01T10:00:02Z"}
{"id":"a2","role":"assistant","content":"reply two","occurred_at":"2023-05-01T10:00:03Z"}
{"id":"u2","role":"user","content":"two again","occurred_at":"2023-05-01T10:00:04Z"}"#;
        let already: HashSet<String> = ["u1", "a1", "u2"].map(String::from).into();
        let ex = exchanges(parse(body).expect("valid"), String::new(), &already);
        assert_eq!(ex.len(), 1, "{ex:?}");
        assert_eq!(ex[0].message, "");
        assert_eq!(ex[0].response, "reply two");
        assert_eq!(ex[0].line_ids, vec!["a2".to_owned()]);
        assert_eq!(ex[0].interaction_id, exchange_id("a2"));
        assert_eq!(ex[0].prior_reply, "reply one");
    }

    #[test]
    fn a_line_without_an_id_gets_one_from_what_it_says() {
        let one = r#"{"role":"user","content":"hi","occurred_at":"2023-05-01T10:00:00Z"}"#;
        let other = r#"{"role":"user","content":"hi!","occurred_at":"2023-05-01T10:00:00Z"}"#;
        let (a, b) = (parse(one).expect("valid"), parse(one).expect("valid"));
        assert_eq!(a[0].id, b[0].id);
        assert_ne!(a[0].id, parse(other).expect("valid")[0].id);
    }

    #[test]
    fn a_bad_line_is_named_with_its_field() {
        let field = |body: &str| {
            parse(body)
                .expect_err("invalid")
                .fields()
                .and_then(|f| f.keys().next().cloned())
                .unwrap_or_default()
        };
        let ok = r#"{"role":"user","content":"hi","occurred_at":"2023-05-01T10:00:00Z"}"#;
        assert_eq!(field(&format!("{ok}\nnot json")), "line 2");
        assert_eq!(
            field(r#"{"role":"system","content":"x","occurred_at":"2023-05-01T10:00:00Z"}"#),
            "line 1.role"
        );
        assert_eq!(
            field(r#"{"role":"user","content":"x","occurred_at":"yesterday"}"#),
            "line 1.occurred_at"
        );
        assert_eq!(
            field(r#"{"role":"user","content":"x","occurred_at":"2999-01-01T00:00:00Z"}"#),
            "line 1.occurred_at"
        );
        assert_eq!(
            field(r#"{"role":"user","occurred_at":"2023-05-01T10:00:00Z"}"#),
            "line 1.content"
        );
        assert_eq!(field("\n\n"), "body");
    }
}
