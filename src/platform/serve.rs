//! The accept loop. `axum::serve` has no header read timeout and no connection cap, so one
//! client sending half a request on a thousand connections could use up the process's open
//! files and take `/healthz` down with it. Here each connection is served by hyper with:
//! - a cap on connections served at once (`server.max_connections`, kept under the open-file
//!   limit): past it the listener stops accepting and new connections wait in the backlog;
//! - a cap per IP address (`server.max_connections_per_ip`): past it a new connection is closed
//!   as it arrives;
//! - a header read timeout (`server.header_read_seconds`): a connection that does not send a
//!   whole request head in time, or idles that long between requests, is closed.
//!
//! Body read and request timeouts are middleware (`startup::build_router`).
//!
//! Each request carries its client's address as `ConnectInfo`: the connection's peer, or, when
//! the peer is one of `server.trusted_proxies`, the address its `X-Forwarded-For` names.

use super::config::Server;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The client behind a request from `peer`: the peer itself, unless it is one of `proxies`;
/// then the nearest address in `X-Forwarded-For` that none of them added (reading from the
/// right, as each proxy appends the address it received from). An unreadable entry stops the
/// walk at the last address known good.
fn forwarded_client(
    proxies: &[IpAddr],
    peer: std::net::SocketAddr,
    headers: &http::HeaderMap,
) -> std::net::SocketAddr {
    let mut client = peer.ip();
    if !proxies.contains(&client) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !proxies.contains(&ip) {
            break;
        }
    }
    std::net::SocketAddr::new(client, peer.port())
}

/// File descriptors kept back from the connection cap for the pools, Redis, models and logs.
const RESERVED_FDS: u64 = 256;

/// The connection cap this process can honour: the configured one, lowered to fit the open-file
/// limit (raised to its hard limit first).
pub fn connection_cap(configured: usize) -> usize {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let fit = usize::try_from(limit.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
    if fit < configured {
        tracing::warn!(
            configured,
            open_file_limit = limit,
            "server.max_connections lowered to {fit} to fit the open-file limit"
        );
    }
    configured.min(fit)
}

/// Connections held per IP address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

struct IpSlot(Arc<PerIp>, IpAddr);

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut map = self.0.lock().ok()?;
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut map) = self.0 .0.lock() {
            if let Some(n) = map.get_mut(&self.1) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&self.1);
                }
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish (for
/// at most 10 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Server,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(connection_cap(limits.max_connections)));
    let per_ip = Arc::new(PerIp::default());
    let proxies: Arc<[IpAddr]> = limits.trusted_proxies.clone().into();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_seconds.max(1)));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: wait a little
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(ip_slot) = per_ip.take(remote.ip(), limits.max_connections_per_ip) else {
            tracing::debug!(ip = %remote.ip(), "connection refused: too many from this address");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let proxies = proxies.clone();
        let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            let client = forwarded_client(&proxies, remote, req.headers());
            req.extensions_mut().insert(ConnectInfo(client));
            router.clone().oneshot(req)
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop((permit, ip_slot));
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("shutting down with requests still open");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_its_share_and_gets_it_back_on_close() {
        let per_ip = Arc::new(PerIp::default());
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let other: IpAddr = "10.0.0.2".parse().expect("ip");
        let a = per_ip.take(ip, 2).expect("first");
        let _b = per_ip.take(ip, 2).expect("second");
        assert!(per_ip.take(ip, 2).is_none(), "a third is over the cap");
        assert!(
            per_ip.take(other, 2).is_some(),
            "another address is not affected"
        );
        drop(a);
        assert!(
            per_ip.take(ip, 2).is_some(),
            "a closed connection frees its slot"
        );
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client_and_only_the_hops_it_vouches_for() {
        let proxies: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2"]
            .iter()
            .map(|p| p.parse().expect("ip"))
            .collect();
        let client = |peer: &str, xff: &[&str]| {
            let mut h = http::HeaderMap::new();
            for v in xff {
                h.append("x-forwarded-for", v.parse().expect("header"));
            }
            forwarded_client(&proxies, peer.parse().expect("peer"), &h)
                .ip()
                .to_string()
        };
        // Not a proxy: the header is the sender's own claim, ignored.
        assert_eq!(
            client("198.51.100.9:5000", &["203.0.113.7"]),
            "198.51.100.9"
        );
        // A proxy: the address it received from.
        assert_eq!(client("10.0.0.1:5000", &["203.0.113.7"]), "203.0.113.7");
        // What the client wrote itself (left of what the proxies added) is not believed.
        assert_eq!(
            client("10.0.0.1:5000", &["1.2.3.4, 203.0.113.7, 10.0.0.2"]),
            "203.0.113.7"
        );
        assert_eq!(
            client("10.0.0.1:5000", &["1.2.3.4", "203.0.113.7"]),
            "203.0.113.7"
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(client("10.0.0.1:5000", &[]), "10.0.0.1");
        assert_eq!(client("10.0.0.1:5000", &["not-an-address"]), "10.0.0.1");
    }
}
