//! Plain types and pure logic shared by the server and the browser. No I/O.

pub mod error;
pub mod generator;
pub mod ids;
pub mod model;
pub mod prompt;
pub mod validate;

pub use error::{AppError, FieldErrors};
pub use ids::{ClientId, EmployeeId};
pub use model::*;
