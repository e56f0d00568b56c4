//! The onboarding form as the browser sends it, and the request it means. Pure, so the page
//! checks the form before calling the server.

use super::{ClientInfo, SecurityLevel};
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
