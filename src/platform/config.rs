//! Typed settings: `Leptos.toml`, then `WORKFORCE__…` environment overrides, then the secrets
//! that only ever come from the environment.

use crate::ai::{ProviderConfig, ProviderKind};
use crate::clients::TierInfo;
use anyhow::{bail, Context};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
pub struct Limits {
    pub request_body_bytes: usize,
    pub api_key_cache_seconds: u64,
    pub db_max_connections: u32,
    pub model_timeout_seconds: u64,
    pub model_first_token_seconds: u64,
    pub model_idle_seconds: u64,
    pub recent_turns: u32,
    pub employee_cache_entries: usize,
    pub employee_cache_seconds: u64,
    /// Wrong credentials one IP address may send at once, then a minute.
    pub auth_failure_burst: u32,
    pub auth_failures_per_minute: f64,
    /// Failed sign-ins one account may take at once, then a minute.
    pub sign_in_failure_burst: u32,
    pub sign_in_failures_per_minute: f64,
    /// Prefix of this deployment's rate-limit buckets in Redis, for deployments sharing one.
    #[serde(default)]
    pub rate_limit_namespace: String,
    /// The most model calls in one turn that may ask for tools; the next one must answer.
    #[serde(default = "default_max_tool_rounds")]
    pub max_tool_rounds: u32,
    /// The time one turn's tool calls may take, all together.
    #[serde(default = "default_tool_budget_seconds")]
    pub tool_budget_seconds: u64,
}

fn default_max_tool_rounds() -> u32 {
    5
}

fn default_tool_budget_seconds() -> u64 {
    60
}

/// People's sessions and invites.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Accounts {
    /// A session unused this long ends.
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute_hours: u64,
    /// How long an instance trusts a session it resolved (Redis); a sign-out, a removal or a
    /// suspension deletes the entry at once.
    pub session_cache_seconds: u64,
    /// How long an invite link stays valid.
    pub invite_hours: u64,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts {
            session_idle_minutes: 8 * 60,
            session_absolute_hours: 7 * 24,
            session_cache_seconds: 30,
            invite_hours: 72,
        }
    }
}

/// How the HTTP server guards its connections: slow or half-sent requests and floods of
/// connections must not starve everyone else.
#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one IP address may hold at once; more are closed at once.
    pub max_connections_per_ip: usize,
    /// How long a client may take to send a request's headers.
    pub header_read_seconds: u64,
    /// How long a client may take to send a request's body.
    pub body_read_seconds: u64,
    /// How long a request may take until its response starts (a stream then runs on under the
    /// model time limits).
    pub request_seconds: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client (their own addresses). From any
    /// other peer the header is ignored, so nobody can pick the address they are throttled as.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Models {
    pub default: String,
    /// Preferred over `default` when the provider offering it has its key.
    #[serde(default)]
    pub default_with_provider: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub base_url_env: Option<String>,
    #[serde(default)]
    pub api_key_env: Option<String>,
    pub models: Vec<String>,
    #[serde(default)]
    pub embedding_models: Vec<String>,
    #[serde(default)]
    pub first_token_seconds: Option<u64>,
    /// What each model costs, for cost budgets (a model without a price costs nothing).
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
}

/// A model's price in US dollars per million tokens: of the prompt, and of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Tier {
    pub max_employees: u32,
    pub allowed_models: Vec<String>,
    /// Requests a second a client may make (all its keys together), and the burst above that.
    pub requests_per_second: f64,
    pub burst: u32,
    /// Requests a second one API key may make, and its burst.
    pub key_requests_per_second: f64,
    pub key_burst: u32,
    /// Tokens (prompt and answer) the client's turns may spend in a calendar month (UTC); 0 for
    /// no limit.
    pub monthly_tokens: u64,
    /// Turns one client may have in flight at once on one instance (0 for no cap); past it, 429.
    #[serde(default)]
    pub max_concurrent_turns: u32,
    /// What the client's turns may cost in a calendar month (UTC), in US dollars at the
    /// providers' prices; 0 for no limit.
    #[serde(default)]
    pub monthly_cost_usd: f64,
    /// The longest message a turn accepts, in characters (at most the platform's 16,000).
    #[serde(default = "max_message_chars")]
    pub max_message_chars: u32,
    /// How much recalled memory (message and answer, estimated at four characters a token) a
    /// turn's prompt may carry.
    #[serde(default = "recall_tokens")]
    pub recall_tokens: u32,
    /// Knowledge documents the client may hold (all its collections together).
    #[serde(default = "max_documents")]
    pub max_documents: u32,
    /// The largest document it may upload, in bytes.
    #[serde(default = "max_document_bytes")]
    pub max_document_bytes: u32,
}

fn recall_tokens() -> u32 {
    1000
}

fn max_documents() -> u32 {
    100
}

fn max_document_bytes() -> u32 {
    5 * 1024 * 1024
}

fn max_message_chars() -> u32 {
    crate::conversations::MAX_MESSAGE_CHARS as u32
}

/// The in-process models.
#[derive(Debug, Clone, Deserialize)]
pub struct Local {
    pub models_dir: std::path::PathBuf,
    pub chat_workers: usize,
    pub chat_queue: usize,
    /// Threads that embed what someone waits on (a turn's unit, a search).
    pub embed_workers: usize,
    /// Threads that embed in the background (imports, a model switch), at the lowest CPU priority.
    #[serde(default = "index_workers")]
    pub index_workers: usize,
    /// How low: "idle" (only CPU nothing else wants; the default) or "low" (nice 19).
    #[serde(default)]
    pub index_priority: IndexPriority,
    pub embed_queue: usize,
    /// The embedding models' matmuls: "int8" (8-bit where the CPU has AVX-512 VNNI, f32
    /// elsewhere; the default) or "f32" (always the checkpoint's own arithmetic).
    #[serde(default)]
    pub embed_precision: EmbedPrecision,
}

/// `local.embed_precision`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedPrecision {
    #[default]
    Int8,
    F32,
}

/// The CPU priority of background embedding (`local.index_priority`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexPriority {
    #[default]
    Idle,
    Low,
}

fn index_workers() -> usize {
    2
}

#[derive(Debug, Clone, Deserialize)]
pub struct Memory {
    /// `multilingual-e5-small` or `all-minilm-l6-v2` (in-process), a provider's embedding model,
    /// or "" for none.
    pub embedding_model: String,
    /// Candidates each signal (meaning, keywords) brings to the fusion.
    pub recall_candidates: u32,
    /// Reciprocal rank fusion: an exchange scores `weight / (rrf_k + rank)` per signal.
    pub rrf_k: f64,
    pub dense_weight: f64,
    pub keyword_weight: f64,
    /// A turn recalls only exchanges whose fused score is at least this fraction of the best.
    pub relative_cutoff: f64,
    /// How long a turn waits for its message's vector before it goes on without recall.
    pub recall_timeout_ms: u64,
    /// How often the sweeper looks for exchanges the indexer dropped or failed on.
    pub sweep_seconds: u64,
    /// How often exchanges past their client's `retention_days` are purged.
    pub retention_sweep_seconds: u64,
}

/// Knowledge retrieval into turns (`knowledge`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knowledge {
    /// The most passages of an employee's knowledge sources a turn's prompt carries (0: none;
    /// the employee can still search with the `knowledge_search` tool).
    #[serde(default = "passages_per_turn")]
    pub passages_per_turn: u32,
    /// The longest a turn's search of its knowledge may take in Postgres (its statement
    /// timeout); past it the turn answers without passages (logged).
    #[serde(default = "knowledge_search_timeout_ms")]
    pub search_timeout_ms: u64,
}

fn passages_per_turn() -> u32 {
    4
}

fn knowledge_search_timeout_ms() -> u64 {
    500
}

impl Default for Knowledge {
    fn default() -> Self {
        Knowledge {
            passages_per_turn: passages_per_turn(),
            search_timeout_ms: knowledge_search_timeout_ms(),
        }
    }
}

/// Outbound HTTP to clients' tools (`platform::outbound`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    /// What tools may reach although it is internal: host names, addresses or ranges
    /// (`10.20.0.0/16`), or one address and port (`127.0.0.1:8080`).
    #[serde(default)]
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileSettings {
    pub limits: Limits,
    #[serde(default)]
    pub accounts: Accounts,
    pub server: Server,
    pub models: Models,
    pub local: Local,
    pub memory: Memory,
    #[serde(default)]
    pub knowledge: Knowledge,
    #[serde(default)]
    pub outbound: Outbound,
    pub providers: Vec<Provider>,
    pub tiers: BTreeMap<String, Tier>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub file: FileSettings,
    /// Owner connection: migrations and role set-up.
    pub database_url: SecretString,
    /// Runtime connection as `workforce_app`; derived from `database_url` when unset.
    pub app_database_url: Option<SecretString>,
    pub app_database_password: Option<SecretString>,
    pub redis_url: SecretString,
    pub admin_token: Option<SecretString>,
    /// The server's own secret (`WORKFORCE_SECRET_KEY`): keys the API-key digests and the tags
    /// that let the server trust what it reads back from Redis.
    pub secret_key: SecretString,
    /// The providers with their base URL and key resolved from the environment at load time.
    pub providers: Vec<ProviderConfig>,
}

impl Settings {
    /// `model`'s price, from the provider that offers it.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.file
            .providers
            .iter()
            .find_map(|p| p.prices.get(model).copied())
    }

    /// Reads `WORKFORCE_CONFIG` (default `Leptos.toml`) and the environment.
    pub fn load() -> anyhow::Result<Self> {
        let path = std::env::var("WORKFORCE_CONFIG").unwrap_or_else(|_| "Leptos.toml".to_owned());
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let file = parse_with_overrides(&text, std::env::vars())?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Ok(Settings {
            providers: resolve_providers(&file),
            file,
            database_url: env("DATABASE_URL")
                .context("DATABASE_URL must be set")?
                .into(),
            app_database_url: env("WORKFORCE_APP_DATABASE_URL").map(Into::into),
            app_database_password: env("WORKFORCE_APP_DB_PASSWORD").map(Into::into),
            redis_url: env("REDIS_URL")
                .unwrap_or_else(|| "redis://127.0.0.1:6379".into())
                .into(),
            admin_token: env("WORKFORCE_ADMIN_TOKEN").map(Into::into),
            secret_key: env("WORKFORCE_SECRET_KEY")
                .filter(|k| k.trim().len() >= 32)
                .context(
                    "WORKFORCE_SECRET_KEY must be set to at least 32 random characters \
                     (`make run` keeps one in .data/env)",
                )?
                .into(),
        })
    }

    /// The model a new employee gets when its requirements name none (and the client may use
    /// it): `models.default_with_provider` when the provider offering it is configured, else
    /// `models.default` — the local model, which needs no key.
    pub fn default_model(&self) -> &str {
        self.file
            .models
            .default_with_provider
            .as_deref()
            .filter(|m| {
                self.providers
                    .iter()
                    .any(|p| p.api_key.is_some() && p.models.iter().any(|x| x == m))
            })
            .unwrap_or(&self.file.models.default)
    }

    pub fn tier(&self, name: &str) -> Option<TierInfo> {
        let name = name.trim().to_ascii_lowercase();
        self.file.tiers.get(&name).map(|t| TierInfo {
            name: name.clone(),
            max_employees: t.max_employees,
            allowed_models: t.allowed_models.clone(),
        })
    }

    pub fn tiers(&self) -> Vec<TierInfo> {
        self.file
            .tiers
            .keys()
            .filter_map(|k| self.tier(k))
            .collect()
    }

    /// Providers with their base URL and key resolved from the environment.
    pub fn provider_configs(&self) -> Vec<ProviderConfig> {
        self.providers.clone()
    }

    pub fn tier_names(&self) -> Vec<String> {
        self.file.tiers.keys().cloned().collect()
    }
}

/// Each provider of the file with its base URL and key read from the environment.
pub fn resolve_providers(file: &FileSettings) -> Vec<ProviderConfig> {
    let env = |k: &Option<String>| {
        k.as_ref()
            .and_then(|k| std::env::var(k).ok())
            .filter(|v| !v.trim().is_empty())
    };
    file.providers
        .iter()
        .map(|p| ProviderConfig {
            name: p.name.clone(),
            kind: p.kind,
            base_url: env(&p.base_url_env)
                .or_else(|| p.base_url.clone())
                .unwrap_or_default(),
            api_key: env(&p.api_key_env).map(Into::into),
            api_key_env: p.api_key_env.clone(),
            models: p.models.clone(),
            embedding_models: p.embedding_models.clone(),
            first_token_seconds: p.first_token_seconds,
        })
        .collect()
}

pub use crate::ai::inference::default_models_dir;

/// Parses the settings file and applies `WORKFORCE__A__B=value` overrides to `a.b`.
pub fn parse_with_overrides(
    text: &str,
    vars: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<FileSettings> {
    let mut root: toml::Table = text.parse().context("Leptos.toml is not valid TOML")?;
    for (key, value) in vars {
        let Some(path) = key.strip_prefix("WORKFORCE__") else {
            continue;
        };
        let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if parts.iter().any(String::is_empty) {
            bail!("malformed override variable {key}");
        }
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(toml::Value::String(value));
        let mut table = &mut root;
        for part in &parts[..parts.len() - 1] {
            let entry = table
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            table = entry
                .as_table_mut()
                .with_context(|| format!("{key}: '{part}' is not a section"))?;
        }
        if let Some(last) = parts.last() {
            table.insert(last.clone(), parsed);
        }
    }
    let settings: FileSettings = toml::Value::Table(root)
        .try_into()
        .context("invalid settings")?;
    let catalogue: Vec<&String> = settings.providers.iter().flat_map(|p| &p.models).collect();
    for (name, tier) in &settings.tiers {
        if tier.allowed_models.is_empty() {
            bail!("tier {name} allows no model");
        }
        for m in &tier.allowed_models {
            if !catalogue.contains(&m) {
                bail!("tier {name} allows model {m}, which no provider offers");
            }
        }
    }
    super::outbound::Policy::from_allow(&settings.outbound.allow).map_err(anyhow::Error::msg)?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("../../Leptos.toml");

    #[test]
    fn the_shipped_file_parses_and_overrides_apply() {
        let s = parse_with_overrides(FILE, []).expect("shipped Leptos.toml is valid");
        assert!(s.tiers.contains_key("starter"));
        let vars = [
            (
                "WORKFORCE__TIERS__STARTER__MAX_EMPLOYEES".to_string(),
                "7".to_string(),
            ),
            (
                "WORKFORCE__MODELS__DEFAULT".to_string(),
                "gpt-4o".to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let s = parse_with_overrides(FILE, vars).expect("overrides apply");
        assert_eq!(s.tiers["starter"].max_employees, 7);
        assert_eq!(s.models.default, "gpt-4o");
    }

    #[test]
    fn outbound_allow_entries_are_checked_when_the_settings_load() {
        let with = |entries: &str| {
            let var = (
                "WORKFORCE__OUTBOUND__ALLOW".to_string(),
                format!("[{entries}]"),
            );
            parse_with_overrides(FILE, [var])
        };
        let s = with(r#""10.20.0.0/16", "127.0.0.1:8080", "tools.internal""#).expect("valid");
        assert_eq!(s.outbound.allow.len(), 3);
        let e = with(r#""http://tools.internal/""#).expect_err("a URL is not an entry");
        assert!(format!("{e:#}").contains("http://tools.internal/"), "{e:#}");
    }

    #[test]
    fn the_default_model_is_the_local_one_until_a_provider_key_is_set() {
        let file = parse_with_overrides(FILE, []).expect("file");
        let mut s = Settings {
            providers: resolve_providers(&file),
            file,
            database_url: String::new().into(),
            app_database_url: None,
            app_database_password: None,
            redis_url: String::new().into(),
            admin_token: None,
            secret_key: "k".repeat(32).into(),
        };
        for p in &mut s.providers {
            p.api_key = None;
        }
        assert_eq!(s.default_model(), "smollm2-135m-instruct");
        for p in s.providers.iter_mut().filter(|p| p.name == "openai") {
            p.api_key = Some("sk-x".to_owned().into());
        }
        assert_eq!(s.default_model(), "gpt-4o-mini");
    }

    #[test]
    fn a_tier_naming_an_unknown_model_is_refused() {
        let vars = [(
            "WORKFORCE__TIERS__STARTER__ALLOWED_MODELS".to_string(),
            r#"["nope"]"#.to_string(),
        )];
        let err = parse_with_overrides(FILE, vars).expect_err("unknown model");
        assert!(err.to_string().contains("nope"));
    }
}
