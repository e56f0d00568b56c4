//! The dashboard's usage charts as data: daily usage laid out as stacked series (pure, so tested
//! here; the server lays them out, `pages` draws them).

use super::DailyUsage;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a chart counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    Turns,
    Tokens,
}

/// What a chart's bars are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum By {
    Model,
    Employee,
}

/// Series drawn on their own; the rest are added up as "Other".
const MAX_SERIES: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub label: String,
    pub values: Vec<i64>,
}

/// Every day of the period, and per series one value a day, largest series first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    pub metric: Metric,
    pub by: By,
    pub days: Vec<NaiveDate>,
    pub series: Vec<Series>,
    /// The tallest day's stack.
    pub max: i64,
    pub total: i64,
}

/// The label a chart split by employee gives the series that adds up the smallest ones.
pub const OTHER: &str = "Other";

/// Lays out the days from `from` to `to` of `rows` (the per-model rows for `By::Model`, the
/// per-employee ones for `By::Employee`), counting `metric`. An employee's series is labelled
/// with its id until [`Chart::named`] names it.
pub fn layout(
    rows: &[DailyUsage],
    from: NaiveDate,
    to: NaiveDate,
    metric: Metric,
    by: By,
) -> Chart {
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let index: HashMap<NaiveDate, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let mut by_label: HashMap<String, Vec<i64>> = HashMap::new();
    for row in rows {
        let Some(&i) = index.get(&row.day) else {
            continue;
        };
        let label = match by {
            By::Model if !row.employee_id.is_empty() => continue,
            By::Employee if row.employee_id.is_empty() => continue,
            By::Model if row.model.is_empty() => "(no model answered)".to_owned(),
            By::Model => row.model.clone(),
            By::Employee => row.employee_id.clone(),
        };
        let value = match metric {
            Metric::Turns => row.completed,
            Metric::Tokens => row.tokens(),
        };
        by_label.entry(label).or_insert_with(|| vec![0; days.len()])[i] += value;
    }
    let mut series: Vec<Series> = by_label
        .into_iter()
        .map(|(label, values)| Series { label, values })
        .filter(|s| s.values.iter().any(|v| *v > 0))
        .collect();
    series.sort_by(|a, b| {
        let sum = |s: &Series| s.values.iter().sum::<i64>();
        sum(b).cmp(&sum(a)).then_with(|| a.label.cmp(&b.label))
    });
    if series.len() > MAX_SERIES {
        let rest = series.split_off(MAX_SERIES - 1);
        let mut other = vec![0; days.len()];
        for s in rest {
            for (o, v) in other.iter_mut().zip(s.values) {
                *o += v;
            }
        }
        series.push(Series {
            label: OTHER.to_owned(),
            values: other,
        });
    }
    let max = (0..days.len())
        .map(|i| series.iter().map(|s| s.values[i]).sum::<i64>())
        .max()
        .unwrap_or(0);
    let total = series.iter().flat_map(|s| &s.values).sum();
    Chart {
        metric,
        by,
        days,
        series,
        max,
        total,
    }
}

impl Chart {
    /// The chart with its employees' ids replaced by their names (an id no longer among them is
    /// "A deleted employee").
    pub fn named(mut self, names: &HashMap<String, String>) -> Self {
        if self.by == By::Employee {
            for s in &mut self.series {
                if s.label != OTHER {
                    s.label = names
                        .get(&s.label)
                        .cloned()
                        .unwrap_or_else(|| "A deleted employee".to_owned());
                }
            }
        }
        self
    }
}

/// A count as people read it: 950, 12.3k, 4.5M.
pub fn short(n: i64) -> String {
    match n {
        n if n >= 10_000_000 => format!("{}M", n / 1_000_000),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{}k", n / 1_000),
        n if n >= 1_000 => format!("{:.1}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::DailyUsage;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    fn row(d: &str, employee: &str, model: &str, completed: i64, tokens: i64) -> DailyUsage {
        DailyUsage {
            day: day(d),
            employee_id: employee.into(),
            model: model.into(),
            completed,
            failed: 0,
            prompt_tokens: tokens,
            completion_tokens: 0,
            tool_rounds: 0,
            tool_calls: 0,
        }
    }

    #[test]
    fn days_without_usage_are_zero_and_series_are_ordered_by_size() {
        let rows = vec![
            row("2026-12-01", "", "small", 2, 100),
            row("2026-12-03", "", "big", 5, 50),
            row("2026-12-03", "", "small", 1, 10),
            row("2026-12-01", "e1", "", 2, 100),
            row("2026-12-03", "e1", "", 5, 50),
            row("2026-12-03", "e2", "", 1, 10),
        ];
        let (from, to) = (day("2026-12-01"), day("2026-12-04"));
        let c = layout(&rows, from, to, Metric::Turns, By::Model);
        assert_eq!(c.days.len(), 4);
        assert_eq!(
            c.series[0],
            Series {
                label: "big".into(),
                values: vec![0, 0, 5, 0]
            }
        );
        assert_eq!(
            c.series[1],
            Series {
                label: "small".into(),
                values: vec![2, 0, 1, 0]
            }
        );
        assert_eq!((c.max, c.total), (6, 8));
        let names = HashMap::from([("e1".to_owned(), "Ava".to_owned())]);
        let c = layout(&rows, from, to, Metric::Tokens, By::Employee).named(&names);
        assert_eq!(
            c.series[0],
            Series {
                label: "Ava".into(),
                values: vec![100, 0, 50, 0]
            }
        );
        assert_eq!(c.series[1].label, "A deleted employee");
        assert_eq!(c.max, 100);
    }

    #[test]
    fn beyond_five_series_the_smallest_are_added_up_as_other() {
        let rows: Vec<DailyUsage> = (1..=7)
            .map(|i| row("2026-12-01", "", &format!("m{i}"), i, 0))
            .collect();
        let d = day("2026-12-01");
        let c = layout(&rows, d, d, Metric::Turns, By::Model);
        let labels: Vec<&str> = c.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["m7", "m6", "m5", "m4", "Other"]);
        assert_eq!(c.series[4].values, [1 + 2 + 3]);
        assert_eq!(c.total, 28);
        assert_eq!(short(950), "950");
        assert_eq!(short(12_345), "12k");
        assert_eq!(short(4_500_000), "4.5M");
    }
}
