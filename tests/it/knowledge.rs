//! Knowledge: collections and documents over REST, uploads in each format ingested in the
//! background into chunks with vectors and words, the errors an upload can meet, a document
//! left half-done by a stopped instance taken up again, and another client seeing nothing.

use crate::helpers::*;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, Row};
use std::time::Duration;
use workforce::knowledge::pages::UploadDocument;

const BOUNDARY: &str = "workforce-test-boundary-7d1f";

/// One part of a form: its name, file name, media type and bytes.
pub type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A `multipart/form-data` body, and its content type.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (name, file, media, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = file {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(m) = media {
            body.extend_from_slice(format!("Content-Type: {m}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// A one-page PDF whose text layer says `text` (Helvetica, one line), offsets computed.
pub fn pdf_saying(text: &str) -> Vec<u8> {
    let stream = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn knowledge_path(client: &str) -> String {
    format!("/api/v1/employees/clients/{client}/knowledge")
}

async fn upload(
    app: &TestApp,
    key: &str,
    path: &str,
    file: &str,
    media: Option<&str>,
    bytes: &[u8],
) -> Response {
    let (ct, body) = multipart(&[("file", Some(file), media, bytes)]);
    app.send_raw("POST", path, Some(key), &ct, body).await
}

/// Waits until every document of the collection is ready or failed; returns them.
async fn settled(app: &TestApp, key: &str, docs_path: &str) -> Vec<Value> {
    eventually(Duration::from_secs(30), || async {
        let r = app.get(docs_path, key).await;
        let docs = r.body.as_array().cloned().unwrap_or_default();
        if !docs.is_empty()
            && docs
                .iter()
                .all(|d| d["state"] == "ready" || d["state"] == "failed")
        {
            Ok(docs)
        } else {
            Err(format!("documents still waiting: {}", r.body))
        }
    })
    .await
}

#[sqlx::test]
async fn documents_in_each_format_are_ingested_in_the_background(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner.clone()).await;
    let (client, key) = app
        .onboard(json!({"name": "Librarian", "tier": "starter"}))
        .await;
    let base = knowledge_path(&client);
    let r = app
        .send(
            "POST",
            &base,
            Some(&key),
            Some(json!({"name": "Policies", "description": "What we promise"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "policies");
    let again = app
        .send("POST", &base, Some(&key), Some(json!({"name": "policies"})))
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let docs = format!("{base}/policies/documents");

    let long_md = format!(
        "# Returns\n\n{}\n\n## Refunds\n\nRefunds reach the card within 5 working days.\n",
        "Items may be returned within thirty days of delivery, unused and in their box. "
            .repeat(40)
    );
    let uploads: [(&str, Option<&str>, Vec<u8>); 5] = [
        ("shipping.txt", Some("text/plain"), b"Parcels leave the Lyon warehouse every weekday before noon.".to_vec()),
        ("returns.md", None, long_md.into_bytes()),
        ("care.html", Some("text/html"), b"<html><body><h1>Care</h1><p>Wash the linen shirts at <b>30 degrees</b>.</p><script>alert(1)</script></body></html>".to_vec()),
        ("plans.csv", Some("text/csv"), b"plan,price\nBasic,10 euros\nPro,25 euros\n".to_vec()),
        ("warranty.pdf", Some("application/pdf"), pdf_saying("The warranty lasts two years from purchase.")),
    ];
    for (name, media, bytes) in &uploads {
        let r = upload(&app, &key, &docs, name, *media, bytes).await;
        assert_eq!(r.status, 202, "{name}: {}", r.body);
        assert_eq!(r.body["state"], "queued", "{name}");
        assert!(r.body.get("content").is_none());
    }
    let done = settled(&app, &key, &docs).await;
    assert_eq!(done.len(), 5);
    for d in &done {
        assert_eq!(d["state"], "ready", "{d}");
        assert!(d["chunk_count"].as_i64().expect("count") >= 1, "{d}");
        assert_eq!(d["progress"], 1.0, "{d}");
    }
    let by_title = |t: &str| done.iter().find(|d| d["title"] == t).cloned().expect("doc");
    assert!(
        by_title("returns")["chunk_count"].as_i64().expect("n") > 1,
        "a long document is split"
    );
    assert_eq!(by_title("returns")["media_type"], "text/markdown");

    // Each chunk is stored with its words and a vector; the upload itself is dropped.
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    let texts: Vec<String> =
        sqlx::query("SELECT text FROM knowledge_chunks ORDER BY document_id, ord")
            .fetch_all(&mut db)
            .await
            .expect("chunks")
            .iter()
            .map(|r| r.get(0))
            .collect();
    let all = texts.join("\n");
    for fact in [
        "Lyon warehouse",
        "5 working days",
        "30 degrees",
        "plan: Pro; price: 25 euros",
        "warranty lasts two years",
    ] {
        assert!(all.contains(fact), "{fact} missing from the chunks: {all}");
    }
    assert!(
        !all.contains("alert(1)"),
        "a script's text is not knowledge"
    );
    let (chunks, vectors, kept): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM knowledge_chunks),
                (SELECT count(*) FROM knowledge_vectors WHERE model = 'text-embedding-3-small#chunk1'),
                (SELECT count(*) FROM knowledge_documents WHERE content IS NOT NULL)",
    )
    .fetch_one(&mut db)
    .await
    .expect("counts");
    assert_eq!(chunks, vectors);
    assert_eq!(kept, 0);
    let found: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM knowledge_chunks WHERE search_terms @@ plainto_tsquery('english', 'warranty years')",
    )
    .fetch_one(&mut db)
    .await
    .expect("search");
    assert_eq!(found, 1);
    let r = app.get(&base, &key).await;
    assert_eq!(r.body[0]["documents"], 5, "{}", r.body);
    assert_eq!(r.body[0]["chunks"], chunks, "{}", r.body);

    // An employee answers from its knowledge sources: knowledge_search finds the passage by
    // meaning and words, within the collections its knowledge_sources name, with the title.
    let mut req = requirements("support agent");
    req["tools_needed"] = json!(["knowledge_search"]);
    req["knowledge_domains"] = json!(["Policies"]);
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let emp = app.hire(&client, &key, req).await;
    let r = app
        .interact(
            &client,
            &key,
            &emp,
            r#"How long is the warranty? <<knowledge_search {"query": "how long does the warranty last"}>>"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tool_calls"][0]["status"], "ok", "{}", r.body);
    let answer = r.body["message"].as_str().expect("message");
    assert!(answer.contains("warranty lasts two years"), "{answer}");
    assert!(answer.contains(r#""document":"warranty""#), "{answer}");
    // An employee whose knowledge sources name no collection of this client finds nothing.
    let mut req = requirements("other agent");
    req["tools_needed"] = json!(["knowledge_search"]);
    req["knowledge_domains"] = json!(["Something else"]);
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let other = app.hire(&client, &key, req).await;
    let r = app
        .interact(
            &client,
            &key,
            &other,
            r#"<<knowledge_search {"query": "warranty"}>>"#,
        )
        .await;
    assert!(
        r.body["message"]
            .as_str()
            .expect("message")
            .contains(r#"{"found":[]}"#),
        "{}",
        r.body
    );
    // A trial call searches all the client's collections.
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/tools/knowledge_search/test"),
            Some(&key),
            Some(json!({"arguments": {"query": "when do parcels leave Lyon"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["result"]
            .as_str()
            .expect("result")
            .contains("Lyon warehouse"),
        "{}",
        r.body
    );

    // Every turn of an employee with knowledge sources carries the best passages, numbered
    // with their titles; the answer cites them as [n], and the response, the stream's last
    // event, an idempotent replay and the stored turn list them.
    let pdf_id = by_title("warranty")["id"].as_str().expect("id").to_owned();
    let ask = "How long does the warranty last?";
    let r = app
        .interact_keyed(&client, &key, &emp, ask, "warranty-1")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let system = system_prompt_of(stub.requests().last().expect("request"));
    assert!(
        system.contains("cite it as [n]")
            && system.contains("[1] warranty (policies)\nThe warranty lasts two years"),
        "{system}"
    );
    assert!(
        r.body["message"]
            .as_str()
            .expect("message")
            .ends_with("[1]"),
        "{}",
        r.body
    );
    let sources = r.body["sources"].as_array().expect("sources").clone();
    assert!(!sources.is_empty() && sources.len() <= 4, "{}", r.body);
    assert_eq!(sources[0]["n"], 1);
    assert_eq!(sources[0]["document_id"], pdf_id.as_str());
    assert_eq!(sources[0]["title"], "warranty");
    assert_eq!(sources[0]["collection"], "policies");
    assert_eq!(sources[0]["chunk"], 0);
    assert_eq!(sources[0]["cited"], true);
    assert!(sources[0]["score"].as_f64().expect("score") > 0.0);
    assert!(sources[0]["excerpt"]
        .as_str()
        .expect("excerpt")
        .contains("warranty lasts two years"));
    assert!(
        sources[1..].iter().all(|s| s["cited"] == false),
        "{}",
        r.body
    );
    let replay = app
        .interact_keyed(&client, &key, &emp, ask, "warranty-1")
        .await;
    assert_eq!(replay.body["sources"], r.body["sources"]);
    let stored = app.memory(&client, &key, &emp, "limit=1").await;
    assert_eq!(
        stored.body["memory"][0]["sources"], r.body["sources"],
        "{}",
        stored.body
    );
    let (status, events) = app
        .interact_stream(&client, &key, &emp, "Where do parcels leave from?", false)
        .await;
    assert_eq!(status, 200);
    let (_, done) = events
        .iter()
        .find(|(e, _)| e == "done")
        .expect("done event");
    assert_eq!(done["sources"][0]["title"], "shipping", "{done}");
    assert_eq!(done["sources"][0]["cited"], true, "{done}");
    // Sources that name nothing searchable: no passages, and no word about them.
    let r = app
        .interact(&client, &key, &other, "How long does the warranty last?")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sources"], json!([]), "{}", r.body);
    let system = system_prompt_of(stub.requests().last().expect("request"));
    assert!(!system.contains("Passages from"), "{system}");

    // What cannot be taken says why, with the right status.
    let r = upload(&app, &key, &docs, "logo.png", Some("image/png"), b"\x89PNG").await;
    assert_eq!(r.status, 415, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("logo.png"),
        "{}",
        r.body
    );
    let too_big = vec![b'a'; 5 * 1024 * 1024 + 1];
    let r = upload(&app, &key, &docs, "big.txt", Some("text/plain"), &too_big).await;
    assert_eq!(r.status, 413, "{}", r.body);
    let r = upload(&app, &key, &docs, "empty.txt", Some("text/plain"), b"").await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["error"]["fields"]["file"].is_string(), "{}", r.body);
    let (ct, body) = multipart(&[("title", None, None, b"no file")]);
    let r = app.send_raw("POST", &docs, Some(&key), &ct, body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["error"]["fields"]["file"].is_string(), "{}", r.body);
    let r = app
        .send_raw(
            "POST",
            &docs,
            Some(&key),
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.body);
    let r = upload(
        &app,
        &key,
        &format!("{base}/nope/documents"),
        "a.txt",
        None,
        b"x",
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // A damaged PDF is accepted, then fails with the reason.
    let r = upload(
        &app,
        &key,
        &docs,
        "broken.pdf",
        None,
        b"%PDF-1.4\nnot a real pdf",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let broken = r.body["id"].as_str().expect("id").to_owned();
    let done = settled(&app, &key, &docs).await;
    let failed = done
        .iter()
        .find(|d| d["id"] == broken.as_str())
        .expect("broken");
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["error"].as_str().expect("error").contains("PDF"),
        "{failed}"
    );

    // The page's way in: the `upload_document` server function, the same form with the
    // collection in it, under the browser's sign-in cookie; same checks, same answers.
    let rpc = |parts: &[Part<'_>]| {
        let (ct, body) = multipart(parts);
        app.http
            .post(app.url(<UploadDocument as leptos::server_fn::ServerFn>::PATH))
            .header("cookie", client_cookie(&key))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = rpc(&[
        ("collection", None, None, b"policies"),
        (
            "file",
            Some("returns.md"),
            Some("text/markdown"),
            b"# Returns\n\nReturns are accepted for ninety days.",
        ),
    ])
    .await
    .expect("upload");
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.expect("document");
    assert_eq!(doc["state"], "queued", "{doc}");
    assert_eq!(doc["title"], "returns", "{doc}");
    let done = settled(&app, &key, &docs).await;
    let returns = done
        .iter()
        .find(|d| d["id"] == doc["id"])
        .expect("listed over REST");
    assert_eq!(returns["state"], "ready", "{returns}");
    for (parts, status, says) in [
        (
            vec![
                ("collection", None, None, &b"policies"[..]),
                ("file", Some("logo.png"), Some("image/png"), &b"\x89PNG"[..]),
            ],
            415,
            "logo.png",
        ),
        (
            vec![("file", Some("a.txt"), Some("text/plain"), &b"text"[..])],
            422,
            "collection",
        ),
        (
            vec![
                ("collection", None, None, &b"policies"[..]),
                ("file", Some("big.txt"), Some("text/plain"), &too_big[..]),
            ],
            413,
            "bytes",
        ),
        (
            vec![
                ("collection", None, None, &b"nope"[..]),
                ("file", Some("a.txt"), Some("text/plain"), &b"text"[..]),
            ],
            404,
            "collection",
        ),
    ] {
        let res = rpc(&parts).await.expect("upload");
        assert_eq!(res.status().as_u16(), status);
        let text = res.text().await.expect("body");
        assert!(text.contains(says), "{status}: {text}");
    }
    // Anything but a multipart form is refused before it is read.
    let res = app
        .http
        .post(app.url(<UploadDocument as leptos::server_fn::ServerFn>::PATH))
        .header("cookie", client_cookie(&key))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 400);
    let text = res.text().await.expect("body");
    assert!(text.contains("multipart/form-data"), "{text}");

    // Deleting a document takes its chunks and vectors; deleting the collection, the rest.
    let r = app
        .send("DELETE", &format!("{docs}/{pdf_id}"), Some(&key), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM knowledge_chunks WHERE document_id = $1")
            .bind(&pdf_id)
            .fetch_one(&mut db)
            .await
            .expect("left");
    assert_eq!(left, 0);
    let r = app
        .send("DELETE", &format!("{base}/policies"), Some(&key), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let rows: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM knowledge_documents), (SELECT count(*) FROM knowledge_chunks),
                (SELECT count(*) FROM knowledge_vectors)",
    )
    .fetch_one(&mut db)
    .await
    .expect("rows");
    assert_eq!(rows, (0, 0, 0));
    // An employee whose knowledge source is gone keeps answering, without passages.
    let r = app
        .interact(&client, &key, &emp, "How long does the warranty last?")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sources"], json!([]), "{}", r.body);
    let audit = app.audit_export(&client, &key).await;
    for action in [
        "knowledge.collection_create",
        "knowledge.document_upload",
        "knowledge.document_delete",
        "knowledge.collection_delete",
    ] {
        assert!(audit.contains(action), "{action} missing");
    }
}

#[sqlx::test]
async fn a_document_left_half_done_by_a_stopped_instance_is_ingested_again(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    // The first instance takes the upload; the test then makes it look as if that instance
    // had stopped mid-way (processing, its lease run out, no chunks yet), and as if another,
    // live instance were still on a second document.
    let stub = stub::Stub::start().await;
    let app = spawn_app_with(owner.clone(), |s| use_stub(s, &stub, false)).await;
    let (client, key) = app
        .onboard(json!({"name": "Restarts", "tier": "starter"}))
        .await;
    let base = knowledge_path(&client);
    let r = app
        .send("POST", &base, Some(&key), Some(json!({"name": "manuals"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let docs = format!("{base}/manuals/documents");
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for name in ["a.txt", "b.txt"] {
            let r = upload(
                &app,
                &key,
                &docs,
                name,
                None,
                b"The boiler needs a yearly service.",
            )
            .await;
            assert_eq!(r.status, 202, "{}", r.body);
            ids.push(r.body["id"].as_str().expect("id").to_owned());
        }
        ids
    };
    settled(&app, &key, &docs).await;
    drop(app);
    let mut db = PgConnection::connect_with(&owner).await.expect("owner");
    sqlx::query(
        "UPDATE knowledge_documents SET state = 'processing', progress = 0.4, chunk_count = 0,
                content = 'The boiler needs a yearly service.'::bytea,
                lease_until = CASE WHEN id = $1 THEN now() - interval '1 second'
                                   ELSE now() + interval '1 hour' END",
    )
    .bind(&ids[0])
    .execute(&mut db)
    .await
    .expect("half-done");
    sqlx::query("DELETE FROM knowledge_chunks WHERE document_id = $1")
        .bind(&ids[0])
        .execute(&mut db)
        .await
        .expect("no chunks yet");

    // A new instance takes up the abandoned one and leaves the other to its holder.
    let app = spawn_app_with(owner.clone(), |s| use_stub(s, &stub, false)).await;
    let first = format!("{docs}/{}", ids[0]);
    let doc = eventually(Duration::from_secs(30), || async {
        let r = app.get(&first, &key).await;
        if r.body["state"] == "ready" {
            Ok(r.body)
        } else {
            Err(format!("not taken up again: {}", r.body))
        }
    })
    .await;
    assert_eq!(doc["chunk_count"], 1, "{doc}");
    let r = app.get(&format!("{docs}/{}", ids[1]), &key).await;
    assert_eq!(r.body["state"], "processing", "{}", r.body);

    // After a switch of embedding model, the next start embeds every chunk again with the new
    // one (3072 dimensions: searched through the table, not the covering index), beside the old.
    drop(app);
    let app = spawn_app_with(owner.clone(), |s| {
        use_stub(s, &stub, false);
        s.file.memory.embedding_model = "text-embedding-3-large".into();
    })
    .await;
    let counts = eventually(Duration::from_secs(30), || {
        let owner = owner.clone();
        async move {
            let mut db = PgConnection::connect_with(&owner).await.expect("owner");
            let (large, small, chunks): (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM knowledge_vectors WHERE model = 'text-embedding-3-large#chunk1'),
                        (SELECT count(*) FROM knowledge_vectors WHERE model = 'text-embedding-3-small#chunk1'),
                        (SELECT count(*) FROM knowledge_chunks)",
            )
            .fetch_one(&mut db)
            .await
            .expect("counts");
            if large == chunks {
                Ok((large, small, chunks))
            } else {
                Err(format!("{large} of {chunks} chunks embedded with the new model"))
            }
        }
    })
    .await;
    assert_eq!(
        counts.0, counts.1,
        "the old model's vectors stay: {counts:?}"
    );
    let r = app
        .send(
            "POST",
            &format!("/api/v1/employees/clients/{client}/tools/knowledge_search/test"),
            Some(&key),
            Some(json!({"arguments": {"query": "boiler service"}})),
        )
        .await;
    assert!(
        r.body["result"]
            .as_str()
            .expect("result")
            .contains("yearly service"),
        "{}",
        r.body
    );
}

#[sqlx::test]
async fn another_client_sees_nothing_of_a_clients_knowledge(
    _p: PgPoolOptions,
    owner: PgConnectOptions,
) {
    let (app, stub) = spawn_app_with_stub(owner).await;
    let (a, a_key) = app
        .onboard(json!({"name": "Alpha", "tier": "starter"}))
        .await;
    let (b, b_key) = app
        .onboard(json!({"name": "Beta", "tier": "starter"}))
        .await;
    let r = app
        .send(
            "POST",
            &knowledge_path(&a),
            Some(&a_key),
            Some(json!({"name": "secrets"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let docs = format!("{}/secrets/documents", knowledge_path(&a));
    let r = upload(
        &app,
        &a_key,
        &docs,
        "plan.txt",
        None,
        b"Alpha launches in March.",
    )
    .await;
    let id = r.body["id"].as_str().expect("id").to_owned();

    // B's own paths show none of it, and B's key cannot use A's.
    let r = app.get(&knowledge_path(&b), &b_key).await;
    assert_eq!(r.body, json!([]));
    let b_docs = format!("{}/secrets/documents", knowledge_path(&b));
    assert_eq!(app.get(&b_docs, &b_key).await.status, 404);
    assert_eq!(app.get(&format!("{b_docs}/{id}"), &b_key).await.status, 404);
    assert_eq!(
        upload(&app, &b_key, &b_docs, "x.txt", None, b"x")
            .await
            .status,
        404
    );
    // On A's paths, B's key finds nothing either (a 404, as for a client that does not exist).
    assert_eq!(app.get(&docs, &b_key).await.status, 404);
    let r = app
        .send("DELETE", &format!("{docs}/{id}"), Some(&b_key), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(app.get(&format!("{docs}/{id}"), &a_key).await.status, 200);

    // An employee of B whose knowledge sources name A's collection draws nothing from it, in
    // its prompt or through knowledge_search, once A's document is searchable.
    settled(&app, &a_key, &docs).await;
    let mut req = requirements("snoop");
    req["tools_needed"] = json!(["knowledge_search"]);
    req["knowledge_domains"] = json!(["secrets"]);
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let snoop = app.hire(&b, &b_key, req).await;
    let r = app
        .interact(
            &b,
            &b_key,
            &snoop,
            r#"When does Alpha launch? <<knowledge_search {"query": "Alpha launches"}>>"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sources"], json!([]), "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .expect("message")
            .contains(r#"{"found":[]}"#),
        "{}",
        r.body
    );
    for request in stub.requests() {
        assert!(
            !request.to_string().contains("launches in March"),
            "{request}"
        );
    }
    // A's own employee, naming it, does draw on it.
    let mut req = requirements("planner");
    req["knowledge_domains"] = json!(["secrets"]);
    req["model_preferences"] = json!({"primary_model": "gpt-4o-mini"});
    let planner = app.hire(&a, &a_key, req).await;
    let r = app
        .interact(&a, &a_key, &planner, "When does Alpha launch?")
        .await;
    assert_eq!(
        r.body["sources"][0]["document_id"],
        id.as_str(),
        "{}",
        r.body
    );
}
