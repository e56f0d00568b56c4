//! From an upload to chunks: the text of each format (Markdown and plain text as they are, HTML
//! rendered to text by `html2text`, PDF read by `pdf-extract`, CSV as one line a row naming each
//! column), then split by structure (`text-splitter`: Markdown by its headings, lists and
//! paragraphs, other text by paragraphs and sentences) into chunks sized in the embedding
//! model's tokens, with an overlap, so each chunk fits what the model reads.

use crate::knowledge::DocumentFormat;
use std::ops::Range;
use std::path::Path;
use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter, TextSplitter};

/// A chunk's size in tokens, from this range (all-MiniLM-L6-v2 reads 256 at most).
pub const CHUNK_TOKENS: Range<usize> = 128..224;
/// Tokens each chunk repeats from the one before it.
pub const OVERLAP_TOKENS: usize = 32;
/// Characters a token, where no tokenizer is at hand.
const CHARS_A_TOKEN: usize = 4;

/// How a chunk's size is counted: the embedding tokenizer's tokens, or characters over four.
pub enum Sizer {
    Tokens(Box<tokenizers::Tokenizer>),
    Chars,
}

impl Sizer {
    /// The MiniLM tokenizer from the local models' folder, when it is there (the in-process
    /// embedding models and most providers' count within a few percent of each other).
    pub fn load(models_dir: &Path) -> Sizer {
        match tokenizers::Tokenizer::from_file(models_dir.join("minilm").join("tokenizer.json")) {
            Ok(mut t) => {
                t.with_truncation(None).ok();
                t.with_padding(None);
                Sizer::Tokens(Box::new(t))
            }
            Err(_) => Sizer::Chars,
        }
    }
}

impl ChunkSizer for Sizer {
    fn size(&self, chunk: &str) -> usize {
        match self {
            Sizer::Tokens(t) => t
                .encode(chunk, false)
                .map_or(chunk.len() / CHARS_A_TOKEN, |e| e.len()),
            Sizer::Chars => chunk.chars().count().div_ceil(CHARS_A_TOKEN),
        }
    }
}

/// The text of an upload, or why there is none (in words for the person who uploaded it).
pub fn text_of(format: DocumentFormat, bytes: &[u8]) -> Result<String, String> {
    let text = match format {
        DocumentFormat::Text | DocumentFormat::Markdown => utf8(bytes)?,
        DocumentFormat::Html => html2text::from_read(bytes, 100)
            .map_err(|e| format!("the HTML could not be read: {e}"))?,
        DocumentFormat::Csv => csv_text(bytes)?,
        DocumentFormat::Pdf => pdf_text(bytes)?,
    };
    let text = text.replace('\0', "");
    if text.trim().is_empty() {
        return Err(match format {
            DocumentFormat::Pdf => {
                "the PDF has no text layer (a scanned document needs OCR, which is not supported)"
                    .to_owned()
            }
            _ => "the document has no text".to_owned(),
        });
    }
    Ok(text)
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        format!(
            "the text is not UTF-8 (first bad byte at {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Each row as `column: value; column: value`, so a chunk of rows still says what each value is.
fn csv_text(bytes: &[u8]) -> Result<String, String> {
    let text = utf8(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the CSV could not be read: {e}"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut out = String::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("the CSV could not be read at row {}: {e}", i + 2))?;
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(j, v)| match headers.get(j).filter(|h| !h.is_empty()) {
                Some(h) => format!("{h}: {}", v.trim()),
                None => v.trim().to_owned(),
            })
            .collect();
        if !cells.is_empty() {
            out.push_str(&cells.join("; "));
            out.push_str("\n\n");
        }
    }
    Ok(out)
}

/// A PDF's text. The reader can panic on a malformed file: that is a failed document, not a
/// failed server.
fn pdf_text(bytes: &[u8]) -> Result<String, String> {
    match std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes)) {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(format!("the PDF could not be read: {e}")),
        Err(_) => Err(
            "the PDF could not be read (it is damaged or uses an unsupported feature)".to_owned(),
        ),
    }
}

/// The chunks of a document's text, in order.
pub fn chunks(format: DocumentFormat, text: &str, sizer: &Sizer) -> Vec<String> {
    let config = match ChunkConfig::new(CHUNK_TOKENS.clone())
        .with_sizer(sizer)
        .with_overlap(OVERLAP_TOKENS)
    {
        Ok(c) => c,
        Err(_) => ChunkConfig::new(CHUNK_TOKENS.clone()).with_sizer(sizer),
    };
    let pieces: Vec<String> = match format {
        DocumentFormat::Markdown => MarkdownSplitter::new(config)
            .chunks(text)
            .map(str::to_owned)
            .collect(),
        _ => TextSplitter::new(config)
            .chunks(text)
            .map(str::to_owned)
            .collect(),
    };
    pieces
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_name_their_columns() {
        let t = text_of(
            DocumentFormat::Csv,
            b"plan,price,notes\nBasic,10,\n\"Pro, yearly\",100,\"two\nlines\"\n",
        )
        .expect("csv");
        assert!(t.contains("plan: Basic; price: 10"), "{t}");
        assert!(
            t.contains("plan: Pro, yearly; price: 100; notes: two\nlines"),
            "{t}"
        );
    }

    #[test]
    fn html_becomes_text_without_markup() {
        let t = text_of(
            DocumentFormat::Html,
            b"<html><head><style>p{}</style></head><body><h1>Refunds</h1><p>Within <b>30</b> days.</p><script>x()</script></body></html>",
        )
        .expect("html");
        assert!(
            t.contains("Refunds") && t.contains("30") && t.contains("days"),
            "{t}"
        );
        assert!(!t.contains("<b>") && !t.contains("x()"), "{t}");
    }

    #[test]
    fn what_has_no_text_says_why() {
        assert!(text_of(DocumentFormat::Text, b"  \n ")
            .expect_err("empty")
            .contains("no text"));
        assert!(text_of(DocumentFormat::Text, b"\xff\xfe")
            .expect_err("bytes")
            .contains("UTF-8"));
        assert!(text_of(DocumentFormat::Pdf, b"%PDF-1.4 not really").is_err());
    }

    #[test]
    fn long_text_is_split_with_overlap_into_chunks_that_fit() {
        let sentence = "The warehouse in Lyon ships parcels every weekday before noon. ";
        let text = sentence.repeat(200);
        let sizer = Sizer::Chars;
        let chunks = chunks(DocumentFormat::Text, &text, &sizer);
        assert!(chunks.len() > 5, "{}", chunks.len());
        assert!(
            chunks.iter().all(|c| sizer.size(c) <= CHUNK_TOKENS.end),
            "a chunk is too large"
        );
        // Markdown splits at its headings first.
        let md = format!(
            "# Returns\n\n{}\n\n# Shipping\n\n{}",
            sentence.repeat(30),
            sentence.repeat(30)
        );
        let parts = super::chunks(DocumentFormat::Markdown, &md, &sizer);
        assert!(
            parts.iter().any(|c| c.starts_with("# Shipping")),
            "{parts:?}"
        );
    }
}
