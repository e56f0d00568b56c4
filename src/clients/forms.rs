//! The onboarding form as the browser sends it, and the request it means. Pure, so the page
//! checks the form before calling the server.

use super::{ClientInfo, LimitOverrides, SecurityLevel};
use crate::core::forms::{opt, split_list};
use crate::core::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnboardForm {
    pub name: String,
    pub industry: String,
    pub tier: String,
    /// Blank: the tier's default.
    pub max_employees: String,
    /// Comma-separated; blank: the tier's models.
    pub allowed_models: String,
    pub security_level: String,
    pub compliance_requirements: String,
}

impl OnboardForm {
    pub fn client_info(self) -> Result<ClientInfo, AppError> {
        let max_employees = match self.max_employees.trim() {
            "" => None,
            v => Some(
                v.parse::<u32>()
                    .map_err(|_| AppError::field("max_employees", "must be a whole number"))?,
            ),
        };
        let security_level = match self.security_level.trim() {
            "" => None,
            v => Some(SecurityLevel::parse(v).ok_or_else(|| {
                AppError::field(
                    "security_level",
                    format!("must be one of: {}", SecurityLevel::expected()),
                )
            })?),
        };
        let models = split_list(&self.allowed_models);
        Ok(ClientInfo {
            name: self.name,
            industry: opt(&self.industry),
            tier: self.tier,
            max_employees,
            allowed_models: (!models.is_empty()).then_some(models),
            security_level,
            compliance_requirements: Some(split_list(&self.compliance_requirements)),
            // The form does not offer it yet (the operator console is the next issue's).
            retention_days: None,
        })
    }
}

/// The limits an operator may set for one client: the field's name, its label and whether it
/// takes a whole number.
pub const LIMIT_FIELDS: [(&str, &str, bool); 8] = [
    (
        "requests_per_second",
        "Requests a second (all keys and people)",
        false,
    ),
    ("burst", "Burst above that", true),
    (
        "key_requests_per_second",
        "Requests a second per API key",
        false,
    ),
    ("key_burst", "Burst per API key", true),
    ("max_concurrent_turns", "Turns at once (0: no cap)", true),
    ("monthly_tokens", "Tokens a month (0: no budget)", true),
    (
        "monthly_cost_usd",
        "US dollars a month (0: no budget)",
        false,
    ),
    ("max_message_chars", "Longest message, in characters", true),
];

/// The operator's limits form: one text per limit, blank for the tier's value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LimitsForm(pub std::collections::BTreeMap<String, String>);

impl LimitsForm {
    /// The form holding `o`'s overrides.
    pub fn of(o: &LimitOverrides) -> Self {
        let json = serde_json::to_value(o).unwrap_or_default();
        LimitsForm(
            LIMIT_FIELDS
                .iter()
                .filter_map(|(name, _, _)| {
                    json.get(*name).map(|v| (name.to_string(), v.to_string()))
                })
                .collect(),
        )
    }

    /// The overrides the form asks for; every field that is not a number in range is named.
    pub fn overrides(&self) -> Result<LimitOverrides, AppError> {
        let mut fields = crate::core::FieldErrors::new();
        let mut map = serde_json::Map::new();
        for (name, _, whole) in LIMIT_FIELDS {
            let text = self.0.get(name).map(|s| s.trim()).unwrap_or_default();
            if text.is_empty() {
                continue;
            }
            let value = if whole {
                text.parse::<u64>()
                    .ok()
                    .filter(|v| name == "monthly_tokens" || *v <= u64::from(u32::MAX))
                    .map(serde_json::Value::from)
            } else {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(serde_json::Value::Number)
            };
            match value {
                Some(v) => {
                    map.insert(name.to_owned(), v);
                }
                None => {
                    let what = if whole { "a whole number" } else { "a number" };
                    fields.insert(name.to_owned(), format!("must be {what}"));
                }
            }
        }
        let overrides: LimitOverrides = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| AppError::bad_request(e.to_string()))?;
        fields.extend(overrides.problems());
        if fields.is_empty() {
            Ok(overrides)
        } else {
            Err(AppError::Validation {
                message: "some limits cannot be used".into(),
                fields,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_settings_mean_the_tier_default_and_bad_ones_are_named() {
        let info = OnboardForm {
            name: "Acme".into(),
            tier: "starter".into(),
            compliance_requirements: "gdpr, soc2".into(),
            ..Default::default()
        }
        .client_info()
        .expect("valid");
        assert_eq!(info.max_employees, None);
        assert_eq!(info.allowed_models, None);
        assert_eq!(info.industry, None);
        assert_eq!(
            info.compliance_requirements,
            Some(vec!["gdpr".to_string(), "soc2".to_string()])
        );
        let err = OnboardForm {
            max_employees: "many".into(),
            ..Default::default()
        }
        .client_info()
        .expect_err("not a number");
        assert!(err.fields().expect("fields").contains_key("max_employees"));
    }
}

#[cfg(test)]
mod limits_tests {
    use super::*;

    #[test]
    fn the_limits_form_round_trips_and_names_each_bad_field() {
        let o = LimitOverrides {
            monthly_tokens: Some(5_000),
            requests_per_second: Some(2.5),
            ..Default::default()
        };
        let form = LimitsForm::of(&o);
        assert_eq!(
            form.0.get("monthly_tokens").map(String::as_str),
            Some("5000")
        );
        assert_eq!(form.overrides().expect("valid"), o);
        let mut bad = form.clone();
        bad.0.insert("burst".into(), "lots".into());
        bad.0.insert("key_burst".into(), "1.5".into());
        let err = bad.overrides().expect_err("not numbers");
        let fields = err.fields().expect("fields");
        assert_eq!(
            fields.get("burst").map(String::as_str),
            Some("must be a whole number")
        );
        assert!(fields.contains_key("key_burst"));
        bad.0.clear();
        bad.0.insert("max_message_chars".into(), "0".into());
        assert!(bad
            .overrides()
            .expect_err("out of range")
            .fields()
            .expect("fields")
            .contains_key("max_message_chars"));
    }
}
