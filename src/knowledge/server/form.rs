//! An upload's `multipart/form-data`, read the same way for the REST route and the page's
//! server function: one `file` (its name and media type kept), an optional `title`, and — for
//! the server function, whose URL names no collection — `collection`. The file is read piece by
//! piece and refused as soon as it passes the plan's size, so a refused upload is never held
//! whole in memory.

use super::service::Upload;
use crate::core::AppError;

/// The most any upload request may carry (the largest tier's documents, and the form around
/// them); each client's tier sets its own limit below it.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// What the multipart form adds around the file.
pub const FORM_OVERHEAD: usize = 64 * 1024;
/// The most a text field (`title`, `collection`) may hold.
const TEXT_FIELD_BYTES: usize = 4096;

/// Where the form's fields go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fields {
    /// `file`, `title` (the collection is in the URL).
    FileAndTitle,
    /// `collection`, `file`, `title`.
    WithCollection,
}

impl Fields {
    fn names(self) -> &'static str {
        match self {
            Fields::FileAndTitle => "file, title",
            Fields::WithCollection => "collection, file, title",
        }
    }
}

/// What the form held.
pub struct UploadForm {
    pub upload: Upload,
    pub collection: Option<String>,
}

pub fn too_large(max: usize) -> AppError {
    AppError::PayloadTooLarge {
        message: format!("the document is larger than your plan's {max} bytes"),
    }
}

/// The multipart reader of a body whose content type is `content_type`, refusing a stream past
/// what a document of `max` bytes and its form need. 415 when the body is not a multipart form.
pub fn reader(
    content_type: Option<&str>,
    body: axum::body::Body,
    max: usize,
) -> Result<multer::Multipart<'static>, AppError> {
    let boundary = content_type
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| AppError::UnsupportedMediaType {
            message: "send the document as multipart/form-data, in a field named file".to_owned(),
        })?;
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new().whole_stream(max.saturating_add(FORM_OVERHEAD) as u64),
    );
    Ok(multer::Multipart::with_constraints(
        body.into_data_stream(),
        boundary,
        limits,
    ))
}

/// Whether reading failed because the body passed a size limit (multer's own, or the body's).
fn past_a_limit(e: &multer::Error) -> bool {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => true,
        multer::Error::StreamReadFailed(inner) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
            while let Some(e) = source {
                if e.is::<http_body_util::LengthLimitError>() {
                    return true;
                }
                source = e.source();
            }
            false
        }
        _ => false,
    }
}

fn unreadable(e: multer::Error, max: usize) -> AppError {
    if past_a_limit(&e) {
        too_large(max)
    } else {
        AppError::field("file", format!("could not be read: {e}"))
    }
}

/// Reads the form: at most `max` bytes of file, one file, only the fields `fields` names.
pub async fn read(
    mut form: multer::Multipart<'_>,
    max: usize,
    fields: Fields,
) -> Result<UploadForm, AppError> {
    let mut upload: Option<Upload> = None;
    let mut title: Option<String> = None;
    let mut collection: Option<String> = None;
    while let Some(mut field) = form.next_field().await.map_err(|e| unreadable(e, max))? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" if upload.is_none() => {
                let file_name = field.file_name().map(str::to_owned);
                let content_type = field.content_type().map(|m| m.essence_str().to_owned());
                let bytes = capped(&mut field, max, max, || too_large(max)).await?;
                upload = Some(Upload {
                    file_name,
                    content_type,
                    title: None,
                    bytes,
                });
            }
            "file" => return Err(AppError::field("file", "send one document at a time")),
            "title" => title = Some(text(field, "title", max).await?),
            "collection" if fields == Fields::WithCollection => {
                collection = Some(text(field, "collection", max).await?)
            }
            other => {
                return Err(AppError::field(
                    other.chars().take(64).collect::<String>(),
                    format!("is not a field of an upload ({})", fields.names()),
                ))
            }
        }
    }
    let mut upload = upload.ok_or_else(|| {
        AppError::field(
            "file",
            "is required: the document, as a multipart/form-data file field",
        )
    })?;
    upload.title = title;
    Ok(UploadForm { upload, collection })
}

async fn text(mut field: multer::Field<'_>, name: &str, max: usize) -> Result<String, AppError> {
    let bytes = capped(&mut field, TEXT_FIELD_BYTES, max, || {
        AppError::field(name, format!("is longer than {TEXT_FIELD_BYTES} bytes"))
    })
    .await?;
    String::from_utf8(bytes).map_err(|_| AppError::field(name, "is not UTF-8 text"))
}

/// A field's bytes, piece by piece, refused with `over()` as soon as they pass `cap` (`max`:
/// the plan's size, for the errors of a body past its limit).
async fn capped(
    field: &mut multer::Field<'_>,
    cap: usize,
    max: usize,
    over: impl FnOnce() -> AppError,
) -> Result<Vec<u8>, AppError> {
    let mut bytes = Vec::new();
    while let Some(piece) = field.chunk().await.map_err(|e| unreadable(e, max))? {
        if bytes.len() + piece.len() > cap {
            return Err(over());
        }
        bytes.extend_from_slice(&piece);
    }
    Ok(bytes)
}
