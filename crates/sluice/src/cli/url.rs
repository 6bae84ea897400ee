//! Server URLs and credentials as `--server`, `NATS_URL`, `--user/--password` and
//! `--token` give them.

use super::Result;

/// One server address from `--server` / `NATS_URL`, with any credentials it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

impl ServerUrl {
    /// `nats://host:port`, without credentials: how errors name the server.
    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("nats://[{}]:{}", self.host, self.port)
        } else {
            format!("nats://{}:{}", self.host, self.port)
        }
    }
}

/// Parses `nats://host:port`, `host:port`, `host`, `nats://user:pass@host:port` or
/// `nats://token@host:port` (IPv6 hosts in brackets; the port defaults to 4222).
pub fn parse_url(s: &str) -> Result<ServerUrl> {
    let t = s.trim();
    let rest = match t.split_once("://") {
        Some(("nats", r)) => r,
        Some((scheme, _)) => return Err(format!("unsupported URL scheme {scheme:?} in {t:?}")),
        None => t,
    };
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let bad = || format!("invalid server URL {t:?} (want nats://host:port)");
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(bad()),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 4222,
    };
    let mut url = ServerUrl {
        host: host.to_owned(),
        port,
        user: None,
        pass: None,
        token: None,
    };
    match userinfo.map(|u| u.split_once(':')) {
        None => {}
        Some(Some((u, p))) => {
            url.user = Some(u.to_owned());
            url.pass = Some(p.to_owned());
        }
        Some(None) => url.token = userinfo.map(str::to_owned),
    }
    Ok(url)
}

/// Parses a comma-separated list of URLs.
pub fn parse_urls(s: &str) -> Result<Vec<ServerUrl>> {
    let urls: Vec<ServerUrl> = s
        .split(',')
        .filter(|u| !u.trim().is_empty())
        .map(parse_url)
        .collect::<Result<_>>()?;
    if urls.is_empty() {
        return Err(format!("no server URL in {s:?}"));
    }
    Ok(urls)
}

/// Credentials given as flags; they win over those in the URL.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16) -> ServerUrl {
        ServerUrl {
            host: host.into(),
            port,
            user: None,
            pass: None,
            token: None,
        }
    }

    #[test]
    fn urls_parse_in_every_spelling() {
        assert_eq!(
            parse_url("nats://127.0.0.1:4333"),
            Ok(url("127.0.0.1", 4333))
        );
        assert_eq!(parse_url("localhost:1"), Ok(url("localhost", 1)));
        assert_eq!(parse_url("example.com"), Ok(url("example.com", 4222)));
        assert_eq!(parse_url("nats://[::1]:5"), Ok(url("::1", 5)));
        assert_eq!(parse_url("[::1]"), Ok(url("::1", 4222)));
        let u = parse_url("nats://alice:s3cret@h:7").unwrap();
        assert_eq!(
            (u.user.as_deref(), u.pass.as_deref()),
            (Some("alice"), Some("s3cret"))
        );
        assert_eq!(u.token, None);
        let t = parse_url("nats://TOKEN@h:7").unwrap();
        assert_eq!((t.token.as_deref(), t.user), (Some("TOKEN"), None));
        assert_eq!(u.display(), "nats://h:7");
        assert_eq!(url("::1", 5).display(), "nats://[::1]:5");
        for bad in [
            "tls://h:1",
            "nats://h:port",
            "nats://:4222",
            "h:99999",
            "[::1",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_lists_split_on_commas() {
        let l = parse_urls("nats://a:1, b:2").unwrap();
        assert_eq!(l, vec![url("a", 1), url("b", 2)]);
        assert!(parse_urls(" , ").is_err());
    }
}
