//! Outbound HTTP to addresses a client chooses (its HTTP tools, its MCP servers), kept off the
//! platform's own network: only http(s), no credentials in the URL, and no loopback, private,
//! link-local, shared, multicast or cloud-metadata address — checked on the URL's literal
//! address, on every address a host name resolves to (the connection uses only those, so a name
//! cannot be re-pointed between the check and the connect), and again on every redirect. The
//! operator can open a host name, an address range or one address and port (`[outbound] allow`
//! in Leptos.toml, checked when the settings load). Bodies are read up to a cap, within a time
//! limit.
//!
//! HTTP tools and MCP servers (#13) call out through `Outbound` only.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{redirect, Url};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The most redirects a request follows.
const MAX_REDIRECTS: usize = 5;

/// Why a request was not sent (or not followed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("only http and https URLs can be called, not {0}")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("credentials in the URL are not allowed; put them in a secret header")]
    Credentials,
    #[error("{host} is a private or reserved address ({ip}), which tools cannot reach")]
    Address { host: String, ip: IpAddr },
    #[error("{0} did not resolve to any address")]
    Unresolved(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    Redirects,
}

/// What the operator opened, and names pinned to addresses.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Host names reachable whatever they resolve to.
    names: Vec<String>,
    /// Address ranges reachable even where private.
    nets: Vec<IpNet>,
    /// Single address-and-port pairs reachable by URL (a test's own stub server).
    sockets: Vec<SocketAddr>,
    /// Names resolved from this table instead of DNS.
    pinned: HashMap<String, Vec<IpAddr>>,
}

impl Policy {
    /// From `[outbound] allow` entries: a host name (`api.internal.example`), an address or a
    /// range (`10.20.0.0/16`, `fd00::1`), or one address and port (`127.0.0.1:8080`,
    /// `[::1]:8080`).
    pub fn from_allow(entries: &[String]) -> Result<Self, String> {
        let mut p = Policy::default();
        for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if let Ok(net) = e.parse::<IpNet>() {
                p.nets.push(net);
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                p.nets.push(IpNet::from(ip));
            } else if let Ok(socket) = e.parse::<SocketAddr>() {
                p.sockets.push(socket);
            } else if e
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                p.names.push(e.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "outbound.allow: {e:?} is not a host name, an address, a range or an \
                     address:port"
                ));
            }
        }
        Ok(p)
    }

    /// Resolves `name` to `addresses` instead of asking DNS.
    pub fn pin(&mut self, name: &str, addresses: Vec<IpAddr>) {
        self.pinned.insert(name.to_ascii_lowercase(), addresses);
    }

    fn opens_name(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    fn opens_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether a URL may be requested: scheme, credentials, and a literal address's range.
    /// (A host name's addresses are checked when it is resolved.)
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme(url.scheme().to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refused::Credentials);
        }
        let host = url.host_str().ok_or(Refused::NoHost)?;
        // The URL parser has already normalised other spellings of an address (`0x7f.1`).
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return Ok(()); // a name: its addresses are checked when it is resolved
        };
        let port = url.port_or_known_default().unwrap_or(0);
        if self.opens_ip(ip) || self.sockets.contains(&SocketAddr::new(ip, port)) {
            return Ok(());
        }
        if is_internal(ip) {
            return Err(Refused::Address {
                host: url.host_str().unwrap_or_default().to_owned(),
                ip,
            });
        }
        Ok(())
    }

    /// `name`'s addresses, all of them allowed, or why not.
    async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, Refused> {
        let ips: Vec<IpAddr> = match self.pinned.get(&name.to_ascii_lowercase()) {
            Some(ips) => ips.clone(),
            None => tokio::net::lookup_host((name, 0))
                .await
                .map_err(|_| Refused::Unresolved(name.to_owned()))?
                .map(|a| a.ip())
                .collect(),
        };
        if ips.is_empty() {
            return Err(Refused::Unresolved(name.to_owned()));
        }
        if !self.opens_name(name) {
            // One internal address refuses the name: a name that answers with both could be
            // connected to either.
            if let Some(ip) = ips
                .iter()
                .find(|ip| is_internal(**ip) && !self.opens_ip(**ip))
            {
                return Err(Refused::Address {
                    host: name.to_owned(),
                    ip: *ip,
                });
            }
        }
        Ok(ips)
    }
}

/// Addresses outside the public internet: this host, private and shared networks, link-local
/// (cloud metadata lives at 169.254.169.254 and fd00:ec2::254), multicast, reserved and
/// documentation ranges, and IPv6 forms that embed such an IPv4 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return internal_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT), 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking, 198.18.0.0/15
        || a >= 240 // reserved
}

struct GuardedResolver(Arc<Policy>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let ips = policy.resolve(name.as_str()).await?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A response read up to the cap.
#[derive(Debug)]
pub struct Capped {
    pub status: reqwest::StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// Whether the body went on past the cap (and was cut there).
    pub truncated: bool,
}

/// What went wrong with an outbound request.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the request failed: {0}")]
    Failed(String),
}

/// An HTTP client that keeps to a `Policy`.
#[derive(Clone)]
pub struct Outbound {
    policy: Arc<Policy>,
    client: reqwest::Client,
}

impl Outbound {
    pub fn new(policy: Policy) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let for_redirects = policy.clone();
        let client = reqwest::Client::builder()
            // A proxy from the environment would make the connection, past the resolver.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver(policy.clone())))
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(Refused::Redirects);
                }
                match for_redirects.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            }))
            .build()
            .map_err(|e| format!("the outbound HTTP client: {e}"))?;
        Ok(Outbound { policy, client })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Sends `request` (built with `self.request`) and reads at most `max_bytes` of the answer,
    /// all within `timeout`.
    pub async fn send(
        &self,
        request: reqwest::Request,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Capped, OutboundError> {
        self.policy.check_url(request.url())?;
        let run = async {
            let mut response = self.client.execute(request).await.map_err(failure)?;
            let status = response.status();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = response.chunk().await.map_err(failure)? {
                let room = max_bytes - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Capped {
                status,
                content_type,
                body,
                truncated,
            })
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| OutboundError::Timeout(timeout))?
    }

    /// Whether `url` may be requested, its host name resolved as the connection would resolve
    /// it: a refusal in words before a protocol client (MCP) wraps it in its own errors. The
    /// connection still resolves through the guard, so a name re-pointed in between is refused
    /// there.
    pub async fn check_reachable(&self, url: &Url) -> Result<(), Refused> {
        self.policy.check_url(url)?;
        match url.host_str() {
            Some(host) if host.trim_matches(['[', ']']).parse::<IpAddr>().is_err() => {
                self.policy.resolve(host).await.map(|_| ())
            }
            _ => Ok(()), // a literal address: check_url has judged it
        }
    }

    /// The guarded client itself, for a protocol client that sends its own requests (MCP):
    /// its resolver refuses internal addresses and its redirect policy checks every hop; the
    /// caller checks the first URL with `policy().check_url` (a literal address is not
    /// resolved).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request builder on the guarded client.
    pub fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }
}

/// A refusal from the resolver or the redirect policy, found in reqwest's error chain; any
/// other failure as text.
fn failure(e: reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return OutboundError::Refused(refused.clone());
        }
        source = s.source();
    }
    OutboundError::Failed(e.without_url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(
                is_internal(ip.parse().expect("an address")),
                "{ip} counts as internal"
            );
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1"] {
            assert!(
                !is_internal(ip.parse().expect("an address")),
                "{ip} is public"
            );
        }
    }

    #[test]
    fn allow_entries_parse_or_are_named_in_the_error() {
        let p = Policy::from_allow(&[
            "10.20.0.0/16".into(),
            "fd00::1".into(),
            "127.0.0.1:8080".into(),
            "Tools.Internal.Example".into(),
        ])
        .expect("valid entries");
        assert!(p.opens_ip("10.20.3.4".parse().expect("an address")));
        assert!(!p.opens_ip("10.21.0.1".parse().expect("an address")));
        assert!(p.opens_name("tools.internal.example"));
        assert_eq!(
            p.sockets,
            vec!["127.0.0.1:8080".parse().expect("an address")]
        );
        let e = Policy::from_allow(&["http://x/".into()]).expect_err("not an entry");
        assert!(e.contains("http://x/"), "{e}");
    }

    #[test]
    fn urls_are_checked_before_anything_is_sent() {
        let p = Policy::from_allow(&["127.0.0.1:8080".into()]).expect("policy");
        let check = |u: &str| p.check_url(&Url::parse(u).expect("a URL"));
        assert_eq!(check("http://127.0.0.1:8080/x"), Ok(()));
        assert!(matches!(
            check("http://127.0.0.1:8081/x"),
            Err(Refused::Address { .. })
        ));
        assert!(matches!(
            check("http://169.254.169.254/latest/meta-data/"),
            Err(Refused::Address { .. })
        ));
        assert!(matches!(
            check("http://[::ffff:10.0.0.1]/"),
            Err(Refused::Address { .. })
        ));
        assert_eq!(
            check("ftp://example.com/"),
            Err(Refused::Scheme("ftp".into()))
        );
        assert_eq!(
            check("https://user:secret@example.com/"),
            Err(Refused::Credentials)
        );
        assert_eq!(check("https://example.com/"), Ok(()));
    }

    /// A server on loopback, opened by its address and port only, serving a page, a large page
    /// and redirects to internal addresses.
    async fn stub() -> (SocketAddr, Outbound) {
        let app = axum::Router::new()
            .route("/ok", get(|| async { "hello" }))
            .route("/big", get(|| async { "x".repeat(10_000) }))
            .route(
                "/to-private",
                get(|| async { Redirect::temporary("http://10.0.0.1/").into_response() }),
            )
            .route(
                "/to-metadata",
                get(|| async {
                    Redirect::temporary("http://169.254.169.254/latest/meta-data/").into_response()
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut policy = Policy::from_allow(&[addr.to_string()]).expect("policy");
        policy.pin(
            "internal.test",
            vec!["10.9.8.7".parse().expect("an address")],
        );
        policy.pin(
            "looks-public.test",
            vec!["127.0.0.1".parse().expect("an address")],
        );
        (addr, Outbound::new(policy).expect("client"))
    }

    async fn get_url(out: &Outbound, url: &str, cap: usize) -> Result<Capped, OutboundError> {
        let req = out
            .request(reqwest::Method::GET, Url::parse(url).expect("a URL"))
            .build()
            .expect("request");
        out.send(req, Duration::from_secs(5), cap).await
    }

    #[tokio::test]
    async fn the_allowed_server_answers_and_bodies_are_capped() {
        let (addr, out) = stub().await;
        let ok = get_url(&out, &format!("http://{addr}/ok"), 1000)
            .await
            .expect("allowed");
        assert_eq!((ok.body.as_slice(), ok.truncated), (&b"hello"[..], false));
        let big = get_url(&out, &format!("http://{addr}/big"), 1000)
            .await
            .expect("allowed");
        assert_eq!((big.body.len(), big.truncated), (1000, true));
    }

    #[tokio::test]
    async fn internal_targets_are_refused_directly_by_name_and_by_redirect() {
        let (addr, out) = stub().await;
        let refused = |r: Result<Capped, OutboundError>| match r {
            Err(OutboundError::Refused(Refused::Address { ip, .. })) => ip,
            other => panic!("expected a refusal, got {other:?}"),
        };
        // The same loopback server on another port, and by a name that resolves to loopback.
        let other_port = format!("http://127.0.0.1:{}/ok", addr.port() + 1);
        assert!(refused(get_url(&out, &other_port, 100).await).is_loopback());
        let by_name = format!("http://looks-public.test:{}/ok", addr.port());
        assert!(refused(get_url(&out, &by_name, 100).await).is_loopback());
        assert_eq!(
            refused(get_url(&out, "http://internal.test/", 100).await),
            "10.9.8.7".parse::<IpAddr>().expect("an address")
        );
        assert_eq!(
            refused(get_url(&out, "http://169.254.169.254/latest/meta-data/", 100).await),
            "169.254.169.254".parse::<IpAddr>().expect("an address")
        );
        // Redirects from the allowed server to internal addresses are not followed.
        assert_eq!(
            refused(get_url(&out, &format!("http://{addr}/to-private"), 100).await),
            "10.0.0.1".parse::<IpAddr>().expect("an address")
        );
        assert_eq!(
            refused(get_url(&out, &format!("http://{addr}/to-metadata"), 100).await),
            "169.254.169.254".parse::<IpAddr>().expect("an address")
        );
    }
}
