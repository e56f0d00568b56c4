//! The configuration wizard, for a new employee (`/employees/new`) and an existing one
//! (`/employees/:id/edit`): role and industry → expertise and knowledge → personality → models →
//! tools → review. The draft lives in one signal (so Back keeps everything) and in the browser's
//! storage (so a reload keeps it); every input shows its own error as the person types, from
//! the same rules the server applies; the review shows the exact system prompt and sampling
//! settings the server will use.

use super::fns::*;
use super::wizard::*;
use super::*;
use crate::app::components::*;
use crate::core::{AppError, FieldErrors};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::BTreeSet;

#[component]
pub fn NewEmployeePage() -> impl IntoView {
    let options = Resource::new(|| (), |_| load_wizard_options());
    view! {
        <Title text="New employee" />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match options.await {
                    Ok(options) => view! { <Wizard options existing=None /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn EditEmployeePage() -> impl IntoView {
    let params = use_params_map();
    // Two resources, so both are read at once.
    let options = Resource::new(|| (), |_| load_wizard_options());
    let employee = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        get_employee,
    );
    view! {
        <Title text="Edit employee" />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let loaded = match (options.await, employee.await) {
                    (Ok(o), Ok(e)) => Ok((o, e)),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                match loaded {
                    Ok((_, e)) if e.status == EmployeeStatus::Archived => view! {
                        <ErrorBox error=AppError::conflict("an archived employee cannot be changed") />
                    }
                    .into_any(),
                    Ok((options, e)) => view! { <Wizard options existing=Some(e) /> }.into_any(),
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Where the browser keeps the half-done wizard.
fn storage_key(existing: Option<&Employee>) -> String {
    match existing {
        Some(e) => format!("workforce.wizard.{}", e.id),
        None => "workforce.wizard.new".to_owned(),
    }
}

/// The wizard's signals, shared by its steps.
#[derive(Clone, Copy)]
struct Ctx {
    draft: RwSignal<Draft>,
    /// Inputs whose errors are shown (touched, or their step was submitted).
    shown: RwSignal<BTreeSet<Input>>,
    /// The errors, placed on inputs, and the ones no input holds.
    errors: Memo<PlacedErrors>,
    preview: Memo<Result<Employee, AppError>>,
    new: bool,
}

impl Ctx {
    fn error_of(self, input: Input) -> Option<String> {
        if !self.shown.with(|s| s.contains(&input)) {
            return None;
        }
        self.errors.with(|(placed, _)| {
            placed
                .iter()
                .find(|(i, _)| *i == input)
                .map(|(_, m)| m.clone())
        })
    }

    fn edit(self, input: Input, change: impl FnOnce(&mut Draft)) {
        self.draft.update(change);
        self.shown.update(|s| {
            s.insert(input);
        });
    }

    fn step_has_errors(self, step: Step) -> bool {
        self.errors
            .with(|(placed, _)| placed.iter().any(|(i, _)| i.step() == step))
    }

    fn show_step(self, step: Step) {
        let inputs: Vec<Input> = self.errors.with_untracked(|(placed, _)| {
            placed
                .iter()
                .map(|(i, _)| *i)
                .filter(|i| i.step() == step || step == Step::Review)
                .collect()
        });
        self.shown.update(|s| s.extend(inputs));
    }

    fn go(self, step: Step) {
        self.draft.update(|d| d.step = Some(step));
    }
}

#[component]
fn Wizard(options: WizardOptions, existing: Option<Employee>) -> impl IntoView {
    let key = storage_key(existing.as_ref());
    let new = existing.is_none();
    let draft = RwSignal::new(existing.as_ref().map_or_else(Draft::new, Draft::of));
    // Errors the server sent back for what was submitted; they stay until the draft changes.
    let server_errors = RwSignal::new(None::<(Draft, FieldErrors)>);
    let preview = {
        let existing = existing.clone();
        let allowed = options.allowed_models.clone();
        let default_model = options.default_model.clone();
        Memo::new(move |_| {
            draft.with(|d| {
                let d = Draft {
                    step: None,
                    ..d.clone()
                };
                d.preview(existing.as_ref(), &allowed, &default_model)
            })
        })
    };
    let errors = Memo::new(move |_| {
        let mut fields = match preview.get() {
            Err(e) => e.fields().cloned().unwrap_or_default(),
            Ok(_) => FieldErrors::new(),
        };
        if let Some((sent, server)) = server_errors.get() {
            if draft.with(|d| {
                Draft {
                    step: None,
                    ..d.clone()
                } == sent
            }) {
                for (k, m) in server {
                    fields.entry(k).or_insert(m);
                }
            }
        }
        errors_by_input(&fields)
    });
    let ctx = Ctx {
        draft,
        shown: RwSignal::new(BTreeSet::new()),
        errors,
        preview,
        new,
    };
    let step = Memo::new(move |_| draft.with(|d| d.step.unwrap_or(Step::Role)));

    // After hydration: restore a half-done draft, then keep every change.
    Effect::new({
        let key = key.clone();
        let base = existing.as_ref().map(|e| e.updated_at.to_rfc3339());
        move |restored: Option<()>| {
            if restored.is_none() {
                if let Some(saved) =
                    stored(&key).and_then(|s| serde_json::from_str::<Draft>(&s).ok())
                {
                    if saved.base == base {
                        let reached = saved.step.unwrap_or(Step::Role);
                        draft.set(saved);
                        // The steps already passed show their errors, as they did then.
                        for step in Step::ALL.into_iter().filter(|s| *s < reached) {
                            ctx.show_step(step);
                        }
                        return;
                    }
                }
            }
            let text = draft.with(|d| serde_json::to_string(d).unwrap_or_default());
            store(&key, &text);
        }
    });

    let create = ServerAction::<CreateEmployee>::new();
    let update = ServerAction::<UpdateEmployee>::new();
    let done = RwSignal::new(false);
    let busy = move || create.pending().get() || update.pending().get() || done.get();
    let busy_now = move || {
        create.pending().get_untracked() || update.pending().get_untracked() || done.get_untracked()
    };
    let navigate = use_navigate();
    Effect::new({
        let key = key.clone();
        move |_| {
            let outcome = match (create.value().get(), update.value().get()) {
                (Some(Ok(e)), _) => Ok((e.id, "created")),
                (_, Some(Ok(e))) => Ok((e.id, "saved")),
                (Some(Err(e)), _) | (_, Some(Err(e))) => Err(e),
                _ => return,
            };
            match outcome {
                Ok((id, what)) => {
                    done.set(true);
                    store(&key, "");
                    navigate(&format!("/employees/{id}?done={what}"), Default::default());
                }
                Err(e) => {
                    if let Some(fields) = e.fields() {
                        let sent = draft.with_untracked(|d| Draft {
                            step: None,
                            ..d.clone()
                        });
                        server_errors.set(Some((sent, fields.clone())));
                        ctx.show_step(Step::Review);
                        if let Some(first) = Step::ALL.into_iter().find(|s| ctx.step_has_errors(*s))
                        {
                            ctx.go(first);
                        }
                    }
                }
            }
        }
    });
    let employee_id = existing.as_ref().map(|e| e.id.to_string());
    let submit = move || {
        if busy_now() {
            return;
        }
        ctx.show_step(Step::Review);
        if let Some(first) = Step::ALL.into_iter().find(|s| ctx.step_has_errors(*s)) {
            ctx.go(first);
            return;
        }
        let d = draft.get_untracked();
        let read = match &employee_id {
            None => d.requirements().map(|req| {
                create.dispatch(CreateEmployee { req });
            }),
            Some(id) => d.update().map(|u| {
                update.dispatch(UpdateEmployee {
                    id: id.clone(),
                    update: u,
                });
            }),
        };
        if let Err(e) = read {
            if let Some(fields) = e.fields() {
                server_errors.set(Some((Draft { step: None, ..d }, fields.clone())));
            }
        }
    };
    let other_errors = move || {
        let (_, other) = errors.get();
        let mut lines = other;
        for value in [
            create.value().get().and_then(Result::err),
            update.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        {
            if value.fields().is_none() {
                lines.push(value.to_string());
            }
        }
        (!lines.is_empty() && step.get() == Step::Review).then(|| {
            view! {
                <div role="alert" class="mt-4 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
                    <ul class="list-disc pl-5">{lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                </div>
            }
        })
    };
    let heading = match &existing {
        Some(e) => format!("Edit {}", e.name),
        None => "New employee".to_owned(),
    };
    let back_to = existing
        .as_ref()
        .map_or("/dashboard".to_owned(), |e| format!("/employees/{}", e.id));
    let submit_label = if new {
        "Create employee"
    } else {
        "Save changes"
    };
    view! {
        <p class="mb-4 text-sm"><A href=back_to attr:class="text-indigo-700 hover:underline">"← Back without saving"</A></p>
        <div class=format!("{CARD} max-w-3xl")>
            <h1 class="mb-4 text-xl font-semibold">{heading}</h1>
            <ol class="mb-6 flex flex-wrap gap-2 text-sm" aria-label="Steps">
                {Step::ALL
                    .into_iter()
                    .map(|s| {
                        let current = move || step.get() == s;
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="rounded-full border px-3 py-1 aria-[current=step]:border-indigo-600 aria-[current=step]:bg-indigo-600 aria-[current=step]:text-white"
                                    class:border-red-500=move || !current() && ctx.step_has_errors(s) && ctx.shown.with(|sh| sh.iter().any(|i| i.step() == s))
                                    aria-current=move || current().then_some("step")
                                    on:click=move |_| ctx.go(s)
                                >
                                    {format!("{}. {}", s.index() + 1, s.title())}
                                </button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
            <form
                novalidate=true
                on:submit=move |ev| {
                    ev.prevent_default();
                    let s = step.get_untracked();
                    if s == Step::Review {
                        submit();
                    } else {
                        ctx.show_step(s);
                        if !ctx.step_has_errors(s) {
                            ctx.go(s.next());
                        }
                    }
                }
            >
                <h2 class="mb-3 text-lg font-medium" data-testid="wizard-step">{move || step.get().title()}</h2>
                {move || match step.get() {
                    Step::Role => role_step(ctx).into_any(),
                    Step::Expertise => expertise_step(ctx).into_any(),
                    Step::Personality => personality_step(ctx).into_any(),
                    Step::Models => models_step(ctx, options.clone()).into_any(),
                    Step::Tools => tools_step(ctx).into_any(),
                    Step::Review => review_step(ctx).into_any(),
                }}
                {other_errors}
                <div class="mt-6 flex flex-wrap items-center gap-3">
                    <Show when=move || step.get() != Step::Role>
                        <button type="button" class=BUTTON_SECONDARY on:click=move |_| ctx.go(step.get_untracked().back())>"Back"</button>
                    </Show>
                    <Show
                        when=move || step.get() == Step::Review
                        fallback=|| view! { <button type="submit" class=BUTTON>"Next"</button> }
                    >
                        <button type="submit" class=BUTTON disabled=busy>
                            {move || if busy() { "Saving…" } else { submit_label }}
                        </button>
                    </Show>
                    <button
                        type="button"
                        class="ml-auto text-sm text-slate-500 hover:underline"
                        on:click=move |_| {
                            if confirmed("Start over? What you entered here is forgotten.") {
                                ctx.shown.set(BTreeSet::new());
                                server_errors.set(None);
                                draft.set(match &existing {
                                    Some(e) => Draft::of(e),
                                    None => Draft::new(),
                                });
                            }
                        }
                    >
                        "Start over"
                    </button>
                </div>
            </form>
        </div>
    }
}

/// The message under an input, when it has one to show.
fn error_line(ctx: Ctx, input: Input, id: String) -> impl IntoView {
    move || {
        ctx.error_of(input).map(|m| {
            let id = (!id.is_empty()).then(|| id.clone());
            view! { <p id=id class="mt-1 text-sm text-red-700" data-testid="field-error">{m}</p> }
        })
    }
}

/// A text input (or text area) bound to one field of the draft.
fn text_input(
    ctx: Ctx,
    input: Input,
    label: &'static str,
    name: &'static str,
    hint: &'static str,
    field: fn(&mut Draft) -> &mut String,
    multiline: bool,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let value = move || ctx.draft.with(|d| field(&mut d.clone()).clone());
    let initial = ctx.draft.with_untracked(|d| field(&mut d.clone()).clone());
    let on_input = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        ctx.edit(input, |d| *field(d) = v);
    };
    let invalid = move || ctx.error_of(input).is_some().then_some("true");
    let described = {
        let id = error_id.clone();
        move || ctx.error_of(input).map(|_| id.clone())
    };
    view! {
        <label class="block">
            <span class=LABEL>{label}</span>
            {(!hint.is_empty()).then(|| view! { <span class="block text-xs text-slate-500">{hint}</span> })}
            {if multiline {
                view! {
                    <textarea class=INPUT name=name rows="3" prop:value=value on:input=on_input aria-invalid=invalid aria-describedby=described>{initial}</textarea>
                }
                .into_any()
            } else {
                view! {
                    <input class=INPUT type="text" name=name prop:value=value value=initial on:input=on_input aria-invalid=invalid aria-describedby=described />
                }
                .into_any()
            }}
        </label>
        {error_line(ctx, input, error_id)}
    }
}

/// A select bound to one field of the draft; `blank` (if given) is the first, empty choice.
fn choice_input(
    ctx: Ctx,
    input: Input,
    label: &'static str,
    name: &'static str,
    options: Vec<(String, String)>,
    field: fn(&mut Draft) -> &mut String,
) -> impl IntoView {
    let current = move || ctx.draft.with(|d| field(&mut d.clone()).clone());
    view! {
        <label class="block">
            <span class=LABEL>{label}</span>
            <select
                class=INPUT
                name=name
                prop:value=current
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    ctx.edit(input, |d| *field(d) = v);
                }
            >
                {options
                    .into_iter()
                    .map(|(value, text)| {
                        let v = value.clone();
                        view! { <option value=value selected=move || current() == v>{text}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
        {error_line(ctx, input, String::new())}
    }
}

fn role_step(ctx: Ctx) -> impl IntoView {
    view! {
        <div class="space-y-4">
            {text_input(ctx, Input::Role, "Role", "role", "What the employee does, e.g. “Claims handler”.", |d| &mut d.role, false)}
            {text_input(ctx, Input::Industry, "Industry", "industry", "Where it works, e.g. “Motor insurance”.", |d| &mut d.industry, false)}
            {choice_input(ctx, Input::Language, "Language", "language", language_choices(), |d| &mut d.language)}
            <p class="-mt-3 text-xs text-slate-500">"It replies in this language, and its memory matches words the way this language forms them."</p>
            {if ctx.new {
                text_input(ctx, Input::Name, "Name (optional)", "name", "Left blank, one is made from the role and industry.", |d| &mut d.name, false).into_any()
            } else {
                text_input(ctx, Input::Name, "Name", "name", "", |d| &mut d.name, false).into_any()
            }}
        </div>
    }
}

fn language_choices() -> Vec<(String, String)> {
    language::LANGUAGES
        .iter()
        .map(|l| (l.code.to_owned(), l.name.to_owned()))
        .collect()
}

fn expertise_step(ctx: Ctx) -> impl IntoView {
    // The client's collections, to choose from.
    let collections = Resource::new(|| (), |_| crate::knowledge::pages::load_knowledge());
    view! {
        <div class="space-y-4">
            {text_input(ctx, Input::Expertise, "Expertise areas", "expertise_areas", "One per line: what it knows best.", |d| &mut d.expertise_areas, true)}
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading your collections…"</p> }>
                {move || Suspend::new(async move {
                    collections.await.ok().filter(|o| !o.collections.is_empty()).map(|o| {
                        let items = o
                            .collections
                            .into_iter()
                            .map(|c| {
                                let about = format!("{} document{}{}", c.documents, if c.documents == 1 { "" } else { "s" },
                                    if c.description.is_empty() { String::new() } else { format!(" · {}", c.description) });
                                (c.name, about)
                            })
                            .collect();
                        list_choices(ctx, Input::Knowledge, "From your knowledge collections", "knowledge-choices", |d| &d.knowledge, |d| &mut d.knowledge, items)
                    })
                })}
            </Transition>
            {text_input(ctx, Input::Knowledge, "Knowledge sources", "knowledge", "One per line: the collections it answers from (the Knowledge page holds their documents), or the bodies of knowledge it draws on.", |d| &mut d.knowledge, true)}
        </div>
    }
}

fn labelled<T: std::fmt::Display>(all: &[T]) -> Vec<(String, String)> {
    all.iter()
        .map(|x| (x.to_string(), capitalised(&x.to_string())))
        .collect()
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Choices for a trait that the style sets when left blank (new employees only).
fn trait_choices<T: std::fmt::Display>(
    ctx: Ctx,
    all: &[T],
    now: impl Fn(&Employee) -> String,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if ctx.new {
        let implied = ctx
            .preview
            .with_untracked(|p| p.as_ref().ok().map(&now))
            .map(|v| format!(" (now {v})"))
            .unwrap_or_default();
        out.push((String::new(), format!("As the style suggests{implied}")));
    }
    out.extend(labelled(all));
    out
}

fn slider(
    ctx: Ctx,
    input: Input,
    label: &'static str,
    name: &'static str,
    meaning: &'static str,
    field: fn(&mut Draft) -> &mut Option<f64>,
    effective: fn(&Employee) -> f64,
) -> impl IntoView {
    let value = move || {
        ctx.draft
            .with(|d| *field(&mut d.clone()))
            .or_else(|| ctx.preview.with(|p| p.as_ref().ok().map(effective)))
            .unwrap_or(0.5)
    };
    let band = move || match value() {
        v if v < 0.34 => "low",
        v if v < 0.67 => "moderate",
        _ => "high",
    };
    view! {
        <label class="block">
            <span class=LABEL>{label}": " <output data-testid=format!("{name}-value")>{move || format!("{:.2} ({})", value(), band())}</output></span>
            <span class="block text-xs text-slate-500">{meaning}</span>
            <input
                class="mt-2 w-full accent-indigo-600"
                type="range"
                name=name
                min="0"
                max="1"
                step="0.05"
                prop:value=move || value().to_string()
                on:input=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                        ctx.edit(input, |d| *field(d) = Some(v));
                    }
                }
            />
        </label>
        {error_line(ctx, input, String::new())}
    }
}

/// Editable rows of two texts (custom traits, task types), with add and remove.
fn pair_rows(
    ctx: Ctx,
    input: Input,
    rows: fn(&mut Draft) -> &mut Vec<(String, String)>,
    left: &'static str,
    right: &'static str,
    add_label: &'static str,
    models: Option<Vec<String>>,
) -> impl IntoView {
    let count = move || ctx.draft.with(|d| rows(&mut d.clone()).len());
    view! {
        <div class="space-y-2">
            <For each=move || 0..count() key=|i| *i let:i>
                {
                    let get = move |right_side: bool| {
                        ctx.draft.with(|d| {
                            rows(&mut d.clone())
                                .get(i)
                                .map(|(k, v)| if right_side { v.clone() } else { k.clone() })
                                .unwrap_or_default()
                        })
                    };
                    let set = move |right_side: bool, v: String| {
                        ctx.edit(input, |d| {
                            if let Some(row) = rows(d).get_mut(i) {
                                if right_side { row.1 = v } else { row.0 = v }
                            }
                        })
                    };
                    let right_input = match models.clone() {
                        Some(models) => view! {
                            <select class=INPUT aria-label=right prop:value=move || get(true) on:change=move |ev| set(true, event_target_value(&ev))>
                                <option value="">"Choose a model"</option>
                                {models.into_iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                            </select>
                        }
                        .into_any(),
                        None => view! {
                            <input class=INPUT type="text" aria-label=right prop:value=move || get(true) on:input=move |ev| set(true, event_target_value(&ev)) />
                        }
                        .into_any(),
                    };
                    view! {
                        <div class="flex items-end gap-2" data-testid="pair-row">
                            <input class=INPUT type="text" aria-label=left placeholder=left prop:value=move || get(false) on:input=move |ev| set(false, event_target_value(&ev)) />
                            {right_input}
                            <button type="button" class=BUTTON_SECONDARY aria-label=format!("Remove row {}", i + 1) on:click=move |_| ctx.edit(input, |d| { if i < rows(d).len() { rows(d).remove(i); } })>"✕"</button>
                        </div>
                    }
                }
            </For>
            <button type="button" class=BUTTON_SECONDARY on:click=move |_| ctx.edit(input, |d| rows(d).push(Default::default()))>{add_label}</button>
            {error_line(ctx, input, String::new())}
        </div>
    }
}

fn personality_step(ctx: Ctx) -> impl IntoView {
    let style = Memo::new(move |_| ctx.draft.with(|d| d.communication_style.clone()));
    let styles = vec![
        (
            "professional".to_owned(),
            "Professional — precise and courteous".to_owned(),
        ),
        (
            "friendly".to_owned(),
            "Friendly — warm and conversational".to_owned(),
        ),
        (
            "technical".to_owned(),
            "Technical — exact, with the details".to_owned(),
        ),
    ];
    view! {
        <div class="grid gap-4 md:grid-cols-2">
            <div class="md:col-span-2">{choice_input(ctx, Input::Style, "Communication style", "communication_style", styles, |d| &mut d.communication_style)}</div>
            {move || {
                // Rebuilt when the style changes, so “as the style suggests” names the value.
                style.track();
                view! {
                    {choice_input(ctx, Input::Formality, "Formality", "formality_level", trait_choices(ctx, FormalityLevel::ALL, |e| e.personality.formality_level.to_string()), |d| &mut d.formality_level)}
                    {choice_input(ctx, Input::ExpertiseLevel, "Expertise level of the answers", "expertise_level", trait_choices(ctx, ExpertiseLevel::ALL, |e| e.personality.expertise_level.to_string()), |d| &mut d.expertise_level)}
                    {choice_input(ctx, Input::Length, "Response length", "response_length", trait_choices(ctx, ResponseLength::ALL, |e| e.personality.response_length.to_string()), |d| &mut d.response_length)}
                }
            }}
            <div class="md:col-span-2 space-y-4">
                {slider(ctx, Input::Creativity, "Creativity", "creativity_level",
                    "Low sticks to the facts and words things the same way each time; high varies its wording and offers new ideas. It sets the model's temperature.",
                    |d| &mut d.creativity, |e| e.personality.creativity_level)}
                {slider(ctx, Input::Empathy, "Empathy", "empathy_level",
                    "Low is matter-of-fact; high acknowledges how the person feels and reassures them.",
                    |d| &mut d.empathy, |e| e.personality.empathy_level)}
            </div>
            <fieldset class="md:col-span-2">
                <legend class=LABEL>"Custom traits"</legend>
                <p class="mb-2 text-xs text-slate-500">"Anything else the prompt should say, as a name and a value (e.g. sign_off → “Kind regards”)."</p>
                {pair_rows(ctx, Input::Traits, |d| &mut d.traits, "Trait", "Value", "Add a trait", None)}
            </fieldset>
        </div>
    }
}

fn models_step(ctx: Ctx, options: WizardOptions) -> impl IntoView {
    let mut primary = Vec::new();
    if ctx.new {
        primary.push((
            String::new(),
            format!("The default ({})", options.default_model),
        ));
    }
    primary.extend(
        options
            .allowed_models
            .iter()
            .map(|m| (m.clone(), m.clone())),
    );
    let allowed = options.allowed_models.clone();
    let fallbacks = move || ctx.draft.with(|d| d.fallback_models.len());
    let derived = move |f: fn(&Employee) -> String| {
        ctx.preview
            .with(|p| p.as_ref().ok().map(f))
            .unwrap_or_default()
    };
    view! {
        <div class="space-y-5">
            {choice_input(ctx, Input::Primary, "Primary model", "primary_model", primary, |d| &mut d.primary_model)}
            <fieldset>
                <legend class=LABEL>"Fallback models, in order"</legend>
                <p class="mb-2 text-xs text-slate-500">"Tried one after the other when the primary model fails or is unavailable."</p>
                <ol class="space-y-2">
                    <For each=move || 0..fallbacks() key=|i| *i let:i>
                        {
                            let allowed = allowed.clone();
                            let get = move || ctx.draft.with(|d| d.fallback_models.get(i).cloned().unwrap_or_default());
                            let swap = move |j: usize| ctx.edit(Input::Fallbacks, |d| {
                                if i < d.fallback_models.len() && j < d.fallback_models.len() {
                                    d.fallback_models.swap(i, j)
                                }
                            });
                            view! {
                                <li class="flex items-center gap-2" data-testid="fallback-row">
                                    <span class="w-6 text-right text-sm text-slate-500">{format!("{}.", i + 1)}</span>
                                    <select
                                        class=INPUT
                                        aria-label=format!("Fallback {}", i + 1)
                                        prop:value=get
                                        on:change=move |ev| {
                                            let v = event_target_value(&ev);
                                            ctx.edit(Input::Fallbacks, |d| if let Some(m) = d.fallback_models.get_mut(i) { *m = v });
                                        }
                                    >
                                        {allowed.into_iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                                    </select>
                                    <button type="button" class=BUTTON_SECONDARY aria-label="Move up" disabled=move || i == 0 on:click=move |_| swap(i.wrapping_sub(1))>"↑"</button>
                                    <button type="button" class=BUTTON_SECONDARY aria-label="Move down" disabled=move || i + 1 >= fallbacks() on:click=move |_| swap(i + 1)>"↓"</button>
                                    <button type="button" class=BUTTON_SECONDARY aria-label="Remove" on:click=move |_| ctx.edit(Input::Fallbacks, |d| { if i < d.fallback_models.len() { d.fallback_models.remove(i); } })>"✕"</button>
                                </li>
                            }
                        }
                    </For>
                </ol>
                <button
                    type="button"
                    class=format!("{BUTTON_SECONDARY} mt-2")
                    on:click={
                        let allowed = options.allowed_models.clone();
                        move |_| ctx.edit(Input::Fallbacks, |d| {
                            let primary = ctx.preview.with_untracked(|p| p.as_ref().ok().map(|e| e.model_preferences.primary_model.clone()));
                            let next = allowed
                                .iter()
                                .find(|m| Some(*m) != primary.as_ref() && !d.fallback_models.contains(m))
                                .or(allowed.first())
                                .cloned()
                                .unwrap_or_default();
                            d.fallback_models.push(next);
                        })
                    }
                >
                    "Add a fallback"
                </button>
                {error_line(ctx, Input::Fallbacks, String::new())}
            </fieldset>
            <fieldset>
                <legend class=LABEL>"Specialised models"</legend>
                <p class="mb-2 text-xs text-slate-500">"A model for one kind of task (e.g. summarise → a cheaper model)."</p>
                {pair_rows(ctx, Input::Specialized, |d| &mut d.specialized, "Task type", "Model", "Add a task type", Some(options.allowed_models.clone()))}
            </fieldset>
            <div class="grid gap-4 md:grid-cols-2">
                <div>
                    {text_input(ctx, Input::Temperature, "Temperature (0–2)", "temperature", "Blank: set by creativity.", |d| &mut d.temperature, false)}
                    <p class="mt-1 text-xs text-slate-500">{move || format!("In force: {}", derived(|e| format!("{:.2}", e.model_preferences.temperature)))}</p>
                </div>
                <div>
                    {text_input(ctx, Input::MaxTokens, "Longest answer, in tokens", "max_tokens", "Blank: set by the response length.", |d| &mut d.max_tokens, false)}
                    <p class="mt-1 text-xs text-slate-500">{move || format!("In force: {}", derived(|e| e.model_preferences.max_tokens.to_string()))}</p>
                </div>
            </div>
        </div>
    }
}

/// The tool names of the draft's list (one per line).
fn tool_lines(tools: &str) -> Vec<String> {
    tools
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checkboxes for what the client has (`items`: name and description) that add or remove its
/// name in the draft's list `field` (one per line, matched without regard to case); the list
/// stays the source of truth.
fn list_choices(
    ctx: Ctx,
    input: Input,
    legend: &'static str,
    testid: &'static str,
    read: fn(&Draft) -> &String,
    field: fn(&mut Draft) -> &mut String,
    items: Vec<(String, String)>,
) -> impl IntoView {
    let has = move |d: &Draft, name: &str| {
        tool_lines(read(d))
            .iter()
            .any(|l| l.eq_ignore_ascii_case(name))
    };
    view! {
        <fieldset>
            <legend class=LABEL>{legend}</legend>
            <div class="mt-1 grid gap-1 text-sm sm:grid-cols-2" data-testid=testid>
                {items
                    .into_iter()
                    .map(|(name, description)| {
                        // Plain copies: the closures may outlive this list's reactive owner.
                        let (checked_name, shown) = (name.clone(), name.clone());
                        view! {
                            <label class="inline-flex items-start gap-2">
                                <input
                                    type="checkbox"
                                    class="mt-1"
                                    value=name.clone()
                                    prop:checked=move || ctx.draft.with(|d| has(d, &checked_name))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let name = name.clone();
                                        ctx.edit(input, |d| {
                                            let mut lines = tool_lines(field(d));
                                            lines.retain(|l| !l.eq_ignore_ascii_case(&name));
                                            if on {
                                                lines.push(name);
                                            }
                                            *field(d) = lines.join("\n");
                                        });
                                    }
                                />
                                <span><code>{shown}</code><span class="block text-xs text-slate-500">{description}</span></span>
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
        </fieldset>
    }
}

fn tools_step(ctx: Ctx) -> impl IntoView {
    // The client's catalogue, to choose from.
    let catalogue = Resource::new(|| (), |_| crate::tools::pages::load_tools());
    view! {
        <div class="space-y-4">
            <Transition fallback=|| view! { <p class="text-sm text-slate-500">"Loading your tools…"</p> }>
                {move || Suspend::new(async move {
                    catalogue.await.ok().map(|list| {
                        let items = list.into_iter().map(|t| (t.name, t.description)).collect();
                        list_choices(ctx, Input::Tools, "From your catalogue", "tool-choices", |d| &d.tools, |d| &mut d.tools, items)
                    })
                })}
            </Transition>
            {text_input(ctx, Input::Tools, "Tools it may use", "tools", "One per line: names from your catalogue (the Tools page adds HTTP tools).", |d| &mut d.tools, true)}
        </div>
    }
}

fn review_step(ctx: Ctx) -> impl IntoView {
    move || {
        match ctx.preview.get() {
        Err(_) => view! {
            <p class="text-sm text-red-800" data-testid="review-blocked">
                "Some answers need a change before this can be saved: the steps marked in red show where."
            </p>
        }
        .into_any(),
        Ok(e) => {
            let p = &e.personality;
            let m = &e.model_preferences;
            let (temperature, max_tokens) = crate::conversations::prompt::generation_settings(&e);
            let prompt = crate::conversations::prompt::system_prompt(&e);
            view! {
                <dl class="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-2">
                    <div><dt class="text-slate-500">"Name"</dt><dd class="font-medium" data-testid="review-name">{e.name.clone()}</dd></div>
                    <div><dt class="text-slate-500">"Role"</dt><dd>{format!("{} · {}", e.role, e.industry)}</dd></div>
                    <div><dt class="text-slate-500">"Language"</dt><dd data-testid="review-language">{language::display_name(&e.language)}</dd></div>
                    <div><dt class="text-slate-500">"Personality"</dt><dd>{format!("{}, {}, {} answers, {}", p.communication_style, p.formality_level, p.response_length, p.expertise_level)}</dd></div>
                    <div><dt class="text-slate-500">"Creativity / empathy"</dt><dd>{format!("{:.2} / {:.2}", p.creativity_level, p.empathy_level)}</dd></div>
                    <div><dt class="text-slate-500">"Models"</dt><dd>{std::iter::once(m.primary_model.clone()).chain(m.fallback_models.iter().map(|f| format!("then {f}"))).collect::<Vec<_>>().join(", ")}</dd></div>
                    <div><dt class="text-slate-500">"Sampling"</dt><dd data-testid="review-sampling">{format!("temperature {temperature:.2}, at most {max_tokens} tokens per answer")}</dd></div>
                </dl>
                <h3 class="mt-5 text-sm font-medium">"The system prompt, exactly as the model will receive it"</h3>
                <pre class="mt-2 max-h-96 overflow-auto whitespace-pre-wrap break-words rounded-md bg-slate-50 p-3 font-mono text-xs" data-testid="prompt-preview">{prompt}</pre>
            }
            .into_any()
        }
    }
    }
}
