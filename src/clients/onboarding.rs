//! From what an operator asks for to a client's configuration: the tier's defaults, narrowed
//! (never widened) by the request.

use super::*;
use crate::core::validate::*;
use crate::core::AppError;

/// Onboarding input → (name, industry, tier, configuration). `tier` holds that tier's defaults;
/// a request may narrow them (fewer employees, a subset of models) but never widen them.
pub fn client_configuration(
    info: &ClientInfo,
    tier: Option<&TierInfo>,
    tiers: &[String],
) -> Result<(String, Option<String>, String, ClientConfiguration), AppError> {
    let mut v = Validator::new();
    let name = v.text("name", &info.name, MAX_NAME);
    let industry = v.optional_text("industry", info.industry.as_deref(), MAX_SHORT_TEXT);
    let tier_name = info.tier.trim().to_ascii_lowercase();
    let Some(tier) = tier else {
        v.error("tier", format!("must be one of: {}", tiers.join(", ")));
        return Err(v
            .finish(())
            .err()
            .unwrap_or_else(|| AppError::field("tier", "unknown tier")));
    };
    let max_employees = match info.max_employees {
        None => tier.max_employees,
        Some(0) => {
            v.error("max_employees", "must be at least 1");
            0
        }
        Some(n) if n > tier.max_employees || n > MAX_EMPLOYEES_LIMIT => {
            v.error(
                "max_employees",
                format!(
                    "must be at most {} for tier '{}'",
                    tier.max_employees, tier.name
                ),
            );
            n
        }
        Some(n) => n,
    };
    let allowed_models = match &info.allowed_models {
        None => tier.allowed_models.clone(),
        Some(list) if list.is_empty() => {
            v.error("allowed_models", "must name at least one model");
            Vec::new()
        }
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let m = m.trim().to_owned();
                if !tier.allowed_models.contains(&m) {
                    v.error(
                        format!("allowed_models[{i}]"),
                        format!(
                            "model '{m}' is not offered on tier '{}' (offered: {})",
                            tier.name,
                            tier.allowed_models.join(", ")
                        ),
                    );
                } else if !out.contains(&m) {
                    out.push(m);
                }
            }
            out
        }
    };
    let compliance_requirements = match &info.compliance_requirements {
        None => Vec::new(),
        Some(list) => v.slug_list("compliance_requirements", list, MAX_COMPLIANCE),
    };
    if let Some(days) = info.retention_days {
        if !(1..=36_500).contains(&days) {
            v.error(
                "retention_days",
                "must be from 1 to 36500 days (or left out to keep everything)",
            );
        }
    }
    let configuration = ClientConfiguration {
        max_employees,
        allowed_models,
        security_level: info.security_level.unwrap_or(SecurityLevel::Standard),
        compliance_requirements,
        retention_days: info.retention_days,
    };
    v.finish((name, industry, tier_name, configuration))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["local-small".into(), "gpt-4o-mini".into(), "gpt-4o".into()]
    }

    #[test]
    fn onboarding_narrows_but_never_widens_the_tier() {
        let tier = TierInfo {
            name: "starter".into(),
            max_employees: 5,
            allowed_models: allowed(),
        };
        let tiers = vec!["starter".to_string()];
        let info = ClientInfo {
            name: "Acme".into(),
            tier: "Starter".into(),
            max_employees: Some(2),
            allowed_models: Some(vec!["gpt-4o".into()]),
            compliance_requirements: Some(vec!["GDPR".into(), "soc2".into()]),
            ..Default::default()
        };
        let (_, _, t, cfg) = client_configuration(&info, Some(&tier), &tiers).expect("valid");
        assert_eq!(t, "starter");
        assert_eq!(cfg.max_employees, 2);
        assert_eq!(cfg.allowed_models, vec!["gpt-4o"]);
        assert_eq!(cfg.compliance_requirements, vec!["gdpr", "soc2"]);

        let wide = ClientInfo {
            max_employees: Some(6),
            allowed_models: Some(vec!["gpt-9".into()]),
            ..info.clone()
        };
        let f = client_configuration(&wide, Some(&tier), &tiers).expect_err("too wide");
        let f = f.fields().expect("validation");
        assert!(f.contains_key("max_employees") && f["allowed_models[0]"].contains("gpt-9"));

        let unknown = client_configuration(&info, None, &tiers).expect_err("unknown tier");
        assert!(unknown.fields().expect("validation")["tier"].contains("starter"));
    }
}
