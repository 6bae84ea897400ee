//! Subject patterns and the mapping between an export's subjects and an import's: pure
//! functions over tokens, no I/O.
//!
//! A [`Mapping`] joins the exporting account's pattern `F` (the import's `subject`) and the
//! importing account's pattern `Q` (its `to`, or `prefix.F`). Each wildcard of `Q` stands
//! for one of `F`'s: a `*` for `F`'s next `*` in order, `$N` or `{{wildcard(N)}}` for its
//! N-th, `>` for its `>`. A stream import maps `F` to `Q` (messages flow into the importer);
//! a service import maps `Q` to `F` (requests flow into the exporter).

use std::fmt;

/// One token of `Q`, as it relates to `F`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(String),
    /// `F`'s `*` number `.0` (from 0), or `None`: a `*` of `Q` beyond `F`'s (a service
    /// import's importer-side wildcard whose token the exporter does not see).
    Star(Option<usize>),
    /// `F`'s trailing `>`.
    Rest,
}

/// Why two patterns cannot be mapped; the texts are nats-server 2.9.10's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("invalid subject")]
    InvalidSubject,
    #[error("invalid mapping destination: not using all of the token wildcard(s) in {0}")]
    NotAllWildcards(String),
    /// Stricter than nats-server: a reference to a wildcard `F` does not have, or a mapping
    /// function other than `wildcard`.
    #[error(
        "invalid mapping destination: {0:?} is not served (only *, $N and {{{{wildcard(N)}}}})"
    )]
    Unsupported(String),
    /// Stricter than nats-server: messages would be delivered on a subject with a wildcard.
    #[error("more wildcards in the import's subject {0:?} than in the export's")]
    ExtraWildcards(String),
}

/// The mapping between `F` (exporter side) and `Q` (importer side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    f: Vec<String>,
    q: Vec<Tok>,
    /// How many `*` tokens `F` has.
    f_stars: usize,
}

/// A subject or pattern is valid for a mapping: non-empty tokens, `>` only last.
fn valid_pattern(s: &str) -> bool {
    let toks: Vec<&str> = s.split('.').collect();
    !s.is_empty()
        && toks
            .iter()
            .all(|t| !t.is_empty() && (t.starts_with("{{") || !t.contains(char::is_whitespace)))
        && toks
            .iter()
            .enumerate()
            .all(|(i, t)| *t != ">" || i == toks.len() - 1)
}

/// `$N` or `{{wildcard(N)}}` (spaces allowed inside the braces): N (from 1).
fn reference(tok: &str) -> Option<Result<usize, ()>> {
    if let Some(n) = tok.strip_prefix('$') {
        return Some(n.parse::<usize>().map_err(|_| ()));
    }
    let inner = tok.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let arg = inner
        .strip_prefix("wildcard")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'));
    Some(arg.map_or(Err(()), |a| a.trim().parse::<usize>().map_err(|_| ())))
}

impl Mapping {
    /// Maps export-side `f` to import-side `q`. `service`: a service import (its `q` may
    /// have `*`s beyond `f`'s; a stream import's may not).
    pub fn new(f: &str, q: &str, service: bool) -> Result<Mapping, MappingError> {
        if !valid_pattern(f) || !valid_pattern(q) {
            return Err(MappingError::InvalidSubject);
        }
        let f_toks: Vec<String> = f.split('.').map(str::to_owned).collect();
        let f_stars = f_toks.iter().filter(|t| *t == "*").count();
        let f_rest = f_toks.last().is_some_and(|t| t == ">");
        let mut next_star = 0;
        let mut used = vec![false; f_stars];
        let mut toks = Vec::new();
        let mut q_rest = false;
        for t in q.split('.') {
            let tok = match t {
                "*" => {
                    let i = next_star;
                    next_star += 1;
                    if i < f_stars {
                        used[i] = true;
                        Tok::Star(Some(i))
                    } else if service {
                        Tok::Star(None)
                    } else {
                        return Err(MappingError::ExtraWildcards(q.to_owned()));
                    }
                }
                ">" => {
                    q_rest = true;
                    Tok::Rest
                }
                _ => match reference(t) {
                    None if t.contains("{{") || t.contains('$') => {
                        return Err(MappingError::Unsupported(t.to_owned()))
                    }
                    None => Tok::Lit(t.to_owned()),
                    Some(Ok(n)) if n >= 1 && n <= f_stars => {
                        used[n - 1] = true;
                        Tok::Star(Some(n - 1))
                    }
                    Some(_) => return Err(MappingError::Unsupported(t.to_owned())),
                },
            };
            toks.push(tok);
        }
        if f_rest != q_rest {
            return Err(MappingError::InvalidSubject);
        }
        if used.iter().any(|u| !u) {
            // nats-server names the destination with its `*`s as `$N`.
            let mut n = 0;
            let shown: Vec<String> = q
                .split('.')
                .map(|t| {
                    if t == "*" {
                        n += 1;
                        format!("${n}")
                    } else {
                        t.to_owned()
                    }
                })
                .collect();
            return Err(MappingError::NotAllWildcards(shown.join(".")));
        }
        Ok(Mapping {
            f: f_toks,
            q: toks,
            f_stars,
        })
    }

    /// The import side's pattern, its wildcards as plain `*` / `>`.
    pub fn q_pattern(&self) -> String {
        self.q
            .iter()
            .map(|t| match t {
                Tok::Lit(s) => s.as_str(),
                Tok::Star(_) => "*",
                Tok::Rest => ">",
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The export side's pattern.
    pub fn f_pattern(&self) -> String {
        self.f.join(".")
    }

    /// `subject` (matching `F`) as the importer sees it. `subject` may itself be a pattern
    /// (its tokens are carried as they are).
    pub fn f_to_q(&self, subject: &str) -> Option<String> {
        let toks: Vec<&str> = subject.split('.').collect();
        let mut stars = Vec::with_capacity(self.f_stars);
        let mut rest: Option<String> = None;
        for (i, f) in self.f.iter().enumerate() {
            match f.as_str() {
                ">" => {
                    if toks.len() <= i {
                        return None;
                    }
                    rest = Some(toks[i..].join("."));
                    break;
                }
                "*" => stars.push(*toks.get(i)?),
                lit => {
                    if *toks.get(i)? != lit {
                        return None;
                    }
                }
            }
        }
        if rest.is_none() && toks.len() != self.f.len() {
            return None;
        }
        let mut out = Vec::with_capacity(self.q.len());
        for t in &self.q {
            match t {
                Tok::Lit(s) => out.push(s.clone()),
                Tok::Star(Some(i)) => out.push(stars[*i].to_owned()),
                Tok::Star(None) => return None,
                Tok::Rest => out.push(rest.clone()?),
            }
        }
        Some(out.join("."))
    }

    /// `subject` (matching `Q`) as the exporter sees it; a pattern `subject` gives the
    /// pattern of the exporter's subjects it covers.
    pub fn q_to_f(&self, subject: &str) -> Option<String> {
        let toks: Vec<&str> = subject.split('.').collect();
        let mut stars: Vec<Option<&str>> = vec![None; self.f_stars];
        let mut rest: Option<String> = None;
        for (i, q) in self.q.iter().enumerate() {
            match q {
                Tok::Rest => {
                    if toks.len() <= i {
                        return None;
                    }
                    rest = Some(toks[i..].join("."));
                    break;
                }
                Tok::Star(which) => {
                    let tok = *toks.get(i)?;
                    if tok == ">" {
                        return None;
                    }
                    if let Some(w) = which {
                        // A reference used twice must see the same token.
                        match stars[*w] {
                            Some(seen) if seen != tok => return None,
                            _ => stars[*w] = Some(tok),
                        }
                    }
                }
                Tok::Lit(lit) => {
                    if *toks.get(i)? != lit {
                        return None;
                    }
                }
            }
        }
        if rest.is_none() && toks.len() != self.q.len() {
            return None;
        }
        let mut out = Vec::with_capacity(self.f.len());
        let mut star = 0;
        for f in &self.f {
            match f.as_str() {
                "*" => {
                    out.push(stars[star]?.to_owned());
                    star += 1;
                }
                ">" => out.push(rest.clone()?),
                lit => out.push(lit.to_owned()),
            }
        }
        Some(out.join("."))
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <-> {}", self.f_pattern(), self.q_pattern())
    }
}

/// Is every subject `a` matches also matched by `b`? (Both patterns.)
pub fn is_subset(a: &str, b: &str) -> bool {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    for (i, bt) in b.iter().enumerate() {
        match *bt {
            ">" => return a.len() > i,
            "*" => match a.get(i) {
                Some(&">") | None => return false,
                Some(_) => {}
            },
            lit => {
                if a.get(i) != Some(&lit) {
                    return false;
                }
            }
        }
    }
    a.len() == b.len()
}

/// Is there a subject both patterns match?
pub fn intersects(a: &str, b: &str) -> bool {
    let a: Vec<&str> = a.split('.').collect();
    let b: Vec<&str> = b.split('.').collect();
    let mut i = 0;
    loop {
        match (a.get(i), b.get(i)) {
            (Some(&">"), Some(_)) | (Some(_), Some(&">")) => return true,
            (Some(x), Some(y)) => {
                if *x != "*" && *y != "*" && x != y {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_positional_wildcards() {
        let m = Mapping::new("pub.>", "fa.pub.>", false).unwrap();
        assert_eq!(m.f_to_q("pub.x.y").as_deref(), Some("fa.pub.x.y"));
        assert_eq!(m.q_to_f("fa.pub.x").as_deref(), Some("pub.x"));
        assert_eq!(m.q_to_f("fa.pub.*").as_deref(), Some("pub.*"));
        assert_eq!(m.f_to_q("pub"), None);
        let m = Mapping::new("h.*.*", "q.*.z.*", false).unwrap();
        assert_eq!(m.f_to_q("h.1.2").as_deref(), Some("q.1.z.2"));
        assert_eq!(m.q_to_f("q.1.z.2").as_deref(), Some("h.1.2"));
        assert_eq!(m.q_to_f("q.1.y.2"), None);
    }

    #[test]
    fn references_reorder() {
        let m = Mapping::new("h.*.*", "q.$2.{{ wildcard(1) }}", false).unwrap();
        assert_eq!(m.f_to_q("h.a.b").as_deref(), Some("q.b.a"));
        assert_eq!(m.q_to_f("q.b.a").as_deref(), Some("h.a.b"));
        assert_eq!(m.q_pattern(), "q.*.*");
    }

    #[test]
    fn literal_to_literal_and_service_extra_star() {
        let m = Mapping::new("lim.x", "limx", false).unwrap();
        assert_eq!(m.f_to_q("lim.x").as_deref(), Some("limx"));
        assert_eq!(m.f_to_q("lim.y"), None);
        // A service import's importer-side wildcard the exporter does not see.
        let m = Mapping::new("h", "x.*", true).unwrap();
        assert_eq!(m.q_to_f("x.anything").as_deref(), Some("h"));
        assert_eq!(
            Mapping::new("h", "x.*", false),
            Err(MappingError::ExtraWildcards("x.*".into()))
        );
    }

    #[test]
    fn nats_server_errors() {
        assert_eq!(
            Mapping::new("h.*", "q.>", false),
            Err(MappingError::InvalidSubject)
        );
        let e = Mapping::new("h.*.*", "q.*", false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid mapping destination: not using all of the token wildcard(s) in q.$1"
        );
        assert!(matches!(
            Mapping::new("h.*", "q.{{partition(3,1)}}", false),
            Err(MappingError::Unsupported(_))
        ));
        assert!(matches!(
            Mapping::new("h.*", "q.$2", false),
            Err(MappingError::Unsupported(_))
        ));
        assert_eq!(
            Mapping::new("h..x", "q", false),
            Err(MappingError::InvalidSubject)
        );
    }

    #[test]
    fn subsets_and_intersections() {
        assert!(is_subset("a.b", "a.*"));
        assert!(is_subset("a.*", "a.>"));
        assert!(is_subset("a.>", "a.>"));
        assert!(is_subset("a.b.c", ">"));
        assert!(!is_subset("a.>", "a.*"));
        assert!(!is_subset("a.*", "a.b"));
        assert!(!is_subset("a", "a.>"));
        assert!(intersects("a.*", "*.b"));
        assert!(intersects(">", "x.y"));
        assert!(intersects("a.>", "a.b.c"));
        assert!(!intersects("a.*", "a.b.c"));
        assert!(!intersects("a.b", "a.c"));
        assert!(!intersects("a", "a.>"));
    }
}
