//! The employee forms as the browser sends them, and what they mean: requirements for a new
//! employee, a partial update for an existing one. Pure, so the page checks a form before it
//! calls the server, and the rules are tested here.

use super::*;
use crate::core::forms::{form_number, opt, split_list};
use crate::core::AppError;

/// The new-employee form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewEmployeeForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub industry: String,
    #[serde(default)]
    pub communication_style: String,
    /// Comma- or newline-separated, as are the other lists.
    #[serde(default)]
    pub expertise_areas: String,
    #[serde(default)]
    pub tools_needed: String,
    #[serde(default)]
    pub knowledge_domains: String,
    /// Blank: the default model.
    #[serde(default)]
    pub primary_model: String,
}

impl NewEmployeeForm {
    pub fn requirements(self) -> EmployeeRequirements {
        EmployeeRequirements {
            name: opt(&self.name),
            role: self.role,
            industry: self.industry,
            expertise_areas: split_list(&self.expertise_areas),
            communication_style: self.communication_style,
            tools_needed: split_list(&self.tools_needed),
            knowledge_domains: split_list(&self.knowledge_domains),
            personality_traits: Default::default(),
            model_preferences: opt(&self.primary_model).map(|m| ModelPreferencesInput {
                primary_model: Some(m),
                ..Default::default()
            }),
        }
    }
}

/// The edit form of an employee's page: every field, as text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EditEmployeeForm {
    pub name: String,
    pub role: String,
    pub industry: String,
    pub expertise_areas: String,
    pub communication_style: String,
    pub formality_level: String,
    pub expertise_level: String,
    pub response_length: String,
    pub creativity_level: String,
    pub empathy_level: String,
    pub primary_model: String,
    pub fallback_models: String,
    pub temperature: String,
    pub tool_access: String,
    pub knowledge_sources: String,
}

impl EditEmployeeForm {
    /// The update the form asks for; a field that cannot mean anything (a number that is not
    /// one, a missing choice) is an error naming it.
    pub fn update(self) -> Result<EmployeeUpdate, AppError> {
        let enum_field = |field: &str, v: &str| -> Result<serde_json::Value, AppError> {
            if v.trim().is_empty() {
                Err(AppError::field(field, "is required"))
            } else {
                Ok(serde_json::Value::String(v.trim().to_owned()))
            }
        };
        let personality: PersonalityPatch = serde_json::from_value(serde_json::json!({
            "communication_style": enum_field("personality.communication_style", &self.communication_style)?,
            "formality_level": enum_field("personality.formality_level", &self.formality_level)?,
            "expertise_level": enum_field("personality.expertise_level", &self.expertise_level)?,
            "response_length": enum_field("personality.response_length", &self.response_length)?,
            "creativity_level": form_number("personality.creativity_level", &self.creativity_level)?,
            "empathy_level": form_number("personality.empathy_level", &self.empathy_level)?,
        }))
        .map_err(|e| AppError::field("personality", e.to_string()))?;
        Ok(EmployeeUpdate {
            name: Some(self.name),
            role: Some(self.role),
            industry: Some(self.industry),
            expertise_areas: Some(split_list(&self.expertise_areas)),
            personality: Some(personality),
            model_preferences: Some(ModelPreferencesInput {
                primary_model: opt(&self.primary_model),
                fallback_models: Some(split_list(&self.fallback_models)),
                temperature: form_number("model_preferences.temperature", &self.temperature)?,
                ..Default::default()
            }),
            tool_access: Some(split_list(&self.tool_access)),
            knowledge_sources: Some(split_list(&self.knowledge_sources)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_employee_form_becomes_requirements() {
        let req = NewEmployeeForm {
            role: "Claims handler".into(),
            industry: "insurance".into(),
            communication_style: "friendly".into(),
            expertise_areas: "claims, fraud\nmotor".into(),
            primary_model: " ".into(),
            ..Default::default()
        }
        .requirements();
        assert_eq!(req.name, None);
        assert_eq!(req.expertise_areas, ["claims", "fraud", "motor"]);
        assert!(req.tools_needed.is_empty());
        assert_eq!(
            req.model_preferences, None,
            "a blank model means the default"
        );
    }

    #[test]
    fn the_edit_form_names_the_field_it_cannot_read() {
        let form = EditEmployeeForm {
            communication_style: "friendly".into(),
            formality_level: "casual".into(),
            expertise_level: "expert".into(),
            response_length: "concise".into(),
            creativity_level: "0.4".into(),
            empathy_level: "lots".into(),
            temperature: "0.7".into(),
            fallback_models: "a, b".into(),
            ..Default::default()
        };
        let err = form.clone().update().expect_err("not a number");
        assert!(err
            .fields()
            .expect("fields")
            .contains_key("personality.empathy_level"));
        let ok = EditEmployeeForm {
            empathy_level: "0.9".into(),
            ..form
        }
        .update()
        .expect("valid");
        let p = ok.personality.expect("personality");
        assert_eq!(p.empathy_level, Some(0.9));
        assert_eq!(p.communication_style, Some(CommunicationStyle::Friendly));
        let m = ok.model_preferences.expect("models");
        assert_eq!(
            m.fallback_models,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(m.temperature, Some(0.7));
    }
}
