//! Validation of the parts of an employee that need more than a field check.

use super::*;
use crate::core::validate::*;

/// Custom personality traits: short keys, scalar values.
pub fn custom_traits(
    v: &mut Validator,
    field: &str,
    traits: &Map<String, Value>,
) -> Map<String, Value> {
    if traits.len() > MAX_CUSTOM_TRAITS {
        v.error(
            field,
            format!("must have at most {MAX_CUSTOM_TRAITS} traits"),
        );
        return Map::new();
    }
    let mut out = Map::new();
    for (key, value) in traits {
        let key_field = format!("{field}.{key}");
        let k = v.slug(&key_field, key);
        match value {
            Value::String(s) => {
                let s = v.text(&key_field, s, MAX_TRAIT_VALUE);
                out.insert(k, Value::String(s));
            }
            Value::Bool(_) | Value::Number(_) => {
                out.insert(k, value.clone());
            }
            _ => v.error(key_field, "must be a string, number or boolean"),
        }
    }
    out
}

/// Validates model preferences against the client's allowed models, filling defaults.
pub fn model_preferences(
    v: &mut Validator,
    input: &ModelPreferencesInput,
    base: &ModelPreferences,
    allowed: &[String],
) -> ModelPreferences {
    let f = "model_preferences";
    let primary = match &input.primary_model {
        Some(m) => v.model(&format!("{f}.primary_model"), m, allowed),
        None => base.primary_model.clone(),
    };
    let fallback_models = match &input.fallback_models {
        Some(list) if list.len() > MAX_FALLBACK_MODELS => {
            v.error(
                format!("{f}.fallback_models"),
                format!("must have at most {MAX_FALLBACK_MODELS} models"),
            );
            Vec::new()
        }
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let m = v.model(&format!("{f}.fallback_models[{i}]"), m, allowed);
                if m != primary && !out.contains(&m) {
                    out.push(m);
                }
            }
            out
        }
        None => base
            .fallback_models
            .iter()
            .filter(|m| **m != primary)
            .cloned()
            .collect(),
    };
    let temperature = input.temperature.unwrap_or(base.temperature);
    if !(0.0..=2.0).contains(&temperature) || temperature.is_nan() {
        v.error(format!("{f}.temperature"), "must be between 0.0 and 2.0");
    }
    let max_tokens = input.max_tokens.unwrap_or(base.max_tokens);
    if max_tokens == 0 || max_tokens > MAX_TOKENS_LIMIT {
        v.error(
            format!("{f}.max_tokens"),
            format!("must be between 1 and {MAX_TOKENS_LIMIT}"),
        );
    }
    let specialized_models = match &input.specialized_models {
        Some(map) if map.len() > MAX_SPECIALIZED_MODELS => {
            v.error(
                format!("{f}.specialized_models"),
                format!("must have at most {MAX_SPECIALIZED_MODELS} entries"),
            );
            BTreeMap::new()
        }
        Some(map) => map
            .iter()
            .map(|(task, model)| {
                let field = format!("{f}.specialized_models.{task}");
                let task = v.slug(&field, task);
                let model = v.model(&field, model, allowed);
                (task, model)
            })
            .collect(),
        None => base.specialized_models.clone(),
    };
    ModelPreferences {
        primary_model: primary,
        fallback_models,
        temperature,
        max_tokens,
        specialized_models,
    }
}
