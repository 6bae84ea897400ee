//! nats-server's configuration syntax into a [`Map`] of positioned values.
//!
//! ```text
//! document := entries EOF
//! entries  := (separator* entry)*           separator: newline ; ,
//! entry    := "include" PATH | KEY [":" | "="] value
//! value    := "{" entries "}" | "[" (value separator*)* "]" | "quoted" | 'raw' | $VAR | WORD
//! ```
//!
//! `#` and `//` start comments wherever a key or value could start. `$VAR` is the value of
//! the nearest key `VAR` written earlier (in this block or an enclosing one), or else the
//! environment variable `VAR` (`$2a$...`, an unquoted bcrypt hash, is a string).
//! `include PATH` parses PATH (relative to the including file) on its own and adds its keys
//! to the current block, as nats-server does.

use super::lexer::{classify, Lexer};
use super::value::{ConfError, Entry, Kind, Map, Pos, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep includes may nest (a guard against include cycles nats-server lacks).
const MAX_INCLUDE_DEPTH: usize = 10;

/// How deep blocks and arrays may nest, counting through includes. The parser recurses once
/// per level, so without a limit a file of `[[[[...` overflows the stack and aborts the
/// process (at startup, or on a SIGHUP reload) instead of reporting an error. Real
/// configurations nest a few levels.
const MAX_NESTING: usize = 128;

/// Reads and parses `path`.
pub fn parse_file(path: &Path) -> Result<Map, ConfError> {
    parse_file_nested(path, &mut Vec::new())
}

/// Parses `text` as if it were the file `path` (includes resolve relative to `path`).
pub fn parse_str(text: &str, path: &Path) -> Result<Map, ConfError> {
    Parser::new(text, path, &mut Vec::new()).document()
}

/// Parses `text` as if it were the file `path`, reading nothing from the filesystem: an
/// `include` is an error here. For text that did not come from a file (the `config_file`
/// fuzz target, which must not read files an input names).
pub fn parse_str_without_includes(text: &str, path: &Path) -> Result<Map, ConfError> {
    let mut including = Vec::new();
    let mut parser = Parser::new(text, path, &mut including);
    parser.includes = false;
    parser.document()
}

fn parse_file_nested(path: &Path, including: &mut Vec<PathBuf>) -> Result<Map, ConfError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfError::in_file(path, format!("cannot read the configuration file: {e}"))
    })?;
    Parser::new(&text, path, including).document()
}

struct Parser<'a> {
    lx: Lexer,
    file: Arc<PathBuf>,
    /// The blocks being built, outermost first; `$VAR` looks through them innermost first.
    scopes: Vec<Map>,
    /// The files whose includes led here, for cycle detection.
    including: &'a mut Vec<PathBuf>,
    /// Whether `include` may read files.
    includes: bool,
    /// The blocks and arrays open around the current position (including the includer's).
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &str, path: &Path, including: &'a mut Vec<PathBuf>) -> Parser<'a> {
        Parser {
            lx: Lexer::new(text),
            file: Arc::new(path.to_path_buf()),
            scopes: Vec::new(),
            including,
            includes: true,
            depth: 0,
        }
    }

    fn pos(&self) -> Pos {
        Pos::new(&self.file, self.lx.line())
    }

    fn err(&self, msg: impl Into<String>) -> ConfError {
        ConfError::at(&self.pos(), msg)
    }

    fn err_at(&self, line: u32, msg: impl Into<String>) -> ConfError {
        ConfError::at(&Pos::new(&self.file, line), msg)
    }

    fn document(mut self) -> Result<Map, ConfError> {
        self.scopes.push(Map::default());
        self.entries(None)?;
        Ok(self.scopes.pop().unwrap_or_default())
    }

    /// Entries into the innermost scope, up to the `}` of a block opened on `open_line`
    /// (consumed), or to the end of the file for the document.
    fn entries(&mut self, open_line: Option<u32>) -> Result<(), ConfError> {
        loop {
            self.lx.skip_space();
            match self.lx.peek() {
                None => {
                    return match open_line {
                        None => Ok(()),
                        Some(line) => Err(self.err_at(line, "this '{' is never closed")),
                    };
                }
                Some('}') => {
                    return match open_line {
                        Some(_) => {
                            self.lx.bump();
                            Ok(())
                        }
                        None => Err(self.err("unexpected '}' (no block is open)")),
                    };
                }
                Some(';' | ',') => {
                    self.lx.bump();
                }
                Some(']') => return Err(self.err("unexpected ']' (no array is open)")),
                Some(_) => self.entry()?,
            }
        }
    }

    /// One `key value` (or `include`), and what may follow it on its line.
    fn entry(&mut self) -> Result<(), ConfError> {
        let pos = self.pos();
        let quoted_key = matches!(self.lx.peek(), Some('"' | '\''));
        let key = self.lx.key().map_err(|e| self.err(e))?;
        let blank_after_key = self.lx.peek().is_some_and(|c| c == ' ' || c == '\t');
        self.lx.skip_blanks();
        let separator = matches!(self.lx.peek(), Some(':' | '='));
        if key == "include" && !quoted_key && blank_after_key && !separator {
            return self.include(pos);
        }
        if separator {
            self.lx.bump();
            self.lx.skip_blanks();
        }
        match self.lx.peek() {
            None | Some('\n' | ';' | ',' | '}' | ']') => {
                return Err(ConfError::at(&pos, format!("key {key:?} has no value")));
            }
            _ => {}
        }
        let value = self.value()?;
        self.end_of_value(&key)?;
        self.push(Entry {
            key,
            pos,
            value,
            used_as_variable: false,
        });
        Ok(())
    }

    fn push(&mut self, entry: Entry) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.entries.push(entry);
        }
    }

    /// After a value in a block: blanks and a comment, then a newline, `;`, `,`, `}` or the
    /// end of the file.
    fn end_of_value(&mut self, key: &str) -> Result<(), ConfError> {
        self.lx.skip_blanks();
        match self.lx.peek() {
            None | Some('\n' | ';' | ',' | '}') => Ok(()),
            Some(c) => Err(self.err(format!(
                "unexpected {c:?} after the value of {key:?} (expected a newline, ';' or ',')"
            ))),
        }
    }

    /// `include PATH`: parses PATH on its own and adds its keys here.
    fn include(&mut self, pos: Pos) -> Result<(), ConfError> {
        let name = match self.lx.peek() {
            Some(q @ ('"' | '\'')) => {
                self.lx.bump();
                self.lx.quoted(q).map_err(|e| self.err(e))?
            }
            _ => self.lx.bare(),
        };
        if name.is_empty() {
            return Err(ConfError::at(&pos, "include needs a file name"));
        }
        self.end_of_value("include")?;
        if !self.includes {
            return Err(ConfError::at(
                &pos,
                format!("include {name:?}: includes are not allowed here"),
            ));
        }
        let dir = self.file.parent().unwrap_or(Path::new(""));
        let path = dir.join(&name);
        let me = self.file.as_ref().clone();
        if self.including.len() >= MAX_INCLUDE_DEPTH || self.including.contains(&me) {
            return Err(ConfError::at(
                &pos,
                format!("include {name:?}: includes nest too deep (an include cycle?)"),
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfError::at(
                &pos,
                format!(
                    "cannot read include file {name:?} ({}): {e}",
                    path.display()
                ),
            )
        })?;
        self.including.push(me);
        let depth = self.depth;
        let mut parser = Parser::new(&text, &path, self.including);
        parser.depth = depth;
        let included = parser.document();
        self.including.pop();
        for entry in included?.entries {
            self.push(entry);
        }
        Ok(())
    }

    /// A value of any kind, starting at the next character.
    fn value(&mut self) -> Result<Value, ConfError> {
        let pos = self.pos();
        if !matches!(self.lx.peek(), Some('{' | '[')) {
            return self.value_at(pos);
        }
        if self.depth >= MAX_NESTING {
            return Err(ConfError::at(
                &pos,
                format!("blocks and arrays nest too deep (more than {MAX_NESTING} levels)"),
            ));
        }
        self.depth += 1;
        let value = self.value_at(pos);
        self.depth -= 1;
        value
    }

    /// A value of any kind starting at the next character, which is at `pos`.
    fn value_at(&mut self, pos: Pos) -> Result<Value, ConfError> {
        let kind = match self.lx.peek() {
            Some('{') => {
                self.lx.bump();
                self.scopes.push(Map::default());
                let result = self.entries(Some(pos.line));
                let map = self.scopes.pop().unwrap_or_default();
                result?;
                Kind::Map(map)
            }
            Some('[') => {
                self.lx.bump();
                Kind::Array(self.array(pos.line)?)
            }
            Some(q @ ('"' | '\'')) => {
                self.lx.bump();
                Kind::Str(self.lx.quoted(q).map_err(|e| self.err(e))?)
            }
            Some('$') => {
                self.lx.bump();
                let name = self.lx.bare();
                return self.variable(&name, pos);
            }
            _ => {
                let word = self.lx.bare();
                if word.is_empty() {
                    return Err(self.err("expected a value"));
                }
                classify(&word).map_err(|e| ConfError::at(&pos, e))?
            }
        };
        Ok(Value { kind, pos })
    }

    /// The elements of an array opened on `open_line`, up to its `]` (consumed).
    fn array(&mut self, open_line: u32) -> Result<Vec<Value>, ConfError> {
        let mut items = Vec::new();
        loop {
            self.lx.skip_space();
            match self.lx.peek() {
                None => return Err(self.err_at(open_line, "this '[' is never closed")),
                Some(']') => {
                    self.lx.bump();
                    return Ok(items);
                }
                Some(',') => {
                    self.lx.bump();
                }
                Some(c @ ('}' | ';')) => {
                    return Err(self.err(format!("unexpected {c:?} in an array")));
                }
                Some(_) => {
                    items.push(self.value()?);
                    self.lx.skip_blanks();
                    match self.lx.peek() {
                        None | Some('\n' | ',' | ']') => {}
                        Some(c) => {
                            return Err(self.err(format!(
                                "unexpected {c:?} after an array element (expected ',', a \
                                 newline or ']')"
                            )));
                        }
                    }
                }
            }
        }
    }

    /// `$name`: the nearest earlier key `name`, else the environment variable.
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Value, ConfError> {
        if name.is_empty() {
            return Err(ConfError::at(&pos, "'$' without a variable name"));
        }
        // A bcrypt hash written unquoted (`password: $2a$11$...`) is a string, as in
        // nats-server.
        if ["2a$", "2b$", "2y$"].iter().any(|p| name.starts_with(p)) {
            return Ok(Value {
                kind: Kind::Str(format!("${name}")),
                pos,
            });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some(entry) = scope.entries.iter_mut().rev().find(|e| e.key == name) {
                entry.used_as_variable = true;
                return Ok(Value {
                    kind: entry.value.kind.clone(),
                    pos,
                });
            }
        }
        match std::env::var(name) {
            Ok(text) => {
                let kind = classify(&text).map_err(|e| ConfError::at(&pos, e))?;
                Ok(Value { kind, pos })
            }
            Err(_) => Err(ConfError::at(
                &pos,
                format!(
                    "variable ${name} is not defined (no key {name:?} before it, and no \
                     environment variable {name})"
                ),
            )),
        }
    }
}
