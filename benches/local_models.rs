//! The in-process models on one core: MiniLM's and multilingual-e5-small's embedding throughput
//! (texts/s, batches of 32, and one text at a time) and
//! SmolLM2 generation (prompt tokens/s and generated tokens/s). Weights from `scripts/setup.sh`.
//!
//!   cargo bench --bench local_models --no-default-features --features ssr
//! (one inference thread, as the server runs them: RAYON_NUM_THREADS/CANDLE_NUM_THREADS=1 come
//! from .cargo/config.toml)

use std::time::Instant;
use workforce::ai::inference::default_models_dir;
use workforce::ai::inference::{
    e5::E5Small, embed::MiniLm, llm::SmolLm, llm::Turn, EmbedRole, Precision,
};

/// Throughput in batches of 32, then one text at a time (as a query is embedded).
fn embeddings(
    name: &str,
    texts: &[String],
    embed: impl Fn(&[String]) -> anyhow::Result<Vec<Vec<f32>>>,
) -> anyhow::Result<()> {
    embed(&texts[..32])?; // warm-up
    let t = Instant::now();
    for chunk in texts.chunks(32) {
        embed(chunk)?;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "| {name} embeddings (batches of 32) | {} texts of ~40 tokens | {:.1} texts/s |",
        texts.len(),
        texts.len() as f64 / secs
    );
    let t = Instant::now();
    for text in texts.iter().take(32) {
        embed(std::slice::from_ref(text))?;
    }
    let single = t.elapsed().as_secs_f64() / 32.0;
    println!(
        "| {name}, one text (a query) | 32 texts | {:.1} ms each |",
        single * 1000.0
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let dir = default_models_dir();
    let texts: Vec<String> = (0..256)
        .map(|i| {
            format!(
                "Customer {i} asked whether the premium card's travel insurance covers a delayed \
                 connecting flight booked on a separate ticket, and how to file the claim online."
            )
        })
        .collect();
    // Both precisions (int8 runs as f32 on a CPU without AVX-512 VNNI).
    for (p, label) in [(Precision::F32, "f32"), (Precision::Int8, "int8")] {
        let minilm = MiniLm::load(&dir, p)?;
        embeddings(&format!("MiniLM {label}"), &texts, |t| minilm.embed(t))?;
        let e5 = E5Small::load(&dir, p)?;
        embeddings(&format!("multilingual-e5-small {label}"), &texts, |t| {
            e5.embed(t, EmbedRole::Passage)
        })?;
    }

    let mut llm = SmolLm::load(&dir, 1)?;
    let system = "You are a front desk assistant in the retail banking industry with expertise in \
                  cards and mortgages. Communicate in a warm, friendly and approachable way. \
                  Keep answers short: a few sentences unless asked for more.";
    let turns = [
        Turn::System(system.into()),
        Turn::User("Write a short paragraph about how to keep a debit card safe.".into()),
    ];
    llm.generate(&turns, 8, 0.0, |_| true)?; // warm-up
    let t = Instant::now();
    let mut first = None;
    let g = llm.generate(&turns, 128, 0.0, |_| {
        first.get_or_insert_with(|| t.elapsed());
        true
    })?;
    let total = t.elapsed().as_secs_f64();
    let first = first.map(|d| d.as_secs_f64()).unwrap_or(total);
    println!(
        "| SmolLM2 prompt | {} tokens | {:.0} tokens/s (first token after {:.0} ms) |",
        g.prompt_tokens,
        f64::from(g.prompt_tokens) / first,
        first * 1000.0
    );
    println!(
        "| SmolLM2 generation | {} tokens | {:.1} tokens/s |",
        g.completion_tokens,
        f64::from(g.completion_tokens.saturating_sub(1)) / (total - first).max(1e-9)
    );
    Ok(())
}
