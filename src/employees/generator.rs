//! Pure, deterministic logic: requirements → employee configuration, and PATCH → updated
//! employee. The same input always gives the same output.

use super::validate::*;
use super::*;
use crate::core::validate::*;
use crate::core::AppError;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The employee fields the generator decides (everything but ids, status and timestamps).
#[derive(Debug, Clone, PartialEq)]
pub struct EmployeeConfig {
    pub name: String,
    pub role: String,
    pub industry: String,
    pub language: String,
    pub expertise_areas: Vec<String>,
    pub personality: PersonalityConfig,
    pub model_preferences: ModelPreferences,
    pub tool_access: Vec<String>,
    pub knowledge_sources: Vec<String>,
}

impl EmployeeConfig {
    /// A new, active employee with this configuration.
    pub fn into_employee(
        self,
        id: EmployeeId,
        client_id: ClientId,
        now: DateTime<Utc>,
    ) -> Employee {
        Employee {
            id,
            client_id,
            name: self.name,
            role: self.role,
            industry: self.industry,
            language: self.language,
            expertise_areas: self.expertise_areas,
            personality: self.personality,
            model_preferences: self.model_preferences,
            tool_access: self.tool_access,
            knowledge_sources: self.knowledge_sources,
            status: EmployeeStatus::Active,
            created_at: now,
            updated_at: now,
            archived_at: None,
        }
    }
}

/// Defaults that follow from the communication style when a trait is not given.
///
/// | style        | formality | length   | creativity | empathy |
/// |--------------|-----------|----------|------------|---------|
/// | professional | formal    | concise  | 0.4        | 0.5     |
/// | friendly     | casual    | adaptive | 0.6        | 0.8     |
/// | technical    | adaptive  | detailed | 0.3        | 0.3     |
fn style_defaults(style: CommunicationStyle) -> (FormalityLevel, ResponseLength, f64, f64) {
    match style {
        CommunicationStyle::Professional => {
            (FormalityLevel::Formal, ResponseLength::Concise, 0.4, 0.5)
        }
        CommunicationStyle::Friendly => {
            (FormalityLevel::Casual, ResponseLength::Adaptive, 0.6, 0.8)
        }
        CommunicationStyle::Technical => {
            (FormalityLevel::Adaptive, ResponseLength::Detailed, 0.3, 0.3)
        }
    }
}

/// Default completion budget for a response length.
pub fn default_max_tokens(length: ResponseLength) -> u32 {
    match length {
        ResponseLength::Concise => 512,
        ResponseLength::Adaptive => 1024,
        ResponseLength::Detailed => 2000,
    }
}

/// Default sampling temperature for a creativity level: 0.2 at 0.0 up to 1.0 at 1.0.
pub fn temperature_for(creativity: f64) -> f64 {
    ((0.2 + 0.8 * creativity) * 100.0).round() / 100.0
}

/// The model an employee gets when it names none: the catalogue default when the client may use
/// it, else the client's first allowed model.
pub fn default_model<'a>(allowed: &'a [String], catalogue_default: &'a str) -> &'a str {
    if allowed.iter().any(|m| m == catalogue_default) {
        catalogue_default
    } else {
        allowed
            .first()
            .map(String::as_str)
            .unwrap_or(catalogue_default)
    }
}

fn title_case(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn trait_enum<T: Copy>(
    v: &mut Validator,
    key: &str,
    value: Option<&Value>,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
    default: T,
) -> T {
    let field = format!("personality_traits.{key}");
    match value {
        None => default,
        Some(Value::String(s)) => parse_enum(v, &field, s, parse, expected, default),
        Some(_) => {
            v.error(field, format!("must be one of: {}", expected()));
            default
        }
    }
}

fn trait_level(v: &mut Validator, key: &str, value: Option<&Value>, default: f64) -> f64 {
    let field = format!("personality_traits.{key}");
    match value {
        None => default,
        Some(Value::Number(n)) => v.unit_interval(&field, n.as_f64().unwrap_or(f64::NAN)),
        Some(_) => {
            v.error(field, "must be a number between 0.0 and 1.0");
            default
        }
    }
}

const KNOWN_TRAITS: [&str; 5] = [
    "formality_level",
    "expertise_level",
    "response_length",
    "creativity_level",
    "empathy_level",
];

/// Requirements → employee configuration, validated against the client's allowed models.
pub fn generate_employee(
    req: &EmployeeRequirements,
    allowed_models: &[String],
    catalogue_default: &str,
) -> Result<EmployeeConfig, AppError> {
    let mut v = Validator::new();
    let role = v.text("role", &req.role, MAX_SHORT_TEXT);
    let industry = v.text("industry", &req.industry, MAX_SHORT_TEXT);
    let language = req.language.as_deref().map_or_else(
        || super::language::DEFAULT_LANGUAGE.to_owned(),
        |code| language_code(&mut v, code),
    );
    let name = v
        .optional_text("name", req.name.as_deref(), MAX_NAME)
        .unwrap_or_else(|| format!("{} · {}", title_case(&role), title_case(&industry)));
    let expertise_areas = v.text_list(
        "expertise_areas",
        &req.expertise_areas,
        MAX_EXPERTISE_AREAS,
        MAX_SHORT_TEXT,
    );
    let style = parse_enum(
        &mut v,
        "communication_style",
        &req.communication_style,
        CommunicationStyle::parse,
        CommunicationStyle::expected,
        CommunicationStyle::Professional,
    );
    let (formality, length, creativity, empathy) = style_defaults(style);
    let t = &req.personality_traits;
    let personality = PersonalityConfig {
        communication_style: style,
        formality_level: trait_enum(
            &mut v,
            "formality_level",
            t.get("formality_level"),
            FormalityLevel::parse,
            FormalityLevel::expected,
            formality,
        ),
        expertise_level: trait_enum(
            &mut v,
            "expertise_level",
            t.get("expertise_level"),
            ExpertiseLevel::parse,
            ExpertiseLevel::expected,
            ExpertiseLevel::Expert,
        ),
        response_length: trait_enum(
            &mut v,
            "response_length",
            t.get("response_length"),
            ResponseLength::parse,
            ResponseLength::expected,
            length,
        ),
        creativity_level: trait_level(
            &mut v,
            "creativity_level",
            t.get("creativity_level"),
            creativity,
        ),
        empathy_level: trait_level(&mut v, "empathy_level", t.get("empathy_level"), empathy),
        custom_traits: {
            let mut rest = t.clone();
            rest.retain(|k, _| !KNOWN_TRAITS.contains(&k.as_str()));
            custom_traits(&mut v, "personality_traits", &rest)
        },
    };
    let base = ModelPreferences {
        primary_model: default_model(allowed_models, catalogue_default).to_owned(),
        fallback_models: Vec::new(),
        temperature: temperature_for(personality.creativity_level),
        max_tokens: default_max_tokens(personality.response_length),
        specialized_models: Default::default(),
    };
    let model_preferences = model_preferences(
        &mut v,
        &req.model_preferences.clone().unwrap_or_default(),
        &base,
        allowed_models,
    );
    let tool_access = v.tool_list("tools_needed", &req.tools_needed, MAX_TOOLS);
    let knowledge_sources = v.text_list(
        "knowledge_domains",
        &req.knowledge_domains,
        MAX_KNOWLEDGE_SOURCES,
        MAX_LIST_ITEM,
    );
    v.finish(EmployeeConfig {
        name,
        role,
        industry,
        language,
        expertise_areas,
        personality,
        model_preferences,
        tool_access,
        knowledge_sources,
    })
}

/// A language code from `language::LANGUAGES` (case and spaces forgiven).
fn language_code(v: &mut Validator, code: &str) -> String {
    let code = code.trim().to_ascii_lowercase();
    match super::language::find(&code) {
        Some(l) => l.code.to_owned(),
        None => {
            v.error(
                "language",
                format!(
                    "is not a language we know; use one of these ISO 639-1 codes, or \"other\" \
                     for any other language: {}",
                    super::language::codes()
                ),
            );
            code
        }
    }
}

/// Applies a PATCH to an employee, validating the result as a whole.
pub fn apply_update(
    current: &Employee,
    update: &EmployeeUpdate,
    allowed_models: &[String],
) -> Result<Employee, AppError> {
    let mut v = Validator::new();
    let mut next = current.clone();
    if update.is_empty() {
        v.error("body", "names no field to change");
    }
    if let Some(name) = &update.name {
        next.name = v.text("name", name, MAX_NAME);
    }
    if let Some(role) = &update.role {
        next.role = v.text("role", role, MAX_SHORT_TEXT);
    }
    if let Some(industry) = &update.industry {
        next.industry = v.text("industry", industry, MAX_SHORT_TEXT);
    }
    if let Some(code) = &update.language {
        next.language = language_code(&mut v, code);
    }
    if let Some(list) = &update.expertise_areas {
        next.expertise_areas =
            v.text_list("expertise_areas", list, MAX_EXPERTISE_AREAS, MAX_SHORT_TEXT);
    }
    if let Some(p) = &update.personality {
        let cur = &mut next.personality;
        cur.communication_style = p.communication_style.unwrap_or(cur.communication_style);
        cur.formality_level = p.formality_level.unwrap_or(cur.formality_level);
        cur.expertise_level = p.expertise_level.unwrap_or(cur.expertise_level);
        cur.response_length = p.response_length.unwrap_or(cur.response_length);
        if let Some(c) = p.creativity_level {
            cur.creativity_level = v.unit_interval("personality.creativity_level", c);
        }
        if let Some(e) = p.empathy_level {
            cur.empathy_level = v.unit_interval("personality.empathy_level", e);
        }
        if let Some(traits) = &p.custom_traits {
            cur.custom_traits = custom_traits(&mut v, "personality.custom_traits", traits);
        }
    }
    if let Some(mp) = &update.model_preferences {
        next.model_preferences =
            model_preferences(&mut v, mp, &current.model_preferences, allowed_models);
    }
    if let Some(list) = &update.tool_access {
        next.tool_access = v.tool_list("tool_access", list, MAX_TOOLS);
    }
    if let Some(list) = &update.knowledge_sources {
        next.knowledge_sources = v.text_list(
            "knowledge_sources",
            list,
            MAX_KNOWLEDGE_SOURCES,
            MAX_LIST_ITEM,
        );
    }
    v.finish(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn allowed() -> Vec<String> {
        vec!["local-small".into(), "gpt-4o-mini".into(), "gpt-4o".into()]
    }

    fn req() -> EmployeeRequirements {
        serde_json::from_value(json!({
            "role": "support agent",
            "industry": "retail banking",
            "expertise_areas": ["cards", "Cards", "mortgages"],
            "communication_style": "friendly",
            "tools_needed": ["CRM", "email", "crm"],
            "knowledge_domains": ["card policy"],
            "personality_traits": {"empathy_level": 0.9, "humour": "dry"}
        }))
        .expect("valid requirements")
    }

    #[test]
    fn generator_is_deterministic_and_fills_style_defaults() {
        let a = generate_employee(&req(), &allowed(), "local-small").expect("valid");
        let b = generate_employee(&req(), &allowed(), "local-small").expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.name, "Support Agent · Retail Banking");
        assert_eq!(a.expertise_areas, vec!["cards", "mortgages"]);
        assert_eq!(a.tool_access, vec!["crm", "email"]);
        let p = &a.personality;
        assert_eq!(p.communication_style, CommunicationStyle::Friendly);
        assert_eq!(p.formality_level, FormalityLevel::Casual);
        assert_eq!(p.response_length, ResponseLength::Adaptive);
        assert_eq!(p.empathy_level, 0.9);
        assert_eq!(p.creativity_level, 0.6);
        assert_eq!(p.custom_traits.get("humour"), Some(&json!("dry")));
        assert!(!p.custom_traits.contains_key("empathy_level"));
        let m = &a.model_preferences;
        assert_eq!(m.primary_model, "local-small");
        assert_eq!(m.max_tokens, 1024);
        assert_eq!(m.temperature, 0.68);
    }

    #[test]
    fn styles_give_different_personalities() {
        let mut r = req();
        r.personality_traits.clear();
        r.communication_style = "technical".into();
        let t = generate_employee(&r, &allowed(), "local-small").expect("valid");
        r.communication_style = "professional".into();
        let p = generate_employee(&r, &allowed(), "local-small").expect("valid");
        assert_eq!(t.personality.response_length, ResponseLength::Detailed);
        assert_eq!(t.model_preferences.max_tokens, 2000);
        assert_eq!(p.personality.formality_level, FormalityLevel::Formal);
        assert_eq!(p.model_preferences.max_tokens, 512);
    }

    #[test]
    fn default_model_falls_back_to_first_allowed() {
        let only_openai = vec!["gpt-4o".to_string()];
        let e = generate_employee(&req(), &only_openai, "local-small").expect("valid");
        assert_eq!(e.model_preferences.primary_model, "gpt-4o");
    }

    #[test]
    fn disallowed_models_are_named_in_the_error() {
        let mut r = req();
        r.model_preferences = Some(ModelPreferencesInput {
            primary_model: Some("gpt-5-ultra".into()),
            fallback_models: Some(vec!["gpt-4o".into(), "claude".into()]),
            ..Default::default()
        });
        let err = generate_employee(&r, &allowed(), "local-small").expect_err("must refuse");
        let fields = err.fields().expect("validation error");
        assert!(fields["model_preferences.primary_model"].contains("gpt-5-ultra"));
        assert!(fields["model_preferences.fallback_models[1]"].contains("claude"));
        assert!(!fields.contains_key("model_preferences.fallback_models[0]"));
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let r: EmployeeRequirements = serde_json::from_value(json!({
            "role": "  ",
            "industry": "x".repeat(101),
            "communication_style": "sarcastic",
            "tools_needed": ["ok", "not ok!"],
            "personality_traits": {"empathy_level": 1.5, "creativity_level": "high",
                                    "formality_level": "stiff", "nested": {"a": 1}},
            "model_preferences": {"temperature": 3.0, "max_tokens": 0}
        }))
        .expect("shape is valid");
        let err = generate_employee(&r, &allowed(), "local-small").expect_err("must refuse");
        let f = err.fields().expect("validation");
        for field in [
            "role",
            "industry",
            "communication_style",
            "tools_needed[1]",
            "personality_traits.empathy_level",
            "personality_traits.creativity_level",
            "personality_traits.formality_level",
            "personality_traits.nested",
            "model_preferences.temperature",
            "model_preferences.max_tokens",
        ] {
            assert!(f.contains_key(field), "missing {field} in {f:?}");
        }
        assert!(f["communication_style"].contains("professional, friendly, technical"));
    }

    #[test]
    fn update_merges_and_revalidates() {
        let cfg = generate_employee(&req(), &allowed(), "local-small").expect("valid");
        let e = cfg.into_employee(
            EmployeeId::parse("client_0123456789abcdef01234567_emp_0123456789abcdef01234567")
                .expect("id"),
            ClientId::parse("client_0123456789abcdef01234567").expect("id"),
            chrono::DateTime::UNIX_EPOCH,
        );
        let upd: EmployeeUpdate = serde_json::from_value(json!({
            "name": "Ava",
            "personality": {"empathy_level": 0.2},
            "model_preferences": {"primary_model": "gpt-4o", "fallback_models": ["gpt-4o-mini"]}
        }))
        .expect("shape");
        let next = apply_update(&e, &upd, &allowed()).expect("valid update");
        assert_eq!(next.name, "Ava");
        assert_eq!(next.personality.empathy_level, 0.2);
        assert_eq!(
            next.personality.communication_style,
            CommunicationStyle::Friendly
        );
        assert_eq!(next.model_preferences.primary_model, "gpt-4o");
        assert_eq!(next.model_preferences.fallback_models, vec!["gpt-4o-mini"]);
        assert_eq!(next.role, e.role);

        let bad: EmployeeUpdate =
            serde_json::from_value(json!({"personality": {"creativity_level": -0.1}}))
                .expect("shape");
        let err = apply_update(&e, &bad, &allowed()).expect_err("out of range");
        assert!(err
            .fields()
            .expect("validation")
            .contains_key("personality.creativity_level"));
        assert!(apply_update(&e, &EmployeeUpdate::default(), &allowed()).is_err());
    }
}
