//! Reading characters: blanks, comments, keys, quoted strings, bare words, and what a bare
//! word means (number, size, boolean or string).
//!
//! nats-server's format is context sensitive (a bare value may contain `:`, a key may not),
//! so this is a scanner the parser drives, not a separate token stream.

use super::value::Kind;

/// A position in one file's text.
pub struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: u32,
}

impl Lexer {
    pub fn new(text: &str) -> Lexer {
        Lexer {
            chars: text.chars().collect(),
            at: 0,
            line: 1,
        }
    }

    /// The line of the next character.
    pub fn line(&self) -> u32 {
        self.line
    }

    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Is the next thing a `#` or `//` comment?
    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_at(1) == Some('/'),
            _ => false,
        }
    }

    /// Skips spaces, tabs, carriage returns and a comment, up to (not over) the newline.
    pub fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                }
                _ if self.at_comment() => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    /// Skips blanks, comments and newlines.
    pub fn skip_space(&mut self) {
        loop {
            self.skip_blanks();
            if self.peek() == Some('\n') {
                self.bump();
            } else {
                return;
            }
        }
    }

    /// A key: a quoted string, or a bare word ending at a blank, `:`, `=` or a bracket.
    /// Call with the next character being its first.
    pub fn key(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                self.quoted(q)
            }
            _ => {
                let mut key = String::new();
                while let Some(c) = self.peek() {
                    if c.is_whitespace() || ":={}[],;\"'".contains(c) {
                        break;
                    }
                    key.push(c);
                    self.bump();
                }
                if key.is_empty() {
                    Err(match self.peek() {
                        Some(c) => format!("expected a key, got {c:?}"),
                        None => "expected a key, got the end of the file".into(),
                    })
                } else {
                    Ok(key)
                }
            }
        }
    }

    /// The rest of a string opened by `quote` (already consumed). Double-quoted strings
    /// take escapes (`\" \\ \n \t \r \/ \uXXXX \UXXXXXXXX`); single-quoted ones are raw.
    pub fn quoted(&mut self, quote: char) -> Result<String, String> {
        let mut out = String::new();
        loop {
            if self.peek() == Some('\n') {
                // Left for the line count: the error is on the string's line.
                return Err(format!("unterminated string (no closing {quote})"));
            }
            match self.bump() {
                None | Some('\n') => {
                    return Err(format!("unterminated string (no closing {quote})"));
                }
                Some(c) if c == quote => return Ok(out),
                Some('\\') if quote == '"' => {
                    let escaped = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('/') => '/',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some(u @ ('u' | 'U')) => {
                            let digits = if u == 'u' { 4 } else { 8 };
                            let hex: String = (0..digits).filter_map(|_| self.bump()).collect();
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == digits)
                                .and_then(char::from_u32)
                                .ok_or_else(|| format!("invalid escape \\{u}{hex} in string"))?
                        }
                        Some(c) => return Err(format!("invalid escape \\{c} in string")),
                        None => return Err("unterminated string (no closing \")".into()),
                    };
                    out.push(escaped);
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// A bare (unquoted) word: everything up to a blank, newline, `,`, `;`, `]` or `}`.
    pub fn bare(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || ",;]}".contains(c) {
                break;
            }
            word.push(c);
            self.bump();
        }
        word
    }
}

/// What a bare word means: a boolean, an integer (with a size suffix applied), a float, or
/// else a string. Fails only for a number too large for 64 bits.
pub fn classify(word: &str) -> Result<Kind, String> {
    match word.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => return Ok(Kind::Bool(true)),
        "false" | "no" | "off" => return Ok(Kind::Bool(false)),
        _ => {}
    }
    let digits_start = usize::from(word.starts_with('-') || word.starts_with('+'));
    let body = &word[digits_start..];
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Ok(Kind::Str(word.to_owned()));
    }
    let (number, rest) = word.split_at(digits_start + digits);
    if let Some(fraction) = rest.strip_prefix('.') {
        if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(f) = word.parse::<f64>() {
                return Ok(Kind::Float(f));
            }
        }
        // `127.0.0.1`, `1.2.3`: a string.
        return Ok(Kind::Str(word.to_owned()));
    }
    let Some(multiplier) = size_multiplier(rest) else {
        // `1h30m`, `500ms`, `10s`: a string (durations read strings).
        return Ok(Kind::Str(word.to_owned()));
    };
    let too_large = || format!("number {word} is too large");
    let n: i64 = number.parse().map_err(|_| too_large())?;
    let value = n.checked_mul(multiplier).ok_or_else(too_large)?;
    Ok(Kind::Int {
        value,
        text: word.to_owned(),
    })
}

/// nats-server's size suffixes (any case): `k`, `m`, `g`, `t`, `p`, `e` are powers of
/// 1000; with `b`, `i` or `ib` after them (`KB`, `Ki`, `KiB`) powers of 1024.
pub fn size_multiplier(suffix: &str) -> Option<i64> {
    let lower = suffix.to_ascii_lowercase();
    if lower.is_empty() {
        return Some(1);
    }
    let mut chars = lower.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: i64 = match chars.as_str() {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => return None,
    };
    Some(base.pow(power))
}
