//! Helpers for server functions that take form fields.

use super::AppError;

/// Splits a comma- or newline-separated form field into trimmed, non-empty items.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A trimmed form field, or `None` when blank.
pub fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// A number field of a form; an unparsable value is a validation error on that field.
pub fn form_number(field: &str, s: &str) -> Result<Option<f64>, AppError> {
    match s.trim() {
        "" => Ok(None),
        v => v
            .parse::<f64>()
            .map(Some)
            .map_err(|_| AppError::field(field, "must be a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_fields_split_on_commas_and_lines() {
        assert_eq!(split_list(" a, b ,,\nc\n"), vec!["a", "b", "c"]);
        assert!(split_list("  ").is_empty());
        assert_eq!(form_number("x", " 0.5 "), Ok(Some(0.5)));
        assert!(form_number("x", "lots").is_err());
    }
}
