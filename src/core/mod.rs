//! What every feature stands on, compiled for the server and the browser: the wire error, typed
//! ids, the field validator, form helpers, the `string_enum!` macro and the records of a tool call
//! (`tool_calls`) and of a cited passage (`sources`), which several features carry. No I/O.

pub mod error;
pub mod forms;
pub mod ids;
pub mod sources;
pub mod tool_calls;
pub mod validate;

pub use error::{AppError, FieldErrors};
pub use ids::{ClientId, EmployeeId, InteractionId, KeyId, UserId};
pub use validate::{nul_path, nul_path_in};

/// An enum that travels as a lowercase string (JSON, SQL, forms), with `parse`, `as_str`,
/// `ALL` and `expected()` for error messages.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                [$($s),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;
