//! The configuration wizard's state, pure: what a person has entered so far (a draft that
//! survives Back and reloads), what it means (requirements for a new employee, an update for an
//! existing one), which step and field each of the server's error keys belongs to, and the
//! preview — the same generator and prompt builder the server runs.

use super::generator::{apply_update, generate_employee};
use super::*;
use crate::core::forms::{opt, split_list};
use crate::core::AppError;
use crate::core::FieldErrors;

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    Role,
    Expertise,
    Personality,
    Models,
    Tools,
    Review,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Role,
        Step::Expertise,
        Step::Personality,
        Step::Models,
        Step::Tools,
        Step::Review,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Step::Role => "Role and industry",
            Step::Expertise => "Expertise and knowledge",
            Step::Personality => "Personality",
            Step::Models => "Models",
            Step::Tools => "Tools",
            Step::Review => "Review",
        }
    }

    pub fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn next(self) -> Step {
        Step::ALL[(self.index() + 1).min(Step::ALL.len() - 1)]
    }

    pub fn back(self) -> Step {
        Step::ALL[self.index().saturating_sub(1)]
    }
}

/// One input of the wizard, to which error keys are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Input {
    Name,
    Role,
    Industry,
    Language,
    Expertise,
    Knowledge,
    Style,
    Formality,
    ExpertiseLevel,
    Length,
    Creativity,
    Empathy,
    Traits,
    Primary,
    Fallbacks,
    Specialized,
    Temperature,
    MaxTokens,
    Tools,
}

impl Input {
    pub fn step(self) -> Step {
        use Input::*;
        match self {
            Name | Role | Industry | Language => Step::Role,
            Expertise | Knowledge => Step::Expertise,
            Style | Formality | ExpertiseLevel | Length | Creativity | Empathy | Traits => {
                Step::Personality
            }
            Primary | Fallbacks | Specialized | Temperature | MaxTokens => Step::Models,
            Tools => Step::Tools,
        }
    }

    /// The input an error key of the server (new or update) is about, if the wizard has it.
    pub fn of_key(key: &str) -> Option<Input> {
        use Input::*;
        let trait_key = key.strip_prefix("personality_traits.");
        let key = trait_key
            .or_else(|| key.strip_prefix("personality."))
            .unwrap_or(key);
        let mut parts = key.split(['[', '.']);
        let head = parts.next().unwrap_or(key);
        Some(match head {
            "name" => Name,
            "role" => Role,
            "industry" => Industry,
            "language" => Language,
            "expertise_areas" => Expertise,
            "knowledge_domains" | "knowledge_sources" => Knowledge,
            "communication_style" => Style,
            "formality_level" => Formality,
            "expertise_level" => ExpertiseLevel,
            "response_length" => Length,
            "creativity_level" => Creativity,
            "empathy_level" => Empathy,
            "tools_needed" | "tool_access" => Tools,
            "model_preferences" => match parts.next() {
                Some("primary_model") => Primary,
                Some("fallback_models") => Fallbacks,
                Some("specialized_models") => Specialized,
                Some("temperature") => Temperature,
                Some("max_tokens") => MaxTokens,
                _ => return None,
            },
            // Any other trait is a custom one (`personality_traits.<key>` on create,
            // `personality.custom_traits.<key>` on update).
            "custom_traits" => Traits,
            _ if trait_key.is_some() => Traits,
            _ => return None,
        })
    }
}

/// Errors placed on their inputs, and the ones no input holds.
pub type PlacedErrors = (Vec<(Input, String)>, Vec<String>);

/// The errors of a draft, by input, in words a person reads next to that input: "Must be
/// between 0.0 and 1.0", "Item 3 must be at most 100 characters".
pub fn errors_by_input(fields: &FieldErrors) -> PlacedErrors {
    let mut placed: Vec<(Input, String)> = Vec::new();
    let mut other = Vec::new();
    for (key, message) in fields {
        match Input::of_key(key) {
            Some(input) if !placed.iter().any(|(i, _)| *i == input) => {
                placed.push((input, in_words(key, message)))
            }
            Some(_) => {}
            None => other.push(format!("{key}: {message}")),
        }
    }
    (placed, other)
}

fn in_words(key: &str, message: &str) -> String {
    let mut text = match key
        .rsplit_once('[')
        .and_then(|(_, i)| i.trim_end_matches(']').parse::<usize>().ok())
    {
        Some(i) => format!("Item {} {message}", i + 1),
        None => match key.rsplit_once('.') {
            // A custom trait or a task type: name the key the person typed.
            Some((parent, leaf))
                if parent.ends_with("custom_traits")
                    || parent.ends_with("specialized_models")
                    || (parent == "personality_traits"
                        && Input::of_key(key) == Some(Input::Traits)) =>
            {
                format!("“{leaf}” {message}")
            }
            _ => message.to_owned(),
        },
    };
    if let Some(first) = text.get(..1) {
        text.replace_range(..1, &first.to_uppercase());
    }
    text
}

/// What has been entered, as the inputs hold it (text stays text until it is read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Draft {
    pub step: Option<Step>,
    /// For an existing employee: the version the draft started from (`updated_at`), so a draft
    /// left over from before someone else's change is not restored over it.
    pub base: Option<String>,
    pub name: String,
    pub role: String,
    pub industry: String,
    /// An ISO 639-1 code (`language::LANGUAGES`); blank: English.
    pub language: String,
    /// One per line (commas also separate).
    pub expertise_areas: String,
    pub knowledge: String,
    pub communication_style: String,
    /// Blank: what the communication style implies.
    pub formality_level: String,
    pub expertise_level: String,
    pub response_length: String,
    /// `None`: what the communication style implies.
    pub creativity: Option<f64>,
    pub empathy: Option<f64>,
    pub traits: Vec<(String, String)>,
    /// Blank: the platform's default model for this client.
    pub primary_model: String,
    pub fallback_models: Vec<String>,
    /// Task type → model.
    pub specialized: Vec<(String, String)>,
    /// Blank: derived from creativity (new employees) or kept (existing ones).
    pub temperature: String,
    /// Blank: derived from the response length (new) or kept (existing).
    pub max_tokens: String,
    pub tools: String,
}

impl Draft {
    pub fn new() -> Self {
        Draft {
            communication_style: CommunicationStyle::Professional.to_string(),
            language: language::DEFAULT_LANGUAGE.to_owned(),
            ..Default::default()
        }
    }

    /// A draft holding what `e` is now.
    pub fn of(e: &Employee) -> Self {
        let p = &e.personality;
        let m = &e.model_preferences;
        Draft {
            step: None,
            base: Some(e.updated_at.to_rfc3339()),
            name: e.name.clone(),
            role: e.role.clone(),
            industry: e.industry.clone(),
            language: e.language.clone(),
            expertise_areas: e.expertise_areas.join("\n"),
            knowledge: e.knowledge_sources.join("\n"),
            communication_style: p.communication_style.to_string(),
            formality_level: p.formality_level.to_string(),
            expertise_level: p.expertise_level.to_string(),
            response_length: p.response_length.to_string(),
            creativity: Some(p.creativity_level),
            empathy: Some(p.empathy_level),
            traits: p
                .custom_traits
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect(),
            primary_model: m.primary_model.clone(),
            fallback_models: m.fallback_models.clone(),
            specialized: m
                .specialized_models
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            temperature: m.temperature.to_string(),
            max_tokens: m.max_tokens.to_string(),
            tools: e.tool_access.join("\n"),
        }
    }

    fn traits_map(&self) -> Map<String, Value> {
        self.traits
            .iter()
            .filter(|(k, v)| !k.trim().is_empty() || !v.trim().is_empty())
            .map(|(k, v)| (k.trim().to_owned(), Value::String(v.trim().to_owned())))
            .collect()
    }

    /// The numbers typed as text, read; one that is not a number is an error naming it.
    fn numbers(&self) -> Result<(Option<f64>, Option<u32>), AppError> {
        let mut errors = FieldErrors::new();
        let temperature = match self.temperature.trim() {
            "" => None,
            t => match t.parse::<f64>() {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.insert(
                        "model_preferences.temperature".into(),
                        "must be a number, such as 0.7".into(),
                    );
                    None
                }
            },
        };
        let max_tokens = match self.max_tokens.trim() {
            "" => None,
            t => match t.parse::<u32>() {
                Ok(t) => Some(t),
                Err(_) => {
                    errors.insert(
                        "model_preferences.max_tokens".into(),
                        "must be a whole number, such as 1024".into(),
                    );
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok((temperature, max_tokens))
        } else {
            Err(AppError::Validation {
                message: "some numbers cannot be read".into(),
                fields: errors,
            })
        }
    }

    fn model_input(&self) -> Result<ModelPreferencesInput, AppError> {
        let (temperature, max_tokens) = self.numbers()?;
        Ok(ModelPreferencesInput {
            primary_model: opt(&self.primary_model),
            fallback_models: Some(
                self.fallback_models
                    .iter()
                    .filter(|m| !m.trim().is_empty())
                    .cloned()
                    .collect(),
            ),
            temperature,
            max_tokens,
            specialized_models: Some(
                self.specialized
                    .iter()
                    .filter(|(k, v)| !k.trim().is_empty() || !v.trim().is_empty())
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .collect(),
            ),
        })
    }

    /// What a new employee is created from.
    pub fn requirements(&self) -> Result<EmployeeRequirements, AppError> {
        let mut traits = self.traits_map();
        // The named traits win over a custom row that happens to use their key.
        for (key, value) in [
            ("formality_level", &self.formality_level),
            ("expertise_level", &self.expertise_level),
            ("response_length", &self.response_length),
        ] {
            match opt(value) {
                Some(v) => traits.insert(key.into(), Value::String(v)),
                None => traits.remove(key),
            };
        }
        for (key, value) in [
            ("creativity_level", self.creativity),
            ("empathy_level", self.empathy),
        ] {
            match value.and_then(serde_json::Number::from_f64) {
                Some(n) => traits.insert(key.into(), Value::Number(n)),
                None => traits.remove(key),
            };
        }
        Ok(EmployeeRequirements {
            name: opt(&self.name),
            role: self.role.clone(),
            industry: self.industry.clone(),
            language: opt(&self.language),
            expertise_areas: split_list(&self.expertise_areas),
            communication_style: self.communication_style.clone(),
            tools_needed: split_list(&self.tools),
            knowledge_domains: split_list(&self.knowledge),
            personality_traits: traits,
            model_preferences: Some(self.model_input()?),
        })
    }

    /// The change that makes an existing employee what the draft says.
    pub fn update(&self) -> Result<EmployeeUpdate, AppError> {
        let choice = |field: &str, v: &str| -> Result<Value, AppError> {
            match opt(v) {
                Some(v) => Ok(Value::String(v)),
                None => Err(AppError::field(field, "needs a choice")),
            }
        };
        let personality: PersonalityPatch = serde_json::from_value(serde_json::json!({
            "communication_style": choice("personality.communication_style", &self.communication_style)?,
            "formality_level": choice("personality.formality_level", &self.formality_level)?,
            "expertise_level": choice("personality.expertise_level", &self.expertise_level)?,
            "response_length": choice("personality.response_length", &self.response_length)?,
            "creativity_level": self.creativity,
            "empathy_level": self.empathy,
            "custom_traits": self.traits_map(),
        }))
        .map_err(|e| AppError::field("personality", e.to_string()))?;
        Ok(EmployeeUpdate {
            name: Some(self.name.clone()),
            role: Some(self.role.clone()),
            industry: Some(self.industry.clone()),
            language: opt(&self.language),
            expertise_areas: Some(split_list(&self.expertise_areas)),
            personality: Some(personality),
            model_preferences: Some(self.model_input()?),
            tool_access: Some(split_list(&self.tools)),
            knowledge_sources: Some(split_list(&self.knowledge)),
        })
    }

    /// The employee the draft would make, by the server's own rules: for a new one from
    /// `generate_employee`, for an existing one from `apply_update` on it.
    pub fn preview(
        &self,
        existing: Option<&Employee>,
        allowed_models: &[String],
        default_model: &str,
    ) -> Result<Employee, AppError> {
        match existing {
            Some(e) => apply_update(e, &self.update()?, allowed_models),
            None => {
                let config =
                    generate_employee(&self.requirements()?, allowed_models, default_model)?;
                let client =
                    ClientId::parse("client_000000000000000000000000").expect("a well-formed id");
                let id = EmployeeId::parse(
                    "client_000000000000000000000000_emp_000000000000000000000000",
                )
                .expect("a well-formed id");
                Ok(config.into_employee(id, client, chrono::DateTime::UNIX_EPOCH))
            }
        }
    }
}

/// What the wizard needs from the server: the client's models and the default one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WizardOptions {
    pub allowed_models: Vec<String>,
    pub default_model: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["local-small".into(), "gpt-4o-mini".into()]
    }

    fn draft() -> Draft {
        Draft {
            role: "claims handler".into(),
            industry: "insurance".into(),
            expertise_areas: "motor\nfraud, home".into(),
            communication_style: "friendly".into(),
            ..Draft::new()
        }
    }

    #[test]
    fn a_new_draft_previews_what_the_server_would_create() {
        let d = draft();
        let e = d.preview(None, &allowed(), "local-small").expect("valid");
        let config = generate_employee(
            &d.requirements().expect("readable"),
            &allowed(),
            "local-small",
        )
        .expect("valid");
        assert_eq!(e.name, "Claims Handler · Insurance");
        assert_eq!(e.personality, config.personality);
        assert_eq!(e.model_preferences, config.model_preferences);
        assert_eq!(e.expertise_areas, ["motor", "fraud", "home"]);
        // Blank choices take the style's defaults, as they do over REST.
        assert_eq!(e.personality.formality_level, FormalityLevel::Casual);
        assert_eq!(e.personality.creativity_level, 0.6);
    }

    #[test]
    fn an_existing_employee_round_trips_through_its_draft() {
        let e = draft()
            .preview(None, &allowed(), "local-small")
            .expect("valid");
        let mut d = Draft::of(&e);
        assert_eq!(d.preview(Some(&e), &allowed(), "x").expect("same"), e);
        d.empathy = Some(0.95);
        d.fallback_models = vec!["gpt-4o-mini".into()];
        d.traits = vec![("favourite_colour".into(), "teal".into())];
        let next = d.preview(Some(&e), &allowed(), "x").expect("valid");
        assert_eq!(next.personality.empathy_level, 0.95);
        assert_eq!(next.model_preferences.fallback_models, ["gpt-4o-mini"]);
        assert_eq!(
            next.personality.custom_traits.get("favourite_colour"),
            Some(&Value::String("teal".into()))
        );
    }

    #[test]
    fn every_error_lands_on_its_input_in_words() {
        let d = Draft {
            role: String::new(),
            creativity: Some(1.5),
            temperature: "hot".into(),
            ..draft()
        };
        let err = d
            .preview(None, &allowed(), "local-small")
            .expect_err("unreadable");
        let (placed, other) = errors_by_input(err.fields().expect("fields"));
        assert_eq!(
            placed,
            [(Input::Temperature, "Must be a number, such as 0.7".into())]
        );
        assert!(other.is_empty());

        let d = Draft {
            temperature: String::new(),
            primary_model: "gpt-5".into(),
            traits: vec![("Not a key!".into(), "x".into())],
            ..d
        };
        let err = d
            .preview(None, &allowed(), "local-small")
            .expect_err("invalid");
        let (placed, _) = errors_by_input(err.fields().expect("fields"));
        let of = |i: Input| placed.iter().find(|(p, _)| *p == i).map(|(_, m)| m.clone());
        assert_eq!(of(Input::Role).as_deref(), Some("Is required"));
        assert_eq!(
            of(Input::Creativity).as_deref(),
            Some("Must be between 0.0 and 1.0")
        );
        assert!(of(Input::Primary).expect("model").contains("not allowed"));
        assert!(of(Input::Traits)
            .expect("trait")
            .starts_with("“Not a key!”"));

        // The update path uses other keys for the same inputs.
        assert_eq!(
            Input::of_key("personality.empathy_level"),
            Some(Input::Empathy)
        );
        assert_eq!(Input::of_key("tool_access[2]"), Some(Input::Tools));
        assert_eq!(
            Input::of_key("model_preferences.fallback_models[0]"),
            Some(Input::Fallbacks)
        );
        assert_eq!(
            Input::of_key("personality.custom_traits.x"),
            Some(Input::Traits)
        );
        assert_eq!(Input::of_key("body"), None);
        let (placed, _) = errors_by_input(&FieldErrors::from([(
            "expertise_areas[2]".to_string(),
            "must be at most 100 characters".to_string(),
        )]));
        assert_eq!(placed[0].1, "Item 3 must be at most 100 characters");
    }

    #[test]
    fn steps_go_forward_and_back_within_bounds() {
        assert_eq!(Step::Role.back(), Step::Role);
        assert_eq!(Step::Role.next(), Step::Expertise);
        assert_eq!(Step::Review.next(), Step::Review);
        assert!(Step::ALL
            .iter()
            .all(|s| s.next().back() == *s || *s == Step::Review));
    }
}
