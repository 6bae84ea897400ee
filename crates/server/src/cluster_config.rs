//! Clustering configuration: nats-server's `cluster {}` block and route flags, resolved.
//!
//! Only the configuration lives here (what the file and the flags say, checked); the route
//! machinery that serves it is not built yet, and the binary refuses to start with a cluster
//! configured until it is.
//!
//! As in nats-server 2.9.10 (`server/opts.go`, `parseCluster`, `overrideCluster`,
//! `setBaselineOptions`): a cluster is on when it has a port; the host defaults to
//! `0.0.0.0`; there is no default cluster port (6222 is only the documentation's habit);
//! routes are `nats://[user[:pass]@]host:port` or `nats-route://...`; authorization is one
//! user and password (no token, no users list) with a timeout of 2 s, or the TLS timeout plus
//! 1 s when routes use TLS. `pool_size` is nats-server 2.10's (2.9.10 has none): see
//! [`RoutePool`].

use crate::config::{SubjectPermission, TlsConfig};
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;
use std::time::Duration;

/// nats-server 2.10's `DEFAULT_ROUTE_POOL_SIZE`.
pub const DEFAULT_ROUTE_POOL_SIZE: u32 = 3;

/// nats-server's `AUTH_TIMEOUT`: how long a route has to send CONNECT, without TLS.
pub const DEFAULT_ROUTE_AUTH_TIMEOUT: Duration = Duration::from_secs(2);

/// The resolved clustering configuration (`ServerConfig::cluster`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `name` / `--cluster_name`; `None`: nats-server generates one at startup.
    pub name: Option<String>,
    /// Where route connections are accepted: `listen`/`host` (default `0.0.0.0`).
    pub host: String,
    /// `listen`/`port`; 0 picks a free port (nats-server's -1). Never nats-server's 0
    /// (clustering off): that is no `ClusterConfig` at all.
    pub port: u16,
    /// Routes to solicit (`routes`, `--routes`), in the order given, without duplicates.
    pub routes: Vec<RouteUrl>,
    /// What a connecting route must present (`authorization`, or the user in `--cluster`).
    pub authorization: Option<RouteAuth>,
    /// `permissions { import, export }`: which subjects' interest is exchanged with routes.
    pub permissions: Option<RoutePermissions>,
    /// `no_advertise` / `--no_advertise`: do not gossip client URLs.
    pub no_advertise: bool,
    /// `connect_retries` / `--connect_retries`: retries for implicit (discovered) routes;
    /// 0: none.
    pub connect_retries: u32,
    /// `pool_size` (nats-server 2.10): connections per route.
    pub pool_size: RoutePool,
    /// `advertise` (`cluster_advertise`) / `--cluster_advertise`: `HOST` or `HOST:PORT`
    /// to tell other servers instead of the listen address (a bare host takes `port`).
    pub advertise: Option<String>,
    /// `tls {}`: routes use TLS, and always verify each other's certificates (`verify` is
    /// always true, as nats-server forces it for routes).
    pub tls: Option<TlsConfig>,
}

impl ClusterConfig {
    /// A cluster listening on `host:port` with every other field at nats-server's default.
    pub fn new(host: impl Into<String>, port: u16) -> ClusterConfig {
        ClusterConfig {
            name: None,
            host: host.into(),
            port,
            routes: Vec::new(),
            authorization: None,
            permissions: None,
            no_advertise: false,
            connect_retries: 0,
            pool_size: RoutePool::default(),
            advertise: None,
            tls: None,
        }
    }

    /// `host:port` of the route listener, with an IPv6 host in brackets.
    pub fn listen(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The authorization timeout when `authorization` gives none: nats-server's
    /// `getDefaultAuthTimeout` (the TLS timeout plus 1 s with TLS, else 2 s).
    pub fn default_auth_timeout(tls: Option<&TlsConfig>) -> Duration {
        match tls {
            Some(t) => t.timeout + Duration::from_secs(1),
            None => DEFAULT_ROUTE_AUTH_TIMEOUT,
        }
    }
}

/// Connections per route (nats-server 2.10's `pool_size`; 2.9.10 has no pooling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutePool {
    /// This many connections per route (`pool_size: N`, N >= 1; 3 when not written).
    Size(u32),
    /// `pool_size: -1`: one connection per route, as servers before 2.10.
    Off,
}

impl Default for RoutePool {
    fn default() -> Self {
        RoutePool::Size(DEFAULT_ROUTE_POOL_SIZE)
    }
}

/// The credentials a connecting route must present, and how long it has to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAuth {
    pub user: String,
    /// Plain text, or a bcrypt hash.
    pub password: String,
    /// How long a route has to send CONNECT.
    pub timeout: Duration,
}

/// nats-server's `RoutePermissions`: `import` is the subjects this server asks routes for
/// (sends SUB for), `export` the subjects routes may ask it for (accepts SUB for).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutePermissions {
    pub import: Option<SubjectPermission>,
    pub export: Option<SubjectPermission>,
}

/// The URL schemes nats-server documents for routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteScheme {
    Nats,
    NatsRoute,
}

impl RouteScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteScheme::Nats => "nats",
            RouteScheme::NatsRoute => "nats-route",
        }
    }
}

/// A route to solicit: `nats://[user[:pass]@]host:port` or `nats-route://...`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RouteUrl {
    pub scheme: RouteScheme,
    /// Percent-decoded.
    pub user: Option<String>,
    /// Percent-decoded; only with a user.
    pub password: Option<String>,
    /// A name or an address; an IPv6 address without its brackets.
    pub host: String,
    /// 1-65535.
    pub port: u16,
}

/// Why a route (or `--cluster`) URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    /// The URL as written, with any password replaced by `xxxxx`.
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad route URL {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

impl RouteUrl {
    /// `host:port`, with an IPv6 host in brackets: what is dialled.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL in full, password included (for the route's CONNECT, not for logs).
    pub fn to_url_string(&self) -> String {
        self.render(false)
    }

    fn render(&self, redact: bool) -> String {
        let mut s = format!("{}://", self.scheme.as_str());
        if let Some(user) = &self.user {
            s.push_str(&percent_encode(user));
            if let Some(password) = &self.password {
                s.push(':');
                if redact {
                    s.push_str("xxxxx");
                } else {
                    s.push_str(&percent_encode(password));
                }
            }
            s.push('@');
        }
        s.push_str(&self.host_port());
        s
    }
}

/// Prints the URL with the password as `xxxxx`, as nats-server logs route URLs.
impl fmt::Display for RouteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(true))
    }
}

/// Debug is Display: a password must not reach a log through `{:?}` either.
impl fmt::Debug for RouteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RouteUrl({self})")
    }
}

impl FromStr for RouteUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<RouteUrl, UrlError> {
        let parsed = parse_url(s)?;
        let err = |reason: String| UrlError {
            url: redact(s.trim()),
            reason,
        };
        match parsed.port {
            Some(p) if p >= 1 => Ok(RouteUrl {
                scheme: parsed.scheme,
                user: parsed.user,
                password: parsed.password,
                host: parsed.host,
                port: p as u16,
            }),
            Some(p) => Err(err(format!(
                "port {p}: a route must name the port it connects to (1-65535)"
            ))),
            None => Err(err(
                "no port (write host:port; nats-server has no default route port)".into(),
            )),
        }
    }
}

/// `--cluster nats://[user:pass@]host:port`, as nats-server's `overrideCluster` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterListenUrl {
    pub host: String,
    /// 0: any free port (written `-1`).
    pub port: u16,
    /// `user:pass@`, which becomes the cluster's authorization.
    pub user: Option<(String, String)>,
}

impl FromStr for ClusterListenUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<ClusterListenUrl, UrlError> {
        let parsed = parse_url(s)?;
        let err = |reason: &str| UrlError {
            url: redact(s.trim()),
            reason: reason.to_owned(),
        };
        let port = match parsed.port {
            Some(-1) => 0,
            Some(0) => {
                return Err(err(
                    "port 0 turns clustering off in nats-server; use -1 for any free port, or \
                     --cluster \"\" for no cluster",
                ))
            }
            Some(p) => p as u16,
            None => return Err(err("no port (nats-server has no default cluster port)")),
        };
        let user = match (parsed.user, parsed.password) {
            (Some(user), Some(password)) => Some((user, password)),
            (Some(_), None) => return Err(err("expected cluster password to be set")),
            _ => None,
        };
        Ok(ClusterListenUrl {
            host: parsed.host,
            port,
            user,
        })
    }
}

struct ParsedUrl {
    scheme: RouteScheme,
    user: Option<String>,
    password: Option<String>,
    host: String,
    /// -1..=65535 as written.
    port: Option<i32>,
}

/// `scheme://[user[:pass]@]host[:port][/]`, strictly.
fn parse_url(s: &str) -> Result<ParsedUrl, UrlError> {
    let text = s.trim();
    let err = |reason: &str| UrlError {
        url: redact(text),
        reason: reason.to_owned(),
    };
    if text.is_empty() {
        return Err(err("empty"));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(err("expected nats://host:port or nats-route://host:port"));
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "nats" => RouteScheme::Nats,
        "nats-route" => RouteScheme::NatsRoute,
        _ => {
            return Err(err(&format!(
                "scheme {scheme:?}: expected nats:// or nats-route://"
            )))
        }
    };
    // A trailing slash is harmless; any other path, a query or a fragment is not.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(err(
            "a route URL has no path, query or fragment (nats://host:port)",
        ));
    }
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (u, p) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            let user = percent_decode(u).ok_or_else(|| err("bad %-escape in the user"))?;
            if user.is_empty() {
                return Err(err("empty user before '@'"));
            }
            let password = match p {
                Some(p) => {
                    Some(percent_decode(p).ok_or_else(|| err("bad %-escape in the password"))?)
                }
                None => None,
            };
            (Some(user), password)
        }
    };
    let (host, port_text) = if let Some(after) = hostport.strip_prefix('[') {
        let (inside, tail) = after
            .split_once(']')
            .ok_or_else(|| err("unclosed '[' in the host"))?;
        inside
            .parse::<Ipv6Addr>()
            .map_err(|_| err(&format!("{inside:?} is not an IPv6 address")))?;
        let port = match tail {
            "" => None,
            t => Some(
                t.strip_prefix(':')
                    .ok_or_else(|| err("expected ':' and a port after ']'"))?,
            ),
        };
        (inside.to_owned(), port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => {
                if p.contains(':') {
                    return Err(err(
                        "too many colons (write an IPv6 address in brackets: [::1]:6222)",
                    ));
                }
                (h.to_owned(), Some(p))
            }
            None => (hostport.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(err("no host"));
    }
    if let Some(bad) = host
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
    {
        return Err(err(&format!("invalid character {bad:?} in the host")));
    }
    let port = match port_text {
        None => None,
        Some(p) => Some(parse_port(p).ok_or_else(|| {
            err(&format!(
                "port {p:?}: expected a number from 1 to 65535 (-1 for any free port where a \
                 listen address is meant)"
            ))
        })?),
    };
    Ok(ParsedUrl {
        scheme,
        user,
        password,
        host,
        port,
    })
}

fn parse_port(p: &str) -> Option<i32> {
    if p == "-1" {
        return Some(-1);
    }
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().map(i32::from)
}

/// The URL as written, with any password replaced by `xxxxx` (for error messages).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((info, host)) => match info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:xxxxx@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A cluster `advertise` value: `HOST` or `HOST:PORT` (nats-server's `parseHostPort`, which
/// its reload and route setup apply to it). Returns why not.
pub fn check_advertise(advertise: &str) -> Result<(), String> {
    let a = advertise.trim();
    let bad = |why: &str| Err(format!("advertise {advertise:?}: {why}"));
    if a.is_empty() {
        return bad("empty (expected HOST or HOST:PORT)");
    }
    let (host, port) = if let Some(after) = a.strip_prefix('[') {
        let Some((inside, tail)) = after.split_once(']') else {
            return bad("unclosed '['");
        };
        if inside.parse::<Ipv6Addr>().is_err() {
            return bad("not an IPv6 address in brackets");
        }
        match tail {
            "" => (inside, None),
            t => match t.strip_prefix(':') {
                Some(p) => (inside, Some(p)),
                None => return bad("expected ':' and a port after ']'"),
            },
        }
    } else {
        match a.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return bad(
                    "too many colons in address (expected HOST or HOST:PORT; an IPv6 \
                            address goes in brackets)",
                )
            }
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    if host.is_empty() {
        return bad("no host");
    }
    if host.contains(|c: char| c.is_whitespace() || c == '/') {
        return bad("expected HOST or HOST:PORT, not a URL");
    }
    if let Some(p) = port {
        if parse_port(p).is_none() {
            return bad(&format!("port {p:?} is not a number from 0 to 65535"));
        }
    }
    Ok(())
}

/// A cluster name: not empty (leave it out to have one generated), and without spaces
/// (nats-server 2.9.10 let them through; later versions refuse them with this message: the
/// name travels in protocol lines).
pub fn check_cluster_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("cluster name is empty (leave it out to have one generated)".into());
    }
    if name.contains(char::is_whitespace) {
        return Err(format!(
            "cluster name {name:?}: cluster name cannot contain spaces"
        ));
    }
    Ok(())
}

/// Routes in `new` and not in `old`, and in `old` and not in `new` (nats-server's
/// `diffRoutes`: order does not matter).
pub fn diff_routes(old: &[RouteUrl], new: &[RouteUrl]) -> (Vec<RouteUrl>, Vec<RouteUrl>) {
    let add = new.iter().filter(|r| !old.contains(r)).cloned().collect();
    let remove = old.iter().filter(|r| !new.contains(r)).cloned().collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(s: &str) -> RouteUrl {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn route_err(s: &str) -> String {
        match s.parse::<RouteUrl>() {
            Ok(r) => panic!("{s} parsed as {r}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn route_urls_parse() {
        let r = route("nats://127.0.0.1:6222");
        assert_eq!(r.scheme, RouteScheme::Nats);
        assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", 6222));
        assert_eq!((r.user, r.password), (None, None));

        let r = route("  NATS-ROUTE://ruser:T0p%40ss@seed.example.com:4245/ ");
        assert_eq!(r.scheme, RouteScheme::NatsRoute);
        assert_eq!(r.user.as_deref(), Some("ruser"));
        assert_eq!(r.password.as_deref(), Some("T0p@ss"));
        assert_eq!(r.host_port(), "seed.example.com:4245");
        assert_eq!(
            r.to_url_string(),
            "nats-route://ruser:T0p%40ss@seed.example.com:4245"
        );
        assert_eq!(
            r.to_string(),
            "nats-route://ruser:xxxxx@seed.example.com:4245"
        );
        assert!(!format!("{r:?}").contains("T0p"));

        let r = route("nats://[::1]:6222");
        assert_eq!(
            (r.host.as_str(), r.host_port()),
            ("::1", "[::1]:6222".into())
        );

        // A user alone is allowed (nats-server sends it with an empty password).
        let r = route("nats://tok@h:1");
        assert_eq!((r.user.as_deref(), r.password), (Some("tok"), None));
    }

    #[test]
    fn bad_route_urls_say_why() {
        let cases = [
            ("", "empty"),
            ("127.0.0.1:6222", "expected nats://host:port"),
            (
                "http://h:6222",
                "scheme \"http\": expected nats:// or nats-route://",
            ),
            ("tls://h:6222", "scheme \"tls\""),
            ("nats://h", "no port"),
            ("nats://h:", "port \"\""),
            ("nats://h:0", "port 0: a route must name the port"),
            ("nats://h:-1", "port -1: a route must name the port"),
            ("nats://h:70000", "port \"70000\""),
            ("nats://h:62x2", "port \"62x2\""),
            ("nats://:6222", "no host"),
            ("nats://a b:6222", "invalid character ' ' in the host"),
            ("nats://h:1/path", "no path"),
            ("nats://h:1?x=1", "no path, query"),
            ("nats://::1:6222", "too many colons"),
            ("nats://[zz]:6222", "\"zz\" is not an IPv6 address"),
            ("nats://[::1:6222", "unclosed '['"),
            ("nats://@h:1", "empty user"),
            ("nats://u:%zz@h:1", "bad %-escape in the password"),
        ];
        for (url, want) in cases {
            let e = route_err(url);
            assert!(e.contains(want), "{url:?}: {e}");
        }
        // The password never reaches the message.
        let e = route_err("nats://u:secret@h");
        assert!(
            e.contains("nats://u:xxxxx@h") && !e.contains("secret"),
            "{e}"
        );
    }

    #[test]
    fn cluster_listen_urls() {
        let c: ClusterListenUrl = "nats://0.0.0.0:6222".parse().unwrap();
        assert_eq!((c.host.as_str(), c.port, c.user), ("0.0.0.0", 6222, None));
        let c: ClusterListenUrl = "nats://u:p@127.0.0.1:-1".parse().unwrap();
        assert_eq!(c.port, 0, "-1: any free port");
        assert_eq!(c.user, Some(("u".into(), "p".into())));
        let e = "nats://u@h:1".parse::<ClusterListenUrl>().unwrap_err();
        assert!(e.to_string().contains("expected cluster password"), "{e}");
        let e = "nats://h".parse::<ClusterListenUrl>().unwrap_err();
        assert!(e.to_string().contains("no port"), "{e}");
        let e = "nats://h:0".parse::<ClusterListenUrl>().unwrap_err();
        assert!(e.to_string().contains("port 0 turns clustering off"), "{e}");
        let e = "127.0.0.1:6222".parse::<ClusterListenUrl>().unwrap_err();
        assert!(e.to_string().contains("expected nats://"), "{e}");
    }

    #[test]
    fn advertise_values() {
        for ok in ["h", "h:6222", "10.0.0.1:1", "[::1]:6222", "[::1]", "h:0"] {
            assert_eq!(check_advertise(ok), Ok(()), "{ok}");
        }
        for (bad, want) in [
            ("x:y:z", "too many colons"),
            ("", "empty"),
            (":6222", "no host"),
            ("h:port", "port \"port\""),
            ("[::1", "unclosed"),
        ] {
            let e = check_advertise(bad).unwrap_err();
            assert!(e.contains(want), "{bad:?}: {e}");
        }
    }

    #[test]
    fn cluster_names() {
        assert_eq!(check_cluster_name("east-1"), Ok(()));
        assert!(check_cluster_name("a b")
            .unwrap_err()
            .contains("cannot contain spaces"));
        assert!(check_cluster_name("").unwrap_err().contains("empty"));
    }

    #[test]
    fn route_diff_ignores_order() {
        let (a, b, c) = (
            route("nats://a:1"),
            route("nats://b:1"),
            route("nats://c:1"),
        );
        let (add, remove) = diff_routes(&[a.clone(), b.clone()], &[b.clone(), a.clone()]);
        assert!(add.is_empty() && remove.is_empty());
        let (add, remove) = diff_routes(&[a.clone(), b.clone()], &[b, c.clone()]);
        assert_eq!((add, remove), (vec![c], vec![a]));
    }

    #[test]
    fn auth_timeout_default_follows_tls() {
        assert_eq!(
            ClusterConfig::default_auth_timeout(None),
            Duration::from_secs(2)
        );
        let tls = TlsConfig {
            cert_file: "c".into(),
            key_file: "k".into(),
            ca_file: Some("ca".into()),
            verify: true,
            timeout: Duration::from_secs(5),
            map: false,
            allow_non_tls: false,
            handshake_first: crate::HandshakeFirst::Off,
        };
        assert_eq!(
            ClusterConfig::default_auth_timeout(Some(&tls)),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn new_has_nats_server_defaults() {
        let c = ClusterConfig::new("0.0.0.0", 6222);
        assert_eq!(c.listen(), "0.0.0.0:6222");
        assert_eq!(c.pool_size, RoutePool::Size(3));
        assert_eq!(c.connect_retries, 0);
        assert!(!c.no_advertise && c.routes.is_empty() && c.name.is_none());
        assert_eq!(ClusterConfig::new("::", 0).listen(), "[::]:0");
    }
}
