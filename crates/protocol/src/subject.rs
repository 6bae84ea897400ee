//! Subject, queue-name and wildcard validation.
//!
//! A subject is a non-empty sequence of non-empty tokens separated by `.`, containing no
//! whitespace (space, tab, CR, LF). In a subscription, a token that is exactly `*` matches one
//! token and a final token that is exactly `>` matches one or more trailing tokens. A publish
//! subject must be literal (no wildcard tokens). Tokens like `a*` or `>b` are literal.

/// The single-token wildcard.
pub const WILDCARD_ONE: &str = "*";
/// The trailing multi-token wildcard.
pub const WILDCARD_TAIL: &str = ">";

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// True if `subject` is a valid subscription subject: non-empty tokens, no whitespace, and `>`
/// (when present as a whole token) only in the last position.
pub fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut tokens = subject.split('.').peekable();
    while let Some(tok) = tokens.next() {
        if tok.is_empty() || tok.bytes().any(is_space) {
            return false;
        }
        if tok == WILDCARD_TAIL && tokens.peek().is_some() {
            return false;
        }
    }
    true
}

/// True if `subject` is a valid literal subject (valid, and no `*` or `>` token): what a
/// publish may target.
pub fn is_valid_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && !has_wildcard(subject)
}

/// True if any whole token of `subject` is `*` or `>`.
pub fn has_wildcard(subject: &str) -> bool {
    subject
        .split('.')
        .any(|t| t == WILDCARD_ONE || t == WILDCARD_TAIL)
}

/// True if `queue` is a valid queue group name: non-empty, no whitespace.
pub fn is_valid_queue(queue: &str) -> bool {
    !queue.is_empty() && !queue.bytes().any(is_space)
}

/// True if the literal `subject` is matched by the (possibly wildcard) `pattern`.
/// A token-by-token reference implementation: simple rather than fast.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(WILDCARD_TAIL), Some(_)) => return true,
            (Some(WILDCARD_ONE), Some(_)) => {}
            (Some(pt), Some(st)) if pt == st => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_subjects() {
        for s in [
            "foo",
            "foo.bar",
            "foo.*",
            "foo.>",
            "*",
            ">",
            "*.*.>",
            "a*.b>",
            "日本.語",
        ] {
            assert!(is_valid_subject(s), "{s}");
        }
    }

    #[test]
    fn invalid_subjects() {
        for s in [
            "", ".", "foo.", ".foo", "foo..bar", "foo bar", "foo\tbar", ">.foo", "a.>.b",
        ] {
            assert!(!is_valid_subject(s), "{s:?}");
        }
    }

    #[test]
    fn literal_subjects() {
        assert!(is_valid_literal_subject("foo.bar"));
        assert!(is_valid_literal_subject("foo.a*"));
        assert!(!is_valid_literal_subject("foo.*"));
        assert!(!is_valid_literal_subject("foo.>"));
    }

    #[test]
    fn queues() {
        assert!(is_valid_queue("workers"));
        assert!(is_valid_queue("a.b"));
        assert!(!is_valid_queue(""));
        assert!(!is_valid_queue("a b"));
    }

    #[test]
    fn matching() {
        assert!(subject_matches("foo.*", "foo.bar"));
        assert!(!subject_matches("foo.*", "foo.bar.baz"));
        assert!(subject_matches("foo.>", "foo.bar.baz"));
        assert!(!subject_matches("foo.>", "foo"));
        assert!(subject_matches(">", "foo"));
        assert!(subject_matches("*.bar", "foo.bar"));
        assert!(!subject_matches("foo", "foo.bar"));
        assert!(!subject_matches("foo.bar", "foo"));
    }
}
