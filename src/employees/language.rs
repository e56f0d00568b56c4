//! The language an employee works in: its replies, and how its memory's words are matched
//! (Postgres full-text search stems and drops stop words by language; `workforce_search_config`
//! in the database maps each code below to its text search configuration, and `other` to
//! `simple`, which only lower-cases words).

/// One choice: an ISO 639-1 code (or `other`) and its English name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language {
    pub code: &'static str,
    pub name: &'static str,
}

const fn lang(code: &'static str, name: &'static str) -> Language {
    Language { code, name }
}

/// Every language Postgres stems, by name, then `other` (words matched as written).
pub const LANGUAGES: &[Language] = &[
    lang("ar", "Arabic"),
    lang("hy", "Armenian"),
    lang("eu", "Basque"),
    lang("ca", "Catalan"),
    lang("da", "Danish"),
    lang("nl", "Dutch"),
    lang("en", "English"),
    lang("fi", "Finnish"),
    lang("fr", "French"),
    lang("de", "German"),
    lang("el", "Greek"),
    lang("hi", "Hindi"),
    lang("hu", "Hungarian"),
    lang("id", "Indonesian"),
    lang("ga", "Irish"),
    lang("it", "Italian"),
    lang("lt", "Lithuanian"),
    lang("ne", "Nepali"),
    lang("no", "Norwegian"),
    lang("pt", "Portuguese"),
    lang("ro", "Romanian"),
    lang("ru", "Russian"),
    lang("sr", "Serbian"),
    lang("es", "Spanish"),
    lang("sv", "Swedish"),
    lang("ta", "Tamil"),
    lang("tr", "Turkish"),
    lang("yi", "Yiddish"),
    lang("other", "Another language"),
];

pub const DEFAULT_LANGUAGE: &str = "en";

/// The language with this code.
pub fn find(code: &str) -> Option<&'static Language> {
    LANGUAGES.iter().find(|l| l.code == code)
}

/// The name of the language with this code, for people (the code itself if it is not listed).
pub fn display_name(code: &str) -> String {
    find(code).map_or_else(|| code.to_owned(), |l| l.name.to_owned())
}

/// The ISO codes accepted, for an error message.
pub fn codes() -> String {
    LANGUAGES
        .iter()
        .map(|l| l.code)
        .filter(|c| *c != "other")
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_the_default_is_listed() {
        let mut codes: Vec<&str> = LANGUAGES.iter().map(|l| l.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), LANGUAGES.len());
        assert_eq!(find(DEFAULT_LANGUAGE).map(|l| l.name), Some("English"));
        assert!(find("xx").is_none());
    }
}
