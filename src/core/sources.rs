//! A passage of a client's knowledge that a turn gave its model, as the turn records it. Under
//! `core` for the reason `tool_calls` is: conversations store and stream it, memory shows it in
//! the chat's history, knowledge finds it.

use serde::{Deserialize, Serialize};

/// One numbered passage a turn's prompt carried: where it came from, how well it matched, and
/// whether the answer cites it (`[n]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SourceRecord {
    /// Its number in the prompt: the answer cites it as `[n]`.
    pub n: u32,
    pub document_id: String,
    pub title: String,
    pub collection: String,
    /// The chunk's place in its document (0 first).
    pub chunk: i32,
    /// How well it matched the message (the reciprocal-rank fusion of the semantic and the
    /// keyword ranking).
    pub score: f64,
    /// The answer cites it.
    pub cited: bool,
    /// The start of the passage, at most `EXCERPT_CHARS` characters.
    pub excerpt: String,
}

/// How much of a passage is kept with the turn.
pub const EXCERPT_CHARS: usize = 300;

/// The numbers `[n]` (1–99) that `text` cites, in the order first cited, each once. `[1, 2]`
/// and `[1][2]` cite both.
pub fn cited_numbers(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = &after[..close];
        if inside.contains('[') {
            // `[[1]]`, `[see [2]]`: the citation is the inner bracket.
            rest = after;
            continue;
        }
        if inside.len() <= 24 {
            let numbers: Option<Vec<u32>> = inside
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..100).contains(n))
                })
                .collect();
            for n in numbers.unwrap_or_default() {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        rest = &after[close..];
    }
    out
}

/// Marks the sources the answer cites.
pub fn mark_cited(sources: &mut [SourceRecord], answer: &str) {
    let cited = cited_numbers(answer);
    for s in sources {
        s.cited = cited.contains(&s.n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_read_in_the_forms_models_write_them() {
        assert_eq!(cited_numbers("Seven years [2]. Also [1][2]."), vec![2, 1]);
        assert_eq!(cited_numbers("See [1, 3]."), vec![1, 3]);
        // Not citations: links, words in brackets, zero, out of range, an unclosed bracket.
        assert!(cited_numbers("[x](http://a) [note] [0] [100] [").is_empty());
        assert_eq!(cited_numbers("a [ 4 ] b [[5]]"), vec![4, 5]);
    }
}
