//! `/employees/clients/{client_id}/knowledge[/{collection}[/documents[/{document_id}]]]`: the
//! client's knowledge. Reading it needs `employees:read`; changing it needs `admin`
//! (`accounts::server::policy`). Documents are uploaded as `multipart/form-data` (a `file`
//! field, and an optional `title`).

use super::form::MAX_UPLOAD_BYTES;
use super::form::{self, Fields, FORM_OVERHEAD};
use super::service;
use crate::accounts::server::principal::ClientPath;
use crate::core::AppError;
use crate::knowledge::{Collection, CollectionSpec, Document, DocumentState};
use crate::platform::http::{ApiJson, ApiRoutes, ClientParams, ErrorBody, CLIENT};
use crate::platform::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use std::collections::HashMap;

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct CollectionParams {
    /// The client (`client_…`).
    client_id: crate::core::ClientId,
    /// The collection's name.
    collection: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
struct DocumentParams {
    /// The client (`client_…`).
    client_id: crate::core::ClientId,
    /// The collection's name.
    collection: String,
    /// The document (`doc_…`).
    document_id: String,
}

/// The form of an upload, as documented (the handler reads it field by field).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The document: plain text, Markdown, HTML, PDF or CSV (by its media type, else its file
    /// name's extension).
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    /// Shown with its chunks when they are cited; the file name when absent.
    title: Option<String>,
}

fn param(params: &HashMap<String, String>, name: &str, what: &str) -> Result<String, AppError> {
    params
        .get(name)
        .cloned()
        .ok_or_else(|| AppError::not_found(what))
}

/// The client's collections
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/knowledge", tag = "knowledge",
    params(ClientParams),
    responses((status = 200, description = "The collections, with their document and chunk counts.", body = Vec<Collection>)))]
async fn list_collections(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
) -> Result<Json<Vec<Collection>>, AppError> {
    Ok(Json(service::list_collections(&state, &who).await?))
}

/// Create a collection
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/knowledge", tag = "knowledge",
    params(ClientParams), request_body = CollectionSpec,
    responses(
        (status = 201, description = "The collection.", body = Collection),
        (status = 409, description = "A collection of that name exists.", body = ErrorBody)))]
async fn create_collection(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    body: Result<ApiJson<CollectionSpec>, AppError>,
) -> Result<(StatusCode, Json<Collection>), AppError> {
    let ApiJson(spec) = body?;
    let c = service::create_collection(&state, &who, &spec).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// One collection
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/knowledge/{collection}", tag = "knowledge",
    params(CollectionParams),
    responses((status = 200, description = "The collection.", body = Collection)))]
async fn get_collection(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Collection>, AppError> {
    let name = param(&params, "collection", "collection")?;
    Ok(Json(service::get_collection(&state, &who, &name).await?))
}

/// Delete a collection
///
/// With its documents, their chunks and vectors. Employees that name it keep working without it.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/knowledge/{collection}", tag = "knowledge",
    params(CollectionParams),
    responses((status = 204, description = "Deleted.")))]
async fn delete_collection(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    let name = param(&params, "collection", "collection")?;
    service::delete_collection(&state, &who, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A collection's documents
///
/// Newest first, each with its state: `queued`, `processing` (with `progress`), `ready` (with
/// `chunk_count`) or `failed` (with `error`).
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/knowledge/{collection}/documents", tag = "knowledge",
    params(CollectionParams),
    responses((status = 200, description = "The documents.", body = Vec<Document>)))]
async fn list_documents(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Vec<Document>>, AppError> {
    let name = param(&params, "collection", "collection")?;
    Ok(Json(service::list_documents(&state, &who, &name).await?))
}

/// Upload a document
///
/// `multipart/form-data` with a `file` field (and an optional `title`). The answer comes at
/// once, with the document `queued`: it is read, split and embedded in the background (follow
/// its `state`). 415 for a format that cannot be read, 413 past the plan's size, 409 past its
/// number of documents.
#[utoipa::path(post, path = "/api/v1/employees/clients/{client_id}/knowledge/{collection}/documents", tag = "knowledge",
    params(CollectionParams),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Accepted: the document, queued.", body = Document),
        (status = 409, description = "The plan's number of documents is reached.", body = ErrorBody),
        (status = 413, description = "Larger than the plan allows.", body = ErrorBody),
        (status = 415, description = "Not a format documents can be read from.", body = ErrorBody)))]
async fn upload_document(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<Document>), AppError> {
    let collection = param(&params, "collection", "collection")?;
    let max = service::max_document_bytes(&state, &who);
    // A declared length past the plan's limit is refused before the body is read.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max + FORM_OVERHEAD) {
        return Err(form::too_large(max));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let reader = form::reader(content_type, body, max)?;
    let upload = form::read(reader, max, Fields::FileAndTitle).await?.upload;
    let doc = service::upload_document(&state, &who, &collection, upload).await?;
    debug_assert_eq!(doc.state, DocumentState::Queued);
    Ok((StatusCode::ACCEPTED, Json(doc)))
}

/// One document
#[utoipa::path(get, path = "/api/v1/employees/clients/{client_id}/knowledge/{collection}/documents/{document_id}", tag = "knowledge",
    params(DocumentParams),
    responses((status = 200, description = "The document and its state.", body = Document)))]
async fn get_document(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Json<Document>, AppError> {
    let collection = param(&params, "collection", "collection")?;
    let id = param(&params, "document_id", "document")?;
    Ok(Json(
        service::get_document(&state, &who, &collection, &id).await?,
    ))
}

/// Delete a document
///
/// With its chunks and vectors.
#[utoipa::path(delete, path = "/api/v1/employees/clients/{client_id}/knowledge/{collection}/documents/{document_id}", tag = "knowledge",
    params(DocumentParams),
    responses((status = 204, description = "Deleted.")))]
async fn delete_document(
    State(state): State<AppState>,
    ClientPath(who): ClientPath,
    Path(params): Path<HashMap<String, String>>,
) -> Result<StatusCode, AppError> {
    let collection = param(&params, "collection", "collection")?;
    let id = param(&params, "document_id", "document")?;
    service::delete_document(&state, &who, &collection, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_collections,
        create_collection,
        get_collection,
        delete_collection,
        list_documents,
        upload_document,
        get_document,
        delete_document
    ),
    components(schemas(Collection, CollectionSpec, Document, DocumentState, UploadForm))
)]
pub struct Api;

pub fn router() -> ApiRoutes {
    let collections = format!("{CLIENT}/knowledge");
    let collection = format!("{collections}/{{collection}}");
    let documents = format!("{collection}/documents");
    let document = format!("{documents}/{{document_id}}");
    ApiRoutes::new()
        .get(&collections, list_collections)
        .post(&collections, create_collection)
        .get(&collection, get_collection)
        .delete(&collection, delete_collection)
        .get(&documents, list_documents)
        .post_large(&documents, upload_document, MAX_UPLOAD_BYTES)
        .get(&document, get_document)
        .delete(&document, delete_document)
}
