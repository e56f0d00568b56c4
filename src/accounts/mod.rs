//! Accounts: who is calling. Today an operator (the admin token) or a client through one of its
//! API keys (`wfk_<key id>_<secret>`); the browser holds either in an HttpOnly cookie set by a
//! sign-in form. Shared types here; sign-in server functions and page in `fns` and `pages`; key
//! handling and the principal resolved once per request in `server`.

pub mod fns;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

use crate::audit::Actor;
use crate::clients::Client;
use crate::core::{ClientId, KeyId};
use serde::{Deserialize, Serialize};

pub const OPERATOR_COOKIE: &str = "wf_operator";
pub const CLIENT_COOKIE: &str = "wf_client_key";

/// Who is acting for a client: the client, the key it used (its public id) and the client's
/// tier (whose limits apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPrincipal {
    pub client_id: ClientId,
    pub key_id: KeyId,
    pub tier: String,
}

impl ClientPrincipal {
    /// How the audit trail names this actor.
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.key_id.clone())
    }
}

/// What the browser is signed in as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub operator: bool,
    pub client: Option<Client>,
}
