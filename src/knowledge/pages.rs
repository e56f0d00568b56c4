//! `/knowledge`: the client's knowledge sources, for owners, admins and admin keys — its
//! collections (create, delete), and in each the documents with their state as they are
//! ingested (queued, processing with progress, ready with chunk count, failed with the reason).
//! Files are dropped on a collection (or chosen) and sent, one request each, to the
//! `upload_document` server function as a multipart form (by XMLHttpRequest, which lets the page
//! show each file's bytes going up); the list then follows the ingestion until every document
//! has settled.

use super::{Collection, CollectionSpec, Document, DocumentState, ACCEPTED_FORMATS};
use crate::app::components::*;
use crate::core::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// What the page opens with: the largest upload the plan takes, the collections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeOverview {
    pub max_document_bytes: u64,
    pub collections: Vec<Collection>,
}

#[server(prefix = "/rpc")]
pub async fn load_knowledge() -> Result<KnowledgeOverview, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let collections = super::server::service::list_collections(&state, &who).await?;
        Ok(KnowledgeOverview {
            max_document_bytes: super::server::service::max_document_bytes(&state, &who) as u64,
            collections,
        })
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc", input = leptos::server_fn::codec::Json)]
pub async fn add_collection(spec: CollectionSpec) -> Result<Collection, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        super::server::service::create_collection(&state, &who, &spec).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn remove_collection(name: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        super::server::service::delete_collection(&state, &who, &name).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn load_documents(collection: String) -> Result<Vec<Document>, AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        super::server::service::list_documents(&state, &who, &collection).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

#[server(prefix = "/rpc")]
pub async fn remove_document(collection: String, id: String) -> Result<(), AppError> {
    let result = async {
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        super::server::service::delete_document(&state, &who, &collection, &id).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// Uploads a document into a collection, as the REST route does: a multipart form with
/// `collection`, `file` and an optional `title`. The answer comes at once, with the document
/// queued. Its route takes bodies up to `MAX_UPLOAD_BYTES`; the plan's size is enforced as the
/// file is read.
#[server(prefix = "/rpc", endpoint = "upload_document", input = leptos::server_fn::codec::MultipartFormData)]
pub async fn upload_document(
    data: leptos::server_fn::codec::MultipartData,
) -> Result<Document, AppError> {
    let result = async {
        use super::server::form;
        let (state, who) = crate::accounts::server::principal::client_in_context()?;
        let reader = data
            .into_inner()
            .ok_or_else(|| AppError::bad_request("the upload's form could not be read"))?;
        let max = super::server::service::max_document_bytes(&state, &who);
        let read = form::read(reader, max, form::Fields::WithCollection).await?;
        let collection = read.collection.ok_or_else(|| {
            AppError::field("collection", "is required: the collection to upload into")
        })?;
        super::server::service::upload_document(&state, &who, &collection, read.upload).await
    }
    .await;
    result.or_else(crate::platform::fns::fail)
}

/// What the file picker offers.
const ACCEPT: &str = ".txt,.text,.md,.markdown,.html,.htm,.pdf,.csv,text/plain,text/markdown,text/html,application/pdf,text/csv";

/// A size for people: bytes, KB or MB.
pub fn human_size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / 1_048_576.0)
    }
}

#[component]
pub fn KnowledgePage() -> impl IntoView {
    let add = ServerAction::<AddCollection>::new();
    let remove = ServerAction::<RemoveCollection>::new();
    let overview = Resource::new(
        move || (add.version().get(), remove.version().get()),
        |_| load_knowledge(),
    );
    view! {
        <Title text="Knowledge" />
        <h1 class="mb-2 text-2xl font-semibold">"Knowledge"</h1>
        <p class="mb-6 max-w-3xl text-sm text-slate-600">
            "Documents your employees answer from. An employee draws on the collections its knowledge "
            "sources name: each answer carries the passages that match the question best, and cites them as [1], [2]… "
            {format!("Upload {ACCEPTED_FORMATS}.")}
        </p>
        <div class="space-y-6">
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Err(error) => view! { <ErrorBox error /> }.into_any(),
                        Ok(o) if o.collections.is_empty() => view! {
                            <p class="text-sm text-slate-600" data-testid="no-collections">"No collection yet: create one below, then drop documents on it."</p>
                        }.into_any(),
                        Ok(o) => {
                            let max = o.max_document_bytes;
                            view! {
                                <ul class="space-y-4">
                                    {o.collections.into_iter().map(|c| view! {
                                        <CollectionCard collection=c max_bytes=max remove />
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
            {action_error(remove.value())}
            <AddCollectionForm add />
        </div>
    }
}

#[component]
fn AddCollectionForm(add: ServerAction<AddCollection>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            name.set(String::new());
            description.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let description = description.get_untracked();
        add.dispatch(AddCollection {
            spec: CollectionSpec {
                name: name.get_untracked(),
                description: (!description.trim().is_empty()).then_some(description),
            },
        });
    };
    view! {
        <section class=CARD aria-labelledby="new-collection-heading">
            <h2 id="new-collection-heading" class="mb-3 text-lg font-medium">"New collection"</h2>
            <form class="grid gap-3 sm:grid-cols-2" on:submit=submit>
                <label class="block">
                    <span class=LABEL>"Name (what employees' knowledge sources say)"</span>
                    <input class=INPUT name="collection_name" required=true placeholder="handbook"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <label class="block">
                    <span class=LABEL>"Description (optional)"</span>
                    <input class=INPUT name="collection_description" placeholder="Policies and how-tos"
                        prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev)) />
                </label>
                <div class="sm:col-span-2">
                    <button type="submit" class=BUTTON disabled=move || add.pending().get()>"Create the collection"</button>
                </div>
            </form>
            {action_error(add.value())}
        </section>
    }
}

/// A file on its way up: its name, the share sent, and why it was refused, if it was.
#[derive(Debug, Clone, PartialEq)]
struct Sending {
    key: u32,
    name: String,
    sent: f64,
    error: Option<String>,
}

#[component]
fn CollectionCard(
    collection: Collection,
    max_bytes: u64,
    remove: ServerAction<RemoveCollection>,
) -> impl IntoView {
    let name = collection.name.clone();
    let into = StoredValue::new(collection.name.clone());
    let delete_doc = ServerAction::<RemoveDocument>::new();
    // Read again after an upload, a delete, and every second while a document is being ingested.
    let tick = RwSignal::new(0u32);
    let documents = Resource::new(
        move || (tick.get(), delete_doc.version().get()),
        move |_| load_documents(name.clone()),
    );
    let settling = move || {
        documents.get().and_then(Result::ok).is_some_and(|docs| {
            docs.iter()
                .any(|d| matches!(d.state, DocumentState::Queued | DocumentState::Processing))
        })
    };
    // One read a second at most, however many uploads end meanwhile.
    let scheduled = StoredValue::new(false);
    Effect::new(move |_| {
        if settling() && !scheduled.get_value() {
            scheduled.set_value(true);
            set_timeout(
                move || {
                    scheduled.set_value(false);
                    tick.update(|t| *t += 1);
                },
                std::time::Duration::from_secs(1),
            );
        }
    });
    // The counts follow the list as it is read again (the card stays, and with it the uploads
    // under way); until then, the overview's.
    let first_counts = (collection.documents, collection.chunks);
    let counts = move || {
        documents
            .get()
            .and_then(Result::ok)
            .map_or(first_counts, |docs| {
                let chunks = docs
                    .iter()
                    .filter(|d| d.state == DocumentState::Ready)
                    .map(|d| i64::from(d.chunk_count))
                    .sum::<i64>();
                (docs.len() as i64, chunks)
            })
    };
    let sending = RwSignal::new(Vec::<Sending>::new());
    let next_key = StoredValue::new(0u32);
    let hovering = RwSignal::new(false);
    let send_files = move |files: Vec<SendableFile>| {
        for file in files {
            let key = next_key.get_value();
            next_key.set_value(key + 1);
            let name = file.name();
            if file.size() > max_bytes {
                sending.update(|s| {
                    s.push(Sending {
                        key,
                        error: Some(format!(
                            "{name} is {}; your plan takes documents up to {}",
                            human_size(file.size()),
                            human_size(max_bytes)
                        )),
                        name,
                        sent: 0.0,
                    })
                });
                continue;
            }
            sending.update(|s| {
                s.push(Sending {
                    key,
                    name,
                    sent: 0.0,
                    error: None,
                })
            });
            file.send(
                &into.get_value(),
                move |share| {
                    sending.update(|s| {
                        if let Some(x) = s.iter_mut().find(|x| x.key == key) {
                            x.sent = share;
                        }
                    })
                },
                move |result| {
                    match result {
                        Ok(()) => sending.update(|s| s.retain(|x| x.key != key)),
                        Err(e) => sending.update(|s| {
                            if let Some(x) = s.iter_mut().find(|x| x.key == key) {
                                x.error = Some(e);
                            }
                        }),
                    }
                    tick.update(|t| *t += 1);
                },
            );
        }
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        hovering.set(false);
        send_files(dropped_files(&ev));
    };
    let on_pick = move |ev: leptos::ev::Event| {
        send_files(picked_files(&ev));
    };
    let input_id = format!("upload-{}", collection.name);
    let label_for = input_id.clone();
    let remove_name = collection.name.clone();
    view! {
        <li class=CARD data-testid="collection" data-collection=collection.name.clone()>
            <div class="flex flex-wrap items-start gap-3">
                <div class="min-w-0 flex-1">
                    <h2 class="text-lg font-medium"><code>{collection.name.clone()}</code></h2>
                    {(!collection.description.is_empty()).then(|| view! { <p class="text-sm text-slate-600">{collection.description.clone()}</p> })}
                    <p class="text-xs text-slate-500" data-testid="collection-counts">
                        {move || {
                            let (documents, chunks) = counts();
                            format!("{documents} document{} · {chunks} chunk{}", if documents == 1 { "" } else { "s" },
                                    if chunks == 1 { "" } else { "s" })
                        }}
                    </p>
                </div>
                <button type="button" class=BUTTON_DANGER
                    on:click=move |_| {
                        if confirmed(&format!("Delete the collection “{remove_name}” with all its documents? Employees that draw on it keep working without it; answers already given keep the excerpts they cited.")) {
                            remove.dispatch(RemoveCollection { name: remove_name.clone() });
                        }
                    }>
                    "Delete collection"
                </button>
            </div>
            <label
                for=label_for
                data-testid="drop-zone"
                class=move || format!(
                    "mt-4 flex cursor-pointer flex-col items-center justify-center rounded-lg border-2 border-dashed px-4 py-6 text-center text-sm {}",
                    if hovering.get() { "border-indigo-500 bg-indigo-50 text-indigo-800" } else { "border-slate-300 text-slate-600" }
                )
                on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); hovering.set(true); }
                on:dragenter=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); hovering.set(true); }
                on:dragleave=move |_| hovering.set(false)
                on:drop=on_drop
            >
                <span class="font-medium">"Drop documents here, or choose files"</span>
                <span class="text-xs">{format!("Up to {} each", human_size(max_bytes))}</span>
                <input id=input_id type="file" multiple=true accept=ACCEPT class="sr-only" on:change=on_pick />
            </label>
            <ul class="mt-3 space-y-2" aria-live="polite">
                {move || sending.get().into_iter().map(|s| view! {
                    <li class="text-sm" data-testid="sending">
                        <span class="font-medium">{s.name.clone()}</span>
                        {match s.error {
                            Some(e) => view! { <p role="alert" class="text-red-700">{e}</p> }.into_any(),
                            None => view! {
                                <span class="ml-2 text-slate-500">{format!("uploading… {:.0}%", s.sent * 100.0)}</span>
                                <progress class="block h-1.5 w-full" max="1" value=s.sent></progress>
                            }.into_any(),
                        }}
                    </li>
                }).collect_view()}
            </ul>
            <Transition fallback=|| view! { <p class="mt-3 text-sm">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match documents.await {
                        Err(error) => view! { <ErrorBox error /> }.into_any(),
                        Ok(docs) if docs.is_empty() => view! { <p class="mt-3 text-sm text-slate-600">"No document yet."</p> }.into_any(),
                        Ok(docs) => view! {
                            <ul class="mt-3 divide-y divide-slate-100">
                                {docs.into_iter().map(|d| view! { <DocumentRow d delete=delete_doc /> }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Transition>
            {action_error(delete_doc.value())}
        </li>
    }
}

#[component]
fn DocumentRow(d: Document, delete: ServerAction<RemoveDocument>) -> impl IntoView {
    let (badge, class) = match d.state {
        DocumentState::Queued => ("queued", "bg-slate-100 text-slate-700"),
        DocumentState::Processing => ("processing", "bg-amber-100 text-amber-800"),
        DocumentState::Ready => ("ready", "bg-emerald-100 text-emerald-800"),
        DocumentState::Failed => ("failed", "bg-red-100 text-red-800"),
    };
    let detail = match d.state {
        DocumentState::Ready => format!(
            "{} chunk{}",
            d.chunk_count,
            if d.chunk_count == 1 { "" } else { "s" }
        ),
        DocumentState::Processing => format!("{:.0}% embedded", d.progress * 100.0),
        DocumentState::Queued => "waiting to be read".to_owned(),
        DocumentState::Failed => d.error.clone().unwrap_or_default(),
    };
    let (collection, id, title) = (d.collection.clone(), d.id.clone(), d.title.clone());
    view! {
        <li class="flex flex-wrap items-center gap-3 py-2" data-testid="document" data-state=d.state.as_str()>
            <div class="min-w-0 flex-1">
                <p class="truncate text-sm font-medium" data-testid="document-title">{d.title.clone()}</p>
                <p class="text-xs text-slate-500">{format!("{} · {}", d.media_type, human_size(d.bytes.max(0) as u64))}</p>
                {(d.state == DocumentState::Processing).then(|| view! {
                    <progress class="block h-1.5 w-full max-w-xs" max="1" value=f64::from(d.progress)></progress>
                })}
            </div>
            <span class=format!("rounded-full px-2 py-0.5 text-xs font-medium {class}") data-testid="document-state">{badge}</span>
            <span class=if d.state == DocumentState::Failed { "text-xs text-red-700" } else { "text-xs text-slate-600" } data-testid="document-detail">{detail}</span>
            <button type="button" class=BUTTON_DANGER aria-label=format!("Delete {title}")
                on:click=move |_| {
                    if confirmed(&format!("Delete “{title}”? Employees no longer find its passages; answers already given keep the excerpts they cited.")) {
                        delete.dispatch(RemoveDocument { collection: collection.clone(), id: id.clone() });
                    }
                }>
                "Delete"
            </button>
        </li>
    }
}

/// A file the person gave the page (dropped or chosen). On the server there are none.
struct SendableFile {
    #[cfg(feature = "hydrate")]
    file: web_sys::File,
}

#[cfg(feature = "hydrate")]
impl SendableFile {
    fn name(&self) -> String {
        self.file.name()
    }

    fn size(&self) -> u64 {
        self.file.size() as u64
    }

    /// Posts the file to the `upload_document` server function, into `collection`, telling
    /// `progress` the share sent and `done` how it ended (the server's error message when it
    /// was refused).
    fn send(
        self,
        collection: &str,
        progress: impl Fn(f64) + 'static,
        done: impl FnOnce(Result<(), String>) + 'static,
    ) {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let fail = |e: &str| Err(format!("the upload could not start ({e})"));
        let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
            done(fail("no XMLHttpRequest"));
            return;
        };
        let Ok(form) = web_sys::FormData::new() else {
            done(fail("no FormData"));
            return;
        };
        let url = <UploadDocument as leptos::server_fn::ServerFn>::PATH;
        if form.append_with_str("collection", collection).is_err()
            || form
                .append_with_blob_and_filename("file", &self.file, &self.file.name())
                .is_err()
            || xhr.open("POST", url).is_err()
        {
            done(fail("the request could not be made"));
            return;
        }
        let on_progress =
            Closure::<dyn Fn(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
                if e.length_computable() && e.total() > 0.0 {
                    progress(e.loaded() / e.total());
                }
            });
        if let Ok(upload) = xhr.upload() {
            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        let answered = xhr.clone();
        let done = std::cell::RefCell::new(Some(done));
        let on_end = Closure::<dyn Fn()>::new(move || {
            let Some(done) = done.borrow_mut().take() else {
                return;
            };
            let status = answered.status().unwrap_or(0);
            if (200..300).contains(&status) {
                done(Ok(()));
            } else if status == 0 {
                done(Err("the upload was interrupted; try again".to_owned()));
            } else {
                let text = answered.response_text().ok().flatten().unwrap_or_default();
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| {
                        // The server function's error (the REST routes wrap it in `error`).
                        let e = v.get("error").unwrap_or(&v);
                        let fields = e["fields"].as_object().map(|f| {
                            f.iter()
                                .map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or_default()))
                                .collect::<Vec<_>>()
                                .join("; ")
                        });
                        fields
                            .filter(|f| !f.is_empty())
                            .or_else(|| e["message"].as_str().map(str::to_owned))
                    })
                    .unwrap_or_else(|| format!("the server answered {status}"));
                done(Err(message));
            }
        });
        xhr.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
        // A send that fails at once still ends in `loadend`, which tells `done`.
        let _ = xhr.send_with_opt_form_data(Some(&form));
        // The browser calls them later: they live as long as the page.
        on_progress.forget();
        on_end.forget();
    }
}

#[cfg(not(feature = "hydrate"))]
impl SendableFile {
    fn name(&self) -> String {
        String::new()
    }

    fn size(&self) -> u64 {
        0
    }

    fn send(
        self,
        _: &str,
        _: impl Fn(f64) + 'static,
        _: impl FnOnce(Result<(), String>) + 'static,
    ) {
    }
}

fn dropped_files(_ev: &leptos::ev::DragEvent) -> Vec<SendableFile> {
    #[cfg(feature = "hydrate")]
    if let Some(list) = _ev.data_transfer().and_then(|d| d.files()) {
        return file_list(&list);
    }
    Vec::new()
}

fn picked_files(_ev: &leptos::ev::Event) -> Vec<SendableFile> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(input) = _ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            let files = input.files().map(|l| file_list(&l)).unwrap_or_default();
            // The same file chosen again is a new upload.
            input.set_value("");
            return files;
        }
    }
    Vec::new()
}

#[cfg(feature = "hydrate")]
fn file_list(list: &web_sys::FileList) -> Vec<SendableFile> {
    (0..list.length())
        .filter_map(|i| list.get(i))
        .map(|file| SendableFile { file })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2048), "2.0 KB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MB");
    }
}
