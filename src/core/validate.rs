//! Field-by-field validation that collects every problem before answering, so a client sees all
//! of them at once (`{"fields": {"role": "...", "personality.empathy_level": "..."}}`).

use super::error::{AppError, FieldErrors};

pub const MAX_NAME: usize = 120;
pub const MAX_SHORT_TEXT: usize = 100;
pub const MAX_LIST_ITEM: usize = 200;
pub const MAX_EXPERTISE_AREAS: usize = 20;
pub const MAX_TOOLS: usize = 32;
pub const MAX_KNOWLEDGE_SOURCES: usize = 50;
pub const MAX_CUSTOM_TRAITS: usize = 20;
pub const MAX_TRAIT_VALUE: usize = 200;
pub const MAX_FALLBACK_MODELS: usize = 5;
pub const MAX_SPECIALIZED_MODELS: usize = 20;
pub const MAX_COMPLIANCE: usize = 20;
pub const MAX_TOKENS_LIMIT: u32 = 32_000;
pub const MAX_EMPLOYEES_LIMIT: u32 = 100_000;

/// An MCP server's name in a catalogue: 1–32 characters of a-z, 0-9 and '-', starting with a
/// letter (no '_', so `server__tool`, the name the model sees, splits one way only).
pub fn valid_mcp_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A tool name as an MCP server lists it: 1–64 characters of letters, digits, '_', '-' and '.'
/// (the MCP specification's set; longer names are not offered).
pub fn valid_mcp_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

#[derive(Debug, Default)]
pub struct Validator {
    fields: FieldErrors,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.fields
            .entry(field.into())
            .or_insert_with(|| message.into());
    }

    pub fn is_ok(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn finish<T>(self, value: T) -> Result<T, AppError> {
        if self.fields.is_empty() {
            return Ok(value);
        }
        let message = if self.fields.len() == 1 {
            self.fields
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<String>()
        } else {
            format!("{} fields are invalid", self.fields.len())
        };
        Err(AppError::Validation {
            message,
            fields: self.fields,
        })
    }

    /// Required text: trimmed, non-empty, at most `max` characters, no control characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.error(field, "is required");
        } else if v.chars().count() > max {
            self.error(field, format!("must be at most {max} characters"));
        } else if v.chars().any(|c| c.is_control()) {
            self.error(field, "must not contain control characters");
        }
        v.to_owned()
    }

    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        match value.map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(self.text(field, v, max)),
        }
    }

    /// A list of free-text items: each trimmed and non-empty, duplicates (ignoring case) dropped.
    pub fn text_list(
        &mut self,
        field: &str,
        items: &[String],
        max_items: usize,
        max_len: usize,
    ) -> Vec<String> {
        if items.len() > max_items {
            self.error(field, format!("must have at most {max_items} items"));
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let v = self.text(&format!("{field}[{i}]"), item, max_len);
            if !v.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&v)) {
                out.push(v);
            }
        }
        out
    }

    /// A list of identifiers (`[a-z0-9][a-z0-9_.-]*`, lower-cased), duplicates dropped.
    pub fn slug_list(&mut self, field: &str, items: &[String], max_items: usize) -> Vec<String> {
        if items.len() > max_items {
            self.error(field, format!("must have at most {max_items} items"));
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let v = self.slug(&format!("{field}[{i}]"), item);
            if !v.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }

    /// A list of tool names for `tool_access`: each a catalogue name (`current_time`,
    /// `order_status`, lower-cased) or an MCP server's tool (`server/toolName`: the server's
    /// name lower-cased, the tool's kept as the server spells it). Repeats are dropped.
    pub fn tool_list(&mut self, field: &str, items: &[String], max_items: usize) -> Vec<String> {
        if items.len() > max_items {
            self.error(field, format!("must have at most {max_items} items"));
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let v = match item.trim().split_once('/') {
                None => self.slug(&at, item),
                Some((server, tool)) => {
                    let server = server.trim().to_ascii_lowercase();
                    let tool = tool.trim();
                    if !valid_mcp_server_name(&server) || !valid_mcp_tool_name(tool) {
                        self.error(
                            &at,
                            "an MCP tool is named server/tool: the server's name (a-z, 0-9, '-') \
                             and the tool's name as the server lists it",
                        );
                    }
                    format!("{server}/{tool}")
                }
            };
            if !v.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }

    pub fn slug(&mut self, field: &str, value: &str) -> String {
        let v = value.trim().to_ascii_lowercase();
        if !is_slug(&v) {
            self.error(field, "must be 1–64 characters of a-z, 0-9, '_', '.' or '-', starting with a letter or digit");
        }
        v
    }

    pub fn unit_interval(&mut self, field: &str, value: f64) -> f64 {
        if !(0.0..=1.0).contains(&value) || value.is_nan() {
            self.error(field, "must be between 0.0 and 1.0");
        }
        value
    }

    /// A model name that must be one the client may use.
    pub fn model(&mut self, field: &str, value: &str, allowed: &[String]) -> String {
        let v = value.trim().to_owned();
        if v.is_empty() {
            self.error(field, "is required");
        } else if !allowed.iter().any(|m| m == &v) {
            self.error(
                field,
                format!(
                    "model '{v}' is not allowed for this client (allowed: {})",
                    allowed.join(", ")
                ),
            );
        }
        v
    }
}

/// Parses a string enum field, recording an error naming the accepted values.
pub fn parse_enum<T: Copy>(
    v: &mut Validator,
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
    fallback: T,
) -> T {
    match parse(value.trim()) {
        Some(t) => t,
        None => {
            v.error(field, format!("must be one of: {}", expected()));
            fallback
        }
    }
}

/// The path (`a.b[2]`) of the first string or key in `value` that holds a NUL character, which
/// no text column can store; `body` when it is `value` itself. Nothing is allocated unless one
/// is found.
pub fn nul_path(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => nul_path_in(map),
        other => nul_suffix(other).map(|rest| format!("body{rest}")),
    }
}

/// `nul_path` for the fields of an object.
pub fn nul_path_in(map: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    map.iter().find_map(|(k, v)| {
        if k.contains('\0') {
            Some(k.clone())
        } else {
            nul_suffix(v).map(|rest| format!("{k}{rest}"))
        }
    })
}

/// The path below `value` (``, `[2]`, `.a`) to its first NUL, built on the way back.
fn nul_suffix(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0').then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_suffix(v).map(|rest| format!("[{i}]{rest}"))),
        Value::Object(map) => nul_path_in(map).map(|p| format!(".{p}")),
        _ => None,
    }
}

/// Whether `v` is a slug as names are written (collections, tools): 1–64 of a-z, 0-9, '_', '.'
/// or '-', starting with a letter or digit.
pub fn is_slug(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}

#[cfg(test)]
mod nul_tests {
    use super::nul_path;
    use serde_json::json;

    #[test]
    fn the_path_to_the_first_nul_is_named() {
        assert_eq!(
            nul_path(&json!({"a": [1, {"b": "x\u{0}"}]})).as_deref(),
            Some("a[1].b")
        );
        assert_eq!(nul_path(&json!({"k\u{0}": 1})).as_deref(), Some("k\u{0}"));
        assert_eq!(
            nul_path(&json!(["ok", "\u{0}"])).as_deref(),
            Some("body[1]")
        );
        assert_eq!(nul_path(&json!({"a": ["fine"], "b": {"c": 2}})), None);
    }
}
