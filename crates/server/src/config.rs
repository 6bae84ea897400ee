//! Server configuration: every knob the server reads, with nats-server's defaults; and the
//! rustls configuration a [`TlsConfig`]'s files make.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How clients must authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// Anyone may connect.
    #[default]
    None,
    /// CONNECT must carry this user and password.
    UserPass { user: String, pass: String },
    /// CONNECT must carry this auth_token.
    Token(String),
    /// CONNECT must carry the user and password of one of these users (nats-server's
    /// `authorization { users [...] }`); each may have permissions.
    Users(Vec<User>),
    /// Operator mode: CONNECT must carry a user JWT issued (through its account) by one of
    /// the trusted operators, and the user's signature of the INFO's nonce.
    Jwt(JwtAuth),
}

/// Operator mode's trust: the operators' JWTs and the accounts' (nats-server's `operator`
/// and the resolver's contents). Each account is a configured account named by its public
/// key ([`ServerConfig::accounts`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JwtAuth {
    /// The trusted operators' JWTs.
    pub operators: Vec<String>,
    /// Account public key and its JWT.
    pub accounts: Vec<(String, String)>,
    /// The full resolver's directory (`None`: `resolver: MEMORY`): account JWTs updated at
    /// runtime are written there as `<key>.jwt` (`claim_updates.rs`).
    pub resolver_dir: Option<std::path::PathBuf>,
}

/// One configured user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub user: String,
    /// Plain text, or a bcrypt hash (`$2a$...`, `$2b$...`, `$2y$...`).
    pub password: String,
    /// `None`: may publish and subscribe anywhere.
    pub permissions: Option<Permissions>,
    /// The account the user belongs to (a user listed in `accounts { NAME { users [...] } }`);
    /// `None`: the global account, `$G`.
    pub account: Option<String>,
    /// An nkey user (`{ nkey: U... }`): its public nkey, which is also its `user` name; its
    /// `password` is empty and never matches. The client proves it holds the key by signing
    /// the nonce of the server's INFO.
    pub nkey: Option<String>,
}

/// One account of nats-server's `accounts { NAME { ... } }` block: a subject space of its
/// own. Its users are in [`Auth::Users`], naming it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountConfig {
    pub name: String,
    /// What other accounts may import from this one.
    pub exports: Vec<Export>,
    /// What this account takes from others' exports.
    pub imports: Vec<Import>,
}

impl AccountConfig {
    /// An account with no exports or imports.
    pub fn new(name: &str) -> AccountConfig {
        AccountConfig {
            name: name.to_owned(),
            ..AccountConfig::default()
        }
    }
}

/// How many responses a service import's request may get (nats-server's `response`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// One: the reply mapping ends with the first response.
    #[default]
    Singleton,
    /// Any number, until the response threshold passes.
    Stream,
    /// Any number, until the response threshold passes (nats-server keeps it apart from
    /// `Stream` for latency tracking only, which Sluice does not serve).
    Chunked,
}

/// What an export offers: messages (a stream) or requests (a service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportKind {
    Stream,
    Service {
        response: ResponseType,
        /// How long a request's reply mapping lives (nats-server's `response_threshold`,
        /// 2 minutes by default).
        threshold: std::time::Duration,
    },
}

/// One entry of an account's `exports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The subjects offered (wildcards allowed).
    pub subject: String,
    pub kind: ExportKind,
    /// The accounts that may import it; `None`: any account.
    pub accounts: Option<Vec<String>>,
}

/// One entry of an account's `imports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Messages (`true`: a stream import) or requests (a service import).
    pub stream: bool,
    /// The exporting account.
    pub account: String,
    /// The subjects in the exporting account.
    pub subject: String,
    /// The subjects in this account: where a stream import's messages are delivered, or
    /// what this account's clients publish a service import's requests to. Wildcards in the
    /// same order as `subject`'s carry the tokens across.
    pub to: String,
}

/// nats-server's `permissions { publish {...} subscribe {...} allow_responses ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permissions {
    /// `None`: publishing is not restricted.
    pub publish: Option<SubjectPermission>,
    /// `None`: subscribing is not restricted.
    pub subscribe: Option<SubjectPermission>,
    /// `Some`: the user may publish to the reply subject of requests it received, whatever
    /// `publish` says (nats-server's `allow_responses`).
    pub allow_responses: Option<ResponsePermission>,
}

/// Allow and deny lists of subjects (wildcards allowed). An empty `allow` allows everything
/// not denied; a subject must be allowed and not denied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubjectPermission {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// `allow_responses: true` is `{ max: 1, expires: 2m }`, nats-server's defaults
/// (`DEFAULT_ALLOW_RESPONSE_MAX_MSGS`, `DEFAULT_ALLOW_RESPONSE_EXPIRATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePermission {
    /// Replies allowed per request.
    pub max: usize,
    /// How long the permission lasts; zero: until used up.
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max: 1,
            expires: Duration::from_secs(120),
        }
    }
}

/// TLS for client connections (nats-server's `--tls`/`--tlsverify` and `tls {}` block): INFO
/// goes out in plaintext with `tls_required`, then the client starts the TLS handshake
/// (unless `handshake_first`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server's certificate chain, PEM.
    pub cert_file: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CAs that client certificates must chain to, PEM (needed when `verify` is on).
    pub ca_file: Option<PathBuf>,
    /// Require a client certificate, verified against `ca_file` (`--tlsverify`).
    pub verify: bool,
    /// How long a client has to complete the handshake (nats-server's default: 2 s).
    pub timeout: Duration,
    /// `verify_and_map`: `verify`, and the client certificate names the user (of a users
    /// list; see `tls_map.rs`), which then needs no password.
    pub map: bool,
    /// nats-server's top-level `allow_non_tls`: INFO says `tls_available` instead of
    /// `tls_required`, and a client may go on in plaintext instead of starting TLS.
    pub allow_non_tls: bool,
    /// nats-server 2.10's `handshake_first`: TLS before INFO.
    pub handshake_first: HandshakeFirst,
}

/// When the TLS handshake comes: after the plaintext INFO (nats-server's way), or first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakeFirst {
    /// INFO in plaintext, then the client's handshake.
    #[default]
    Off,
    /// The client starts TLS at once; INFO goes out over TLS. Other clients fail.
    On,
    /// As `On` if the client sends something within this time; if it sends nothing, the
    /// server goes on as with `Off` (nats-server's `TLSHandshakeFirstFallback`).
    Fallback(Duration),
}

impl TlsConfig {
    /// nats-server's default TLS handshake timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

    /// Loads the certificate, key and CA files as [`crate::Server::bind`] will, and says
    /// what is wrong if they cannot be used.
    pub fn check(&self) -> Result<(), String> {
        server_config(self).map(|_| ())
    }
}

/// Builds the rustls server configuration `cfg` describes, or says what is wrong with it
/// (a file that cannot be read, holds no certificate or key, or a key that does not fit).
pub(crate) fn server_config(cfg: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs(&cfg.cert_file, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|e| {
        format!(
            "TLS: cannot read a private key from {}: {e}",
            cfg.key_file.display()
        )
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = if cfg.verify || cfg.map {
        let Some(ca_file) = &cfg.ca_file else {
            return Err(
                "TLS: verifying client certificates needs a CA file (--tlscacert, or ca_file \
                 in the tls block)"
                    .into(),
            );
        };
        let mut roots = rustls::RootCertStore::empty();
        for ca in read_certs(ca_file, "CA certificate")? {
            roots
                .add(ca)
                .map_err(|e| format!("TLS: bad CA certificate in {}: {e}", ca_file.display()))?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .map_err(|e| format!("TLS: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "TLS: the key in {} does not go with the certificate in {}: {e}",
            cfg.key_file.display(),
            cfg.cert_file.display()
        )
    })?;
    Ok(Arc::new(config))
}

/// Builds the rustls client configuration a route dialling out with `cfg` uses: the other
/// server's certificate must chain to `ca_file`, and this server presents its own
/// certificate (routes verify each other, as nats-server's do).
pub(crate) fn route_client_config(cfg: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Some(ca_file) = &cfg.ca_file else {
        return Err("cluster TLS: routes verify each other: a CA file (ca_file) is needed".into());
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in read_certs(ca_file, "CA certificate")? {
        roots
            .add(ca)
            .map_err(|e| format!("TLS: bad CA certificate in {}: {e}", ca_file.display()))?;
    }
    let certs = read_certs(&cfg.cert_file, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file).map_err(|e| {
        format!(
            "TLS: cannot read a private key from {}: {e}",
            cfg.key_file.display()
        )
    })?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| {
            format!(
                "TLS: the key in {} does not go with the certificate in {}: {e}",
                cfg.key_file.display(),
                cfg.cert_file.display()
            )
        })?;
    Ok(Arc::new(config))
}

fn read_certs(path: &std::path::Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS: cannot read {what}s from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("TLS: no {what} in {}", path.display()));
    }
    Ok(certs)
}

/// Everything the server needs to run. `Default` gives nats-server's defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (nats-server: `-a`, default 0.0.0.0).
    pub host: String,
    /// Port to listen on; 0 picks a free one (nats-server: `-p`, default 4222).
    pub port: u16,
    /// Name advertised in INFO; defaults to the server id.
    pub server_name: Option<String>,
    /// Largest payload a client may publish (advertised in INFO).
    pub max_payload: usize,
    /// Longest control line accepted.
    pub max_control_line: usize,
    /// Outbound bytes a client may have pending before it is a slow consumer.
    pub max_pending: usize,
    /// Most concurrent client connections.
    pub max_connections: usize,
    /// How often the server PINGs an idle client.
    pub ping_interval: Duration,
    /// Unanswered PINGs before the client is closed as stale.
    pub max_pings_out: u32,
    /// How long a client has to send CONNECT when auth is required.
    pub auth_timeout: Duration,
    /// How long one socket write may block before the client is closed as a slow consumer.
    pub write_deadline: Duration,
    /// Authentication.
    pub auth: Auth,
    /// Advertise JetStream in INFO (set by the stream layer when it is on).
    pub jetstream: bool,
    /// TLS for client connections; `None`: plaintext.
    pub tls: Option<TlsConfig>,
    /// Lame-duck mode: the time over which clients are closed, grace period included
    /// (nats-server's `lame_duck_duration`, default 2m).
    pub lame_duck_duration: Duration,
    /// Lame-duck mode: how long after entering it the first client is closed
    /// (nats-server's `lame_duck_grace_period`, default 10s).
    pub lame_duck_grace_period: Duration,
    /// Clustering (nats-server's `cluster {}` block and route flags); `None`: not clustered.
    pub cluster: Option<crate::cluster_config::ClusterConfig>,
    /// The configured accounts (nats-server's `accounts {}`), besides the global one (`$G`).
    pub accounts: Vec<AccountConfig>,
    /// A client that presents no credentials is this user (nats-server's `no_auth_user`;
    /// one of the users in [`Auth::Users`]).
    pub no_auth_user: Option<String>,
    /// The account whose users see the server's events and requests (nats-server's
    /// `system_account`); `None`: an account `$SYS` of its own, without users.
    pub system_account: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "0.0.0.0".into(),
            port: 4222,
            server_name: None,
            max_payload: sluice_protocol::limits::DEFAULT_MAX_PAYLOAD,
            max_control_line: sluice_protocol::limits::DEFAULT_MAX_CONTROL_LINE,
            max_pending: 64 * 1024 * 1024,
            max_connections: 64 * 1024,
            ping_interval: Duration::from_secs(120),
            max_pings_out: 2,
            auth_timeout: Duration::from_secs(2),
            write_deadline: Duration::from_secs(10),
            auth: Auth::None,
            jetstream: false,
            tls: None,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            cluster: None,
            accounts: Vec::new(),
            no_auth_user: None,
            system_account: None,
        }
    }
}
