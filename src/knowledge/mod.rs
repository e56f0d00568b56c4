//! Knowledge sources: a client's collections of documents, which its employees answer from. A
//! document is uploaded (plain text, Markdown, HTML, PDF or CSV), acknowledged at once and
//! ingested off the request path — its text extracted, split into chunks by structure and
//! token count, each chunk embedded and stored with its words for keyword search. An employee's
//! `knowledge_sources` name the collections it may draw on. Shared types and the pure checks
//! here; the SQL, the service, the ingester and the REST routes in `server`.

pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use crate::core::string_enum;
use crate::core::validate::Validator;
use crate::core::AppError;
use serde::{Deserialize, Serialize};

string_enum!(
    /// Where a document is in its ingestion.
    DocumentState { Queued => "queued", Processing => "processing", Ready => "ready", Failed => "failed" }
);

string_enum!(
    /// The formats a document may be uploaded in.
    DocumentFormat { Text => "text", Markdown => "markdown", Html => "html", Pdf => "pdf", Csv => "csv" }
);

impl DocumentFormat {
    /// The media type it is stored and shown under.
    pub fn media_type(self) -> &'static str {
        match self {
            DocumentFormat::Text => "text/plain",
            DocumentFormat::Markdown => "text/markdown",
            DocumentFormat::Html => "text/html",
            DocumentFormat::Pdf => "application/pdf",
            DocumentFormat::Csv => "text/csv",
        }
    }

    /// The format of an upload, from its declared media type (parameters ignored) or, when that
    /// says nothing useful (absent, `application/octet-stream`), from its file name's extension.
    pub fn detect(content_type: Option<&str>, file_name: Option<&str>) -> Option<DocumentFormat> {
        let declared = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|c| !c.is_empty() && c != "application/octet-stream");
        if let Some(t) = declared {
            return match t.as_str() {
                "text/plain" => Some(DocumentFormat::Text),
                "text/markdown" | "text/x-markdown" => Some(DocumentFormat::Markdown),
                "text/html" | "application/xhtml+xml" => Some(DocumentFormat::Html),
                "application/pdf" => Some(DocumentFormat::Pdf),
                "text/csv" => Some(DocumentFormat::Csv),
                _ => None,
            };
        }
        let ext = file_name?.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "text" => Some(DocumentFormat::Text),
            "md" | "markdown" => Some(DocumentFormat::Markdown),
            "html" | "htm" => Some(DocumentFormat::Html),
            "pdf" => Some(DocumentFormat::Pdf),
            "csv" => Some(DocumentFormat::Csv),
            _ => None,
        }
    }

    pub fn of_media_type(media_type: &str) -> Option<DocumentFormat> {
        DocumentFormat::ALL
            .iter()
            .copied()
            .find(|f| f.media_type() == media_type)
    }
}

/// What the unsupported-format error lists.
pub const ACCEPTED_FORMATS: &str =
    "plain text (.txt), Markdown (.md), HTML (.html), PDF (.pdf) or CSV (.csv)";

/// A collection as an admin creates it (`POST …/knowledge`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CollectionSpec {
    /// 1–64 characters of a-z, 0-9, '_', '.' and '-', starting with a letter or digit: what an
    /// employee's `knowledge_sources` name.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A collection as it is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Collection {
    pub name: String,
    pub description: String,
    pub documents: i64,
    /// Chunks of its ready documents.
    pub chunks: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A document as it is shown: never its content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Document {
    /// `doc_` and 24 hex digits.
    pub id: String,
    pub collection: String,
    pub title: String,
    pub media_type: String,
    /// The upload's size.
    pub bytes: i64,
    pub state: DocumentState,
    /// While processing, the share of its chunks embedded (0–1).
    pub progress: f32,
    /// Once ready, how many chunks it was split into.
    pub chunk_count: i32,
    /// Why it failed, in words.
    pub error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A passage found in the client's knowledge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KnowledgeHit {
    pub document_id: String,
    pub title: String,
    pub collection: String,
    /// The chunk's place in its document (0 first).
    pub chunk: i32,
    pub text: String,
    /// How well it matched: the reciprocal-rank fusion of the semantic and the keyword ranking.
    pub score: f64,
}

/// The collection names an employee's `knowledge_sources` point to (as collection names are
/// written: trimmed, lower case), once each. Sources that cannot be a collection's name ("the
/// company handbook") are left out here, so a turn whose sources are all descriptions asks the
/// database nothing.
pub fn collection_names(knowledge_sources: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in knowledge_sources
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
    {
        if crate::core::validate::is_slug(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

pub const MAX_COLLECTION_DESCRIPTION: usize = 500;
pub const MAX_TITLE: usize = 200;

/// A collection's definition, checked (every bad field at once).
pub fn validate_collection(spec: &CollectionSpec) -> Result<CollectionSpec, AppError> {
    let mut v = Validator::new();
    let name = v.slug("name", &spec.name);
    let description = v.optional_text(
        "description",
        spec.description.as_deref(),
        MAX_COLLECTION_DESCRIPTION,
    );
    v.finish(CollectionSpec { name, description })
}

/// A document's title: the one given, else the file name without its extension, else
/// "Untitled"; trimmed, control characters removed, at most `MAX_TITLE` characters.
pub fn document_title(given: Option<&str>, file_name: Option<&str>) -> String {
    let from_file = file_name.map(|f| {
        let base = f.rsplit(['/', '\\']).next().unwrap_or(f);
        base.rsplit_once('.')
            .map_or(base, |(stem, _)| stem)
            .to_owned()
    });
    let raw = given
        .map(str::to_owned)
        .filter(|t| !t.trim().is_empty())
        .or(from_file.filter(|t| !t.trim().is_empty()))
        .unwrap_or_else(|| "Untitled".to_owned());
    raw.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TITLE)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knowledge_sources_that_cannot_name_a_collection_are_left_out() {
        let sources: Vec<String> = [
            " Handbook ",
            "the company handbook",
            "handbook",
            "FAQ.v2",
            "",
            "-x",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(collection_names(&sources), vec!["handbook", "faq.v2"]);
    }

    #[test]
    fn formats_come_from_the_media_type_or_else_the_file_name() {
        use DocumentFormat::*;
        assert_eq!(
            DocumentFormat::detect(Some("text/markdown; charset=utf-8"), Some("a.txt")),
            Some(Markdown)
        );
        assert_eq!(
            DocumentFormat::detect(Some("application/octet-stream"), Some("Guide.PDF")),
            Some(Pdf)
        );
        assert_eq!(DocumentFormat::detect(None, Some("rates.csv")), Some(Csv));
        assert_eq!(DocumentFormat::detect(None, Some("page.htm")), Some(Html));
        assert_eq!(
            DocumentFormat::detect(Some("image/png"), Some("a.txt")),
            None
        );
        assert_eq!(DocumentFormat::detect(None, Some("archive.zip")), None);
        assert_eq!(DocumentFormat::detect(None, None), None);
        for f in DocumentFormat::ALL {
            assert_eq!(DocumentFormat::of_media_type(f.media_type()), Some(*f));
        }
    }

    #[test]
    fn titles_fall_back_to_the_file_name() {
        assert_eq!(document_title(Some(" Refunds "), Some("x.md")), "Refunds");
        assert_eq!(
            document_title(None, Some("C:\\docs\\Refund policy.md")),
            "Refund policy"
        );
        assert_eq!(document_title(Some(""), None), "Untitled");
        assert_eq!(document_title(Some("a\u{0}b"), None), "ab");
    }

    #[test]
    fn collections_are_checked_field_by_field() {
        let ok = validate_collection(&CollectionSpec {
            name: "Policies".into(),
            description: None,
        })
        .expect("valid");
        assert_eq!(ok.name, "policies");
        let e = validate_collection(&CollectionSpec {
            name: "no spaces".into(),
            description: Some("x".repeat(600)),
        })
        .expect_err("bad");
        let f = e.fields().expect("fields");
        assert!(
            f.contains_key("name") && f.contains_key("description"),
            "{f:?}"
        );
    }
}
