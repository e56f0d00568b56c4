//! Typed identifiers. They keep the seed's readable prefixes (`client_…`, `{client_id}_emp_…`)
//! with 96 random bits each, so collisions stay negligible at millions of rows.

use serde::{Deserialize, Serialize};
use std::fmt;

const RANDOM_HEX: usize = 24;

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("client_")?;
        is_lower_hex(rest, RANDOM_HEX).then(|| ClientId(s.to_owned()))
    }

    #[cfg(feature = "ssr")]
    pub fn generate() -> Self {
        ClientId(format!("client_{}", random_hex()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmployeeId(String);

impl EmployeeId {
    pub fn parse(s: &str) -> Option<Self> {
        let (client, random) = s.rsplit_once("_emp_")?;
        ClientId::parse(client)?;
        is_lower_hex(random, RANDOM_HEX).then(|| EmployeeId(s.to_owned()))
    }

    #[cfg(feature = "ssr")]
    pub fn generate(client: &ClientId) -> Self {
        EmployeeId(format!("{}_emp_{}", client.as_str(), random_hex()))
    }

    /// The client this id was issued under (the id embeds it).
    pub fn client_id(&self) -> ClientId {
        let (client, _) = self.0.rsplit_once("_emp_").unwrap_or((&self.0, ""));
        ClientId(client.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The public half of a client API key (`wfk_<key id>_<secret>`): 16 lowercase hex digits.
/// It names the key in the audit trail; it is not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Option<Self> {
        is_lower_hex(s, 16).then(|| KeyId(s.to_owned()))
    }

    #[cfg(feature = "ssr")]
    pub fn generate() -> Self {
        KeyId(hex::encode(rand::random::<[u8; 8]>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's account: `usr_` and 24 lowercase hex digits. Not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("usr_")?;
        is_lower_hex(rest, RANDOM_HEX).then(|| UserId(s.to_owned()))
    }

    #[cfg(feature = "ssr")]
    pub fn generate() -> Self {
        UserId(format!("usr_{}", random_hex()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One stored exchange (a turn). New ones are UUIDs; an id read back from the store is taken
/// as it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(feature = "ssr", sqlx(transparent))]
pub struct InteractionId(String);

impl InteractionId {
    #[cfg(feature = "ssr")]
    pub fn generate() -> Self {
        InteractionId(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for InteractionId {
    fn from(stored: String) -> Self {
        InteractionId(stored)
    }
}

impl fmt::Display for InteractionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "ssr")]
fn random_hex() -> String {
    let bytes: [u8; RANDOM_HEX / 2] = rand::random();
    hex::encode(bytes)
}

macro_rules! string_conversions {
    ($t:ident, $what:literal) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $t::parse(&value).ok_or_else(|| format!("not a valid {} id", $what))
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_conversions!(ClientId, "client");
string_conversions!(EmployeeId, "employee");
string_conversions!(KeyId, "API key");
string_conversions!(UserId, "user");

/// In the OpenAPI document each id is a string of its documented shape.
#[cfg(feature = "ssr")]
macro_rules! id_schema {
    ($($t:ident => $pattern:literal, $example:literal;)+) => {$(
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let pattern: &str = $pattern;
                let mut schema = utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .examples([serde_json::json!($example)]);
                if !pattern.is_empty() {
                    schema = schema.pattern(Some(pattern));
                }
                schema.into()
            }
        }
        impl utoipa::ToSchema for $t {}
    )+};
}
#[cfg(feature = "ssr")]
id_schema! {
    ClientId => "^client_[0-9a-f]{24}$", "client_0123456789abcdef01234567";
    EmployeeId => "^client_[0-9a-f]{24}_emp_[0-9a-f]{24}$",
        "client_0123456789abcdef01234567_emp_89abcdef0123456789abcdef";
    KeyId => "^[0-9a-f]{16}$", "0123456789abcdef";
    UserId => "^usr_[0-9a-f]{24}$", "usr_0123456789abcdef01234567";
    InteractionId => "", "6f1c2b9e-3a57-4d0e-9a51-2f4a7c1e8b33";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_well_formed_ids() {
        let c = "client_0123456789abcdef01234567";
        assert!(ClientId::parse(c).is_some());
        assert!(ClientId::parse("client_0123").is_none());
        assert!(ClientId::parse("client_0123456789ABCDEF01234567").is_none());
        assert!(ClientId::parse("tenant_0123456789abcdef01234567").is_none());
        let e = format!("{c}_emp_abcdefabcdefabcdefabcdef");
        let id = EmployeeId::parse(&e).expect("valid employee id");
        assert_eq!(id.client_id().as_str(), c);
        assert!(EmployeeId::parse("client_x_emp_abcdefabcdefabcdefabcdef").is_none());
        assert!(EmployeeId::parse(&format!("{c}_emp_../../etc")).is_none());
        assert!(KeyId::parse("0123456789abcdef").is_some());
        assert!(KeyId::parse("0123456789abcde").is_none());
        assert!(KeyId::parse("0123456789ABCDEF").is_none());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn generated_ids_parse_and_differ() {
        let a = ClientId::generate();
        let b = ClientId::generate();
        assert_ne!(a, b);
        assert_eq!(ClientId::parse(a.as_str()), Some(a.clone()));
        let e = EmployeeId::generate(&a);
        assert_eq!(
            EmployeeId::parse(e.as_str()).map(|e| e.client_id()),
            Some(a)
        );
    }
}
