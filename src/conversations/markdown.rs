//! Answers as the chat shows them: Markdown rendered to HTML by `pulldown-cmark`, the same code
//! on the server (the first page) and in the browser (the answer as it streams).
//!
//! What a model writes is untrusted. Nothing in it reaches the page as markup of its own:
//! - HTML in the answer (blocks and inline tags alike) is shown as text;
//! - a link or image whose address is not `http`, `https`, `mailto` or relative (so no
//!   `javascript:`, `data:`, `vbscript:` …, however it is spelt) loses its address and keeps its
//!   words as plain text;
//! - images are never loaded: an image becomes a link to it, named by its alt text;
//! - links open in a new tab without the page as opener or referrer.
//!
//! Code blocks get a Copy button (`data-copy`), which the chat page's click handler serves.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};
use pulldown_cmark_escape::{escape_href, escape_html};

/// `text` (Markdown) as safe HTML.
pub fn to_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM;
    let mut out = String::with_capacity(text.len() * 3 / 2);
    // Whether each open link or image was kept (its end tag follows the same choice).
    let mut open: Vec<bool> = Vec::new();
    let events = Parser::new_ext(text, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { dest_url, .. }) | Event::Start(Tag::Image { dest_url, .. }) => {
            match safe_url(&dest_url) {
                Some(url) => {
                    open.push(true);
                    Some(Event::InlineHtml(CowStr::from(link_start(&url))))
                }
                None => {
                    open.push(false);
                    None
                }
            }
        }
        Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => match open.pop() {
            Some(true) => Some(Event::InlineHtml(CowStr::Borrowed("</a>"))),
            _ => None,
        },
        Event::Start(Tag::CodeBlock(kind)) => Some(Event::Html(CowStr::from(code_start(&kind)))),
        Event::End(TagEnd::CodeBlock) => {
            Some(Event::Html(CowStr::Borrowed("</code></pre></div>\n")))
        }
        other => Some(other),
    });
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

fn link_start(url: &str) -> String {
    // `escape_href` leaves an address safe inside a quoted attribute (it percent-encodes quotes
    // and angle brackets and writes `&` as `&amp;`). Writing to a String cannot fail.
    let mut href = String::new();
    let _ = escape_href(&mut href, url);
    format!(r#"<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">"#)
}

fn code_start(kind: &CodeBlockKind) -> String {
    let language = match kind {
        CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or(""),
        CodeBlockKind::Indented => "",
    };
    let mut lang = String::new();
    let _ = escape_html(&mut lang, language);
    let class = if lang.is_empty() {
        String::new()
    } else {
        format!(r#" class="language-{lang}""#)
    };
    let label = if lang.is_empty() {
        String::new()
    } else {
        format!(r#"<span class="code-lang">{lang}</span>"#)
    };
    format!(
        r#"<div class="code-block"><div class="code-bar">{label}<button type="button" class="code-copy" data-copy="">Copy</button></div><pre><code{class}>"#
    )
}

/// The address, if a link to it is safe to put on the page: `http`, `https`, `mailto`, or
/// relative. Browsers ignore tabs, line breaks and other control characters inside a URL, so
/// they are removed before the scheme is read (`java\tscript:` is `javascript:`).
pub fn safe_url(url: &str) -> Option<String> {
    let cleaned: String = url
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    if cleaned.is_empty() {
        return None;
    }
    // A scheme is what precedes the first ':' when no '/', '?' or '#' comes before it.
    let scheme_end = cleaned.find(':');
    let path_start = cleaned.find(['/', '?', '#']);
    let scheme = match (scheme_end, path_start) {
        (Some(c), Some(p)) if p < c => None,
        (Some(c), _) => Some(cleaned[..c].to_ascii_lowercase()),
        (None, _) => None,
    };
    match scheme.as_deref() {
        None => Some(cleaned),
        Some("http" | "https" | "mailto") => Some(cleaned),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_markdown_models_write() {
        let html = to_html(
            "**bold** and `code`\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn main() {}\n```\n",
        );
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(
            html.contains("<table>") && html.contains("<td>2</td>"),
            "{html}"
        );
        assert!(
            html.contains(r#"<code class="language-rust">fn main() {}"#),
            "{html}"
        );
        assert!(
            html.contains("data-copy"),
            "a code block has a Copy button: {html}"
        );
    }

    #[test]
    fn html_from_the_model_is_shown_as_text() {
        let html =
            to_html("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)> <b>there</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
    }

    #[test]
    fn unsafe_links_keep_their_words_and_lose_their_address() {
        for bad in [
            "[click](javascript:alert(1))",
            "[click](JavaScript:alert(1))",
            "[click](java\tscript:alert(1))",
            "[click](data:text/html;base64,PHNjcmlwdD4=)",
            "[click](vbscript:msgbox)",
            "<javascript:alert(1)>",
        ] {
            let html = to_html(bad);
            assert!(!html.contains("href"), "{bad:?} → {html}");
            assert!(!html.to_lowercase().contains("<a "), "{bad:?} → {html}");
        }
        let html = to_html("[click](javascript:alert(1))");
        assert!(html.contains("click"), "{html}");
    }

    #[test]
    fn safe_links_open_in_a_new_tab_without_opener() {
        let html = to_html("[docs](https://example.com/a?b=1&c=\"2\") and <mailto:x@example.com>");
        assert!(
            html.contains(r#"href="https://example.com/a?b=1&amp;c=%222%22""#),
            "{html}"
        );
        assert!(
            html.contains(r#"rel="noopener noreferrer nofollow""#),
            "{html}"
        );
        assert!(html.contains(r#"href="mailto:x@example.com""#), "{html}");
        let relative = to_html("[home](/dashboard)");
        assert!(relative.contains(r#"href="/dashboard""#), "{relative}");
    }

    #[test]
    fn images_are_links_never_loaded() {
        let html = to_html("![a cat](https://example.com/cat.png) ![x](javascript:alert(1))");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/cat.png""#),
            "{html}"
        );
        assert!(html.contains("a cat</a>"), "{html}");
        assert_eq!(html.matches("<a ").count(), 1, "{html}");
    }

    #[test]
    fn a_code_block_language_cannot_break_out_of_its_attribute() {
        let html = to_html("```x\"><script>\ncode\n```");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn an_unfinished_answer_renders() {
        // Streaming renders every prefix: an open fence or emphasis must not fail or leak.
        let html = to_html("Here:\n\n```py\nprint(1");
        assert!(html.contains("print(1"), "{html}");
        let html = to_html("**half");
        assert!(html.contains("**half"), "{html}");
    }
}
