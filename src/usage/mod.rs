//! Usage: answered and failed turns and tokens, per model, for one employee or a whole client.

pub mod charts;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use serde::{Deserialize, Serialize};

/// Turns and tokens of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelUsage {
    /// Empty for turns no model answered.
    pub model: String,
    pub completed: i64,
    pub failed: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Model answers that asked for tools, and the tool calls they made.
    #[serde(default)]
    pub tool_rounds: i64,
    #[serde(default)]
    pub tool_calls: i64,
}

/// A client's monthly token budget: the limit, what is spent and what running turns hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BudgetStatus {
    /// Tokens a month (0: no token budget), spent and held by running turns.
    pub monthly_tokens: u64,
    pub spent: u64,
    pub reserved: u64,
    /// US dollars a month at the providers' prices (0: no cost budget), spent and held.
    #[serde(default)]
    pub monthly_cost_usd: f64,
    #[serde(default)]
    pub spent_cost_usd: f64,
    #[serde(default)]
    pub reserved_cost_usd: f64,
    pub period_start: chrono::NaiveDate,
    pub resets_on: chrono::NaiveDate,
}

/// The limits a client's tier sets on its requests and turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TierLimits {
    pub tier: String,
    /// Requests a second (all the client's keys and people together), and the burst above it.
    pub requests_per_second: f64,
    pub burst: u32,
    /// Requests a second one API key may make, and its burst.
    pub key_requests_per_second: f64,
    pub key_burst: u32,
    /// Turns in flight at once on one instance (0: no cap).
    pub max_concurrent_turns: u32,
    /// Tokens a calendar month (0: no budget).
    pub monthly_tokens: u64,
    /// US dollars a calendar month at the providers' prices (0: no budget).
    #[serde(default)]
    pub monthly_cost_usd: f64,
    /// The longest message a turn accepts, in characters.
    #[serde(default)]
    pub max_message_chars: u32,
    /// The limits the operator set for this client in place of the tier's.
    #[serde(default)]
    pub overridden: Vec<String>,
}

/// `GET …/usage`: the totals, the same per model, and (for a whole client) its tier's limits
/// and, with a budget, the month's budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UsageReport {
    pub interactions: i64,
    pub failed: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// Model answers that asked for tools (their tokens are in the totals), and the tool
    /// calls they made.
    #[serde(default)]
    pub tool_rounds: i64,
    #[serde(default)]
    pub tool_calls: i64,
    pub by_model: Vec<ModelUsage>,
    #[serde(default)]
    pub budget: Option<BudgetStatus>,
    #[serde(default)]
    pub limits: Option<TierLimits>,
}

impl UsageReport {
    pub fn from_models(by_model: Vec<ModelUsage>) -> Self {
        let sum = |f: fn(&ModelUsage) -> i64| by_model.iter().map(f).sum::<i64>();
        let (p, c) = (sum(|u| u.prompt_tokens), sum(|u| u.completion_tokens));
        UsageReport {
            interactions: sum(|u| u.completed),
            failed: sum(|u| u.failed),
            prompt_tokens: p,
            completion_tokens: c,
            total_tokens: p + c,
            tool_rounds: sum(|u| u.tool_rounds),
            tool_calls: sum(|u| u.tool_calls),
            by_model,
            budget: None,
            limits: None,
        }
    }
}

/// The days the dashboard's charts cover by default, and the most a request may ask for.
pub const HISTORY_DAYS: u32 = 30;
pub const MAX_HISTORY_DAYS: u32 = 366;

/// Turns and tokens on one UTC day, of one model (`employee_id` empty) or of one employee
/// (`model` empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyUsage {
    pub day: chrono::NaiveDate,
    pub employee_id: String,
    pub model: String,
    pub completed: i64,
    pub failed: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    #[serde(default)]
    pub tool_rounds: i64,
    #[serde(default)]
    pub tool_calls: i64,
}

impl DailyUsage {
    pub fn tokens(&self) -> i64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// This month's usage per model from the per-model rows of `rows` (those from `month_start` on).
pub fn month_by_model(rows: &[DailyUsage], month_start: chrono::NaiveDate) -> Vec<ModelUsage> {
    let mut by: std::collections::BTreeMap<&str, ModelUsage> = Default::default();
    for r in rows
        .iter()
        .filter(|r| r.employee_id.is_empty() && r.day >= month_start)
    {
        let m = by.entry(&r.model).or_insert_with(|| ModelUsage {
            model: r.model.clone(),
            completed: 0,
            failed: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            tool_rounds: 0,
            tool_calls: 0,
        });
        m.tool_rounds += r.tool_rounds;
        m.tool_calls += r.tool_calls;
        m.completed += r.completed;
        m.failed += r.failed;
        m.prompt_tokens += r.prompt_tokens;
        m.completion_tokens += r.completion_tokens;
    }
    by.into_values().collect()
}

/// An employee's answered turns this calendar month (UTC) and its last exchange ever.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmployeeActivity {
    pub employee_id: String,
    pub turns_this_month: i64,
    pub last_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The dashboard's usage over time, from `from` to `to` (UTC days): the four charts (turns or
/// tokens, by model or by employee), laid out on the server so the page carries a few series
/// rather than every row; and each employee's activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageHistory {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub charts: Vec<charts::Chart>,
    pub activity: Vec<EmployeeActivity>,
    /// This calendar month's usage (UTC) per model, the month's budget and the limits in force;
    /// for the whole client only (none for a member, who sees only some employees).
    pub month: Option<UsageReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_the_models() {
        let m = |model: &str, completed, failed, p, c| ModelUsage {
            model: model.into(),
            completed,
            failed,
            prompt_tokens: p,
            completion_tokens: c,
            tool_rounds: completed,
            tool_calls: 2 * completed,
        };
        let r = UsageReport::from_models(vec![
            m("a", 2, 0, 10, 5),
            m("", 0, 1, 0, 0),
            m("b", 1, 1, 3, 4),
        ]);
        assert_eq!((r.interactions, r.failed), (3, 2));
        assert_eq!(
            (r.prompt_tokens, r.completion_tokens, r.total_tokens),
            (13, 9, 22)
        );
        assert_eq!((r.tool_rounds, r.tool_calls), (3, 6));
        assert_eq!(r.by_model.len(), 3);
    }
}
