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

/// The numbers `[n]` (1–99) that `text` cites, in the order first cited, each once. `[1, 2]`,
/// `[1][2]`, `[1-3]` and `[^1]` cite them all. Not citations: code (fenced or inline), a Markdown
/// link or reference (`[1](…)`, `[1]: …`), and a list assigned or written after `=`.
pub fn cited_numbers(text: &str) -> Vec<u32> {
    let prose = without_code(text);
    let mut out = Vec::new();
    let mut rest = prose.as_str();
    while let Some(open) = rest.find('[') {
        let before = rest[..open].trim_end().chars().last();
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = &after[..close];
        if let Some(inner) = inside.rfind('[') {
            // `[[1]]`, `[see [2]]`: the citation is the innermost bracket.
            rest = &after[inner..];
            continue;
        }
        let next = after[close + 1..].chars().next();
        let cites =
            inside.len() <= 24 && before != Some('=') && !matches!(next, Some('(') | Some(':'));
        if cites {
            for n in numbers_in(inside.strip_prefix('^').unwrap_or(inside)) {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        rest = &after[close..];
    }
    out
}

/// The numbers a bracket's inside lists (`1`, `1, 3`, `1-3`), or none if anything else is in it.
fn numbers_in(inside: &str) -> Vec<u32> {
    let number = |p: &str| {
        p.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..100).contains(n))
    };
    let mut out = Vec::new();
    for part in inside.split(',') {
        match part.split_once(['-', '–']) {
            Some((a, b)) => match (number(a), number(b)) {
                (Some(a), Some(b)) if a < b && b - a < 10 => out.extend(a..=b),
                _ => return Vec::new(),
            },
            None => match number(part) {
                Some(n) => out.push(n),
                None => return Vec::new(),
            },
        }
    }
    out
}

/// `text` with its code — fenced blocks and inline spans — blanked out.
fn without_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut fenced = false;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if fenced {
            out.push('\n');
            continue;
        }
        let mut in_span = false;
        for c in line.chars() {
            if c == '`' {
                in_span = !in_span;
                out.push(' ');
            } else if in_span && c != '\n' {
                out.push(' ');
            } else {
                out.push(c);
            }
        }
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
        assert_eq!(
            cited_numbers("Footnote[^3] and a range [5-7]."),
            vec![3, 5, 6, 7]
        );
        // Code, links and references, assignments: not citations.
        assert!(cited_numbers("Use `a[1]` or\n```\nnums = [2]\nx[3]\n```\n").is_empty());
        assert!(cited_numbers("[4](https://a.example) and\n[5]: https://b.example").is_empty());
        assert!(cited_numbers("nums = [1, 2, 3]").is_empty());
        assert!(cited_numbers("[1-50] [3-2] [1,x]").is_empty());
        // Deep nesting is read in one pass, and the innermost bracket counts.
        let deep = format!("{}6]", "[".repeat(100_000));
        assert_eq!(cited_numbers(&deep), vec![6]);
    }
}
