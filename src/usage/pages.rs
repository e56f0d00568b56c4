//! The dashboard's usage: the charts of the last days (drawn as SVG on the server, so the page
//! shows them before any script runs), and the usage panel: the client's turns and tokens per
//! model this month, the month's budgets and how much of them is used, and the limits in force.

use super::charts::{short, By, Chart, Metric};
use super::{BudgetStatus, UsageHistory, UsageReport};
use crate::app::components::*;
use crate::core::AppError;
use chrono::NaiveDate;
use leptos::prelude::*;

/// The client's usage per day over the last `days` days and each employee's activity (a member:
/// of the employees given to them).
#[server(prefix = "/rpc")]
pub async fn client_usage_history(days: u32) -> Result<UsageHistory, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::listing_in_context(
            crate::accounts::Scope::EmployeesRead,
        )?;
        crate::usage::server::service::client_history(&state, &who, days).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Usage over time: turns or tokens a day, split by model or by employee.
#[component]
pub fn UsageCharts(
    history: UsageHistory,
    names: std::collections::HashMap<String, String>,
) -> impl IntoView {
    let metric = RwSignal::new(Metric::Turns);
    let by = RwSignal::new(By::Model);
    let days = (history.to - history.from).num_days() + 1;
    view! {
        <section class=format!("{CARD} mt-6 space-y-3") aria-labelledby="usage-time-heading">
            <div class="flex flex-wrap items-center gap-3">
                <h2 id="usage-time-heading" class="text-lg font-medium">{format!("The last {days} days")}</h2>
                <div class="flex flex-wrap gap-2 sm:ml-auto">
                    {toggle(metric, [(Metric::Turns, "Turns"), (Metric::Tokens, "Tokens")])}
                    {toggle(by, [(By::Model, "By model"), (By::Employee, "By employee")])}
                </div>
            </div>
            {move || {
                let (m, b) = (metric.get(), by.get());
                let title = format!(
                    "{} per day by {}",
                    if m == Metric::Turns { "Answered turns" } else { "Tokens" },
                    if b == By::Model { "model" } else { "employee" }
                );
                let chart = history
                    .charts
                    .iter()
                    .find(|c| c.metric == m && c.by == b)
                    .cloned()
                    .map(|c| c.named(&names));
                chart.map(|chart| view! { <BarChart chart title /> })
            }}
        </section>
    }
}

/// How full a budget is, as a bar with its numbers; amber from 80 %, red when used up.
#[component]
fn Gauge(label: &'static str, used: f64, of: f64, unit: &'static str) -> impl IntoView {
    let share = if of > 0.0 {
        (used / of).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let colour = match share {
        s if s >= 1.0 => "bg-red-600",
        s if s >= 0.8 => "bg-amber-500",
        _ => "bg-emerald-600",
    };
    let text = if unit == "$" {
        format!("${used:.2} of ${of:.2}")
    } else {
        format!("{used:.0} of {of:.0} {unit}")
    };
    view! {
        <div class="space-y-1" data-testid="budget-gauge">
            <div class="flex justify-between text-sm">
                <span class="font-medium">{label}</span>
                <span class="text-slate-600">{format!("{text} · {:.0}%", share * 100.0)}</span>
            </div>
            <div class="h-2 overflow-hidden rounded-full bg-slate-200" role="meter" aria-label=label
                aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{:.0}", share * 100.0)>
                <div class=format!("h-full {colour}") style=format!("width: {:.1}%", share * 100.0)></div>
            </div>
        </div>
    }
}

fn budget_view(b: BudgetStatus) -> impl IntoView {
    let tokens = (b.monthly_tokens > 0).then(|| {
        view! { <Gauge label="Tokens this month" used=(b.spent + b.reserved) as f64 of=b.monthly_tokens as f64 unit="tokens" /> }
    });
    let cost = (b.monthly_cost_usd > 0.0).then(|| {
        view! { <Gauge label="Spend this month" used=b.spent_cost_usd + b.reserved_cost_usd of=b.monthly_cost_usd unit="$" /> }
    });
    view! {
        {tokens}
        {cost}
        <p class="text-xs text-slate-500">{format!("The month began on {}; budgets start again on {}.", b.period_start, b.resets_on)}</p>
    }
}

/// This month's usage per model, the month's budget and the limits in force.
#[component]
pub fn UsagePanel(report: UsageReport) -> impl IntoView {
    let r = report;
    view! {
        <section class=format!("{CARD} mt-6 space-y-4") aria-labelledby="usage-heading">
            <h2 id="usage-heading" class="text-lg font-medium">"This month: usage and limits"</h2>
            <p class="text-sm" data-testid="usage-totals">
                {format!("{} answered turns, {} failed · {} tokens ({} prompt, {} answer)",
                    r.interactions, r.failed, r.total_tokens, r.prompt_tokens, r.completion_tokens)}
                {(r.tool_calls > 0).then(|| format!(" · {} tool calls in {} tool rounds", r.tool_calls, r.tool_rounds))}
            </p>
            {match r.budget {
                Some(b) => budget_view(b).into_any(),
                None => view! { <p class="text-sm text-slate-500">"No monthly budget is set for this client."</p> }.into_any(),
            }}
            {(!r.by_model.is_empty()).then(|| view! {
                <table class="w-full text-sm">
                    <thead class="text-left text-xs uppercase text-slate-500">
                        <tr><th class="py-1">"Model"</th><th class="py-1 text-right">"Turns"</th><th class="py-1 text-right">"Tokens"</th><th class="py-1 text-right">"Tool calls"</th></tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {r.by_model.into_iter().map(|m| view! {
                            <tr>
                                <td class="break-all py-1">{if m.model.is_empty() { "(no model answered)".to_owned() } else { m.model }}</td>
                                <td class="py-1 text-right">{m.completed}</td>
                                <td class="py-1 text-right">{m.prompt_tokens + m.completion_tokens}</td>
                                <td class="py-1 text-right">{m.tool_calls}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {r.limits.map(|l| view! {
                <p class="text-xs text-slate-500" data-testid="limits">
                    {format!("{} tier: {} requests/s (burst {}), {} turns at once, messages up to {} characters{}",
                        l.tier, l.requests_per_second, l.burst, l.max_concurrent_turns, l.max_message_chars,
                        if l.overridden.is_empty() { String::new() } else { format!(" · set by the operator: {}", l.overridden.join(", ")) })}
                </p>
            })}
        </section>
    }
}

/// Distinct colours for the series (the last is "other").
const COLOURS: [&str; 6] = [
    "#4f46e5", "#059669", "#d97706", "#e11d48", "#0284c7", "#94a3b8",
];
const W: f64 = 640.0;
const H: f64 = 180.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// A stacked bar chart of `chart`, with its legend and the same numbers as a table.
#[component]
pub fn BarChart(chart: Chart, title: String) -> impl IntoView {
    let n = chart.days.len().max(1) as f64;
    let slot = (W - LEFT) / n;
    let bar = (slot * 0.8).max(1.0);
    let plot_h = H - BOTTOM - TOP;
    let scale = if chart.max > 0 {
        plot_h / chart.max as f64
    } else {
        0.0
    };
    let mut rects = Vec::new();
    for (d, day) in chart.days.iter().enumerate() {
        let mut y = H - BOTTOM;
        for (k, s) in chart.series.iter().enumerate() {
            let v = s.values[d];
            if v == 0 {
                continue;
            }
            let h = v as f64 * scale;
            y -= h;
            rects.push(view! {
                <rect x=format!("{:.1}", LEFT + d as f64 * slot + (slot - bar) / 2.0) y=format!("{y:.1}")
                    width=format!("{bar:.1}") height=format!("{h:.1}") fill=COLOURS[k.min(COLOURS.len() - 1)]>
                    <title>{format!("{day} · {}: {v}", s.label)}</title>
                </rect>
            });
        }
    }
    let labels: Vec<(usize, NaiveDate)> = match chart.days.len() {
        0 => vec![],
        len => {
            let mut picks = vec![0, len / 2, len - 1];
            picks.dedup();
            picks.into_iter().map(|i| (i, chart.days[i])).collect()
        }
    };
    let summary = format!(
        "{title}, {} to {}: {} in all",
        chart
            .days
            .first()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        chart.days.last().map(|d| d.to_string()).unwrap_or_default(),
        chart.total
    );
    let table_days: Vec<(usize, NaiveDate)> = chart
        .days
        .iter()
        .enumerate()
        .filter(|(i, _)| chart.series.iter().any(|s| s.values[*i] > 0))
        .map(|(i, d)| (i, *d))
        .collect();
    let series = chart.series.clone();
    view! {
        <figure class="space-y-2" data-testid="usage-chart">
            <svg viewBox=format!("0 0 {W} {H}") class="h-auto w-full" role="img" aria-label=summary.clone()>
                <line x1=LEFT y1=H - BOTTOM x2=W y2=H - BOTTOM stroke="currentColor" stroke-opacity="0.3" />
                <text x=LEFT - 6.0 y=TOP + 8.0 text-anchor="end" font-size="11" fill="currentColor">{short(chart.max)}</text>
                <text x=LEFT - 6.0 y=H - BOTTOM text-anchor="end" font-size="11" fill="currentColor">"0"</text>
                {rects}
                {labels
                    .into_iter()
                    .map(|(i, d)| {
                        // The first and last labels keep inside the frame.
                        let (x, anchor) = if i == 0 {
                            (LEFT, "start")
                        } else if i + 1 == chart.days.len() {
                            (W, "end")
                        } else {
                            (LEFT + (i as f64 + 0.5) * slot, "middle")
                        };
                        view! {
                        <text x=format!("{x:.1}") y=H - 6.0 text-anchor=anchor font-size="11" fill="currentColor">
                            {d.format("%b %-d").to_string()}
                        </text>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption class="flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-600">
                {chart
                    .series
                    .iter()
                    .enumerate()
                    .map(|(k, s)| view! {
                        <span class="inline-flex items-center gap-1" data-testid="legend-item">
                            <span class="inline-block h-2.5 w-2.5 rounded-sm" style=format!("background:{}", COLOURS[k.min(COLOURS.len() - 1)])></span>
                            {format!("{} ({})", s.label, short(s.values.iter().sum()))}
                        </span>
                    })
                    .collect_view()}
                {chart.series.is_empty().then(|| view! { <span>"Nothing in this period yet."</span> })}
            </figcaption>
            {(!table_days.is_empty()).then(|| view! {
                <details class="text-xs">
                    <summary class="cursor-pointer text-slate-600">"The numbers"</summary>
                    <div class="overflow-x-auto">
                        <table class="mt-2 w-full">
                            <thead class="text-left text-slate-500">
                                <tr>
                                    <th class="py-1 pr-3">"Day"</th>
                                    {series.iter().map(|s| view! { <th class="py-1 pr-3 text-right">{s.label.clone()}</th> }).collect_view()}
                                </tr>
                            </thead>
                            <tbody>
                                {table_days
                                    .into_iter()
                                    .map(|(i, d)| view! {
                                        <tr>
                                            <td class="py-0.5 pr-3">{d.to_string()}</td>
                                            {series.iter().map(|s| view! { <td class="py-0.5 pr-3 text-right">{s.values[i]}</td> }).collect_view()}
                                        </tr>
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                </details>
            })}
        </figure>
    }
}

/// Two-way toggle buttons (aria-pressed) for a chart's options.
pub fn toggle<T: Copy + PartialEq + Send + Sync + 'static>(
    signal: RwSignal<T>,
    choices: [(T, &'static str); 2],
) -> impl IntoView {
    view! {
        <div class="inline-flex gap-1" role="group">
            {choices
                .into_iter()
                .map(|(value, label)| view! {
                    <button
                        type="button"
                        class=format!("{BUTTON_SECONDARY} aria-pressed:bg-indigo-600 aria-pressed:text-white")
                        aria-pressed=move || if signal.get() == value { "true" } else { "false" }
                        on:click=move |_| signal.set(value)
                    >
                        {label}
                    </button>
                })
                .collect_view()}
        </div>
    }
}
