//! `.creds` text (nsc's `-----BEGIN NATS USER JWT-----` block, then the
//! `-----BEGIN USER NKEY SEED-----` block) and decorated JWT files (an operator JWT file may
//! hold the bare token or a `-----BEGIN NATS OPERATOR JWT-----` block), read as nats-io/jwt's
//! `ParseDecoratedJWT` reads them: a block is a line of 3+ dashes, one line of content, and
//! another line of 3+ dashes; the first block is the JWT, the second the seed.

use super::error::JwtError;

/// A user's JWT and nkey seed, from a `.creds` text.
#[derive(Clone, PartialEq, Eq)]
pub struct Creds {
    pub jwt: String,
    /// The user's seed (`SU...`).
    pub seed: String,
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Creds")
            .field("jwt", &self.jwt)
            .field("seed", &"<redacted>")
            .finish()
    }
}

fn is_dash_line(line: &str) -> bool {
    let l = line.trim();
    l.len() >= 6 && l.starts_with("---") && l.ends_with("---")
}

/// The contents of the decorated blocks of `text`, in order.
fn blocks(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        let content = lines[i + 1].trim();
        if is_dash_line(lines[i]) && is_dash_line(lines[i + 2]) && !content.is_empty() {
            out.push(content);
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// Parses `.creds` text: the JWT block and the user seed block.
pub fn parse_creds(text: &str) -> Result<Creds, JwtError> {
    let found = blocks(text);
    let jwt = found.first().ok_or(JwtError::CredsBlock("JWT"))?;
    let seed = found.get(1).ok_or(JwtError::CredsBlock("nkey seed"))?;
    match nkeys::KeyPair::from_seed(seed) {
        Ok(k) if k.public_key().starts_with('U') => {}
        _ => return Err(JwtError::CredsSeed),
    }
    Ok(Creds {
        jwt: (*jwt).to_owned(),
        seed: (*seed).to_owned(),
    })
}

/// The JWT in `text`: its first decorated block, or else the whole text trimmed.
pub fn parse_decorated_jwt(text: &str) -> String {
    blocks(text)
        .first()
        .map_or_else(|| text.trim().to_owned(), |b| (*b).to_owned())
}
