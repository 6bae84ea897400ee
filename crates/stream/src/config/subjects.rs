//! Subject rules stream and consumer configs are checked with: nats-server's name and subject
//! validity, subset and collision tests, and subject-transform destinations.

/// nats-server's `isValidName`: non-empty, none of `' '`, `\t`, `\r`, `\n`, `\f`, `.`, `*`, `>`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, ' ' | '\t' | '\r' | '\n' | '\x0c' | '.' | '*' | '>'))
}

/// nats-server's `IsValidSubject`: non-empty tokens without whitespace (space, tab, CR, LF,
/// FF), and `>` only as the last token.
pub fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for t in subject.split('.') {
        if t.is_empty() || seen_fwc {
            return false;
        }
        if t.contains([' ', '\t', '\n', '\r', '\x0c']) {
            return false;
        }
        if t == ">" {
            seen_fwc = true;
        }
    }
    true
}

/// A valid subject with no `*` or `>` token.
pub fn is_valid_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && subject.split('.').all(|t| t != "*" && t != ">")
}

fn analyze(tokens: &[&str]) -> (bool, bool) {
    let pwc = tokens.contains(&"*");
    let fwc = tokens.contains(&">");
    (pwc, fwc)
}

fn tokens_can_match(t1: &str, t2: &str) -> bool {
    match (t1.as_bytes().first(), t2.as_bytes().first()) {
        (Some(a), Some(b)) => matches!(a, b'*' | b'>') || matches!(b, b'*' | b'>') || t1 == t2,
        _ => false,
    }
}

fn is_subset_match_tokens(tokens: &[&str], test: &[&str]) -> bool {
    for (i, t2) in test.iter().enumerate() {
        let Some(t1) = tokens.get(i) else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if *t2 == ">" {
            return true;
        }
        if t1.is_empty() || *t1 == ">" {
            return false;
        }
        if *t1 == "*" {
            if *t2 != "*" {
                return false;
            }
            continue;
        }
        if !t2.starts_with('*') && t1 != t2 {
            return false;
        }
    }
    tokens.len() == test.len()
}

/// nats-server's `subjectIsSubsetMatch`: every subject `subject` can match is matched by
/// `test` (e.g. `foo.*` is a subset of `>`, `*.*` and `foo.*`, not of `foo.bar`).
pub fn subject_is_subset_match(subject: &str, test: &str) -> bool {
    let a: Vec<&str> = subject.split('.').collect();
    let b: Vec<&str> = test.split('.').collect();
    is_subset_match_tokens(&a, &b)
}

/// nats-server's `SubjectsCollide`: could one literal subject match both? Used for "subjects
/// overlap with an existing stream" (10065) and a config's own subjects.
pub fn subjects_collide(subj1: &str, subj2: &str) -> bool {
    if subj1 == subj2 {
        return true;
    }
    let toks1: Vec<&str> = subj1.split('.').collect();
    let toks2: Vec<&str> = subj2.split('.').collect();
    let (pwc1, fwc1) = analyze(&toks1);
    let (pwc2, fwc2) = analyze(&toks2);
    let (l1, l2) = (!(pwc1 || fwc1), !(pwc2 || fwc2));
    if l1 && l2 {
        return false;
    }
    if l1 && !l2 {
        return is_subset_match_tokens(&toks1, &toks2);
    }
    if l2 && !l1 {
        return is_subset_match_tokens(&toks2, &toks1);
    }
    if !fwc1 && !fwc2 && toks1.len() != toks2.len() {
        return false;
    }
    let (n1, n2) = (toks1.len(), toks2.len());
    if n1 != n2 && ((n1 < n2 && !fwc1) || (n2 < n1 && !fwc2)) {
        return false;
    }
    toks1
        .iter()
        .zip(toks2.iter())
        .all(|(a, b)| tokens_can_match(a, b))
}

/// True if any subject of `a` collides with any of `b`.
pub fn subjects_overlap(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| b.iter().any(|y| subjects_collide(x, y)))
}

/// A light version of nats-server's `NewSubjectTransform` check: both subjects valid (an empty
/// source is `>`), no `*` in the destination, `>` in both or neither, and mapping functions
/// (`{{wildcard(n)}}`, `$n`, ...) only when the source has `*` tokens, with wildcard indexes
/// in range. Returns the reason on failure.
pub fn check_subject_transform(src: &str, dest: &str) -> Result<(), String> {
    let src = if src.is_empty() { ">" } else { src };
    if !is_valid_subject(src) || !is_valid_subject(dest) {
        return Err("invalid subject".to_owned());
    }
    let stoks: Vec<&str> = src.split('.').collect();
    let dtoks: Vec<&str> = dest.split('.').collect();
    let npwcs = stoks.iter().filter(|t| **t == "*").count();
    let (_, sfwc) = analyze(&stoks);
    let (dpwc, dfwc) = analyze(&dtoks);
    if dpwc || sfwc != dfwc {
        return Err("invalid subject".to_owned());
    }
    for t in dtoks {
        let Some(indexes) = mapping_function_indexes(t) else {
            continue;
        };
        if npwcs == 0 || indexes.iter().any(|&i| i == 0 || i > npwcs) {
            return Err(format!(
                "invalid mapping destination: mapping destination index out of range in {t}"
            ));
        }
    }
    Ok(())
}

/// For a destination token that is a mapping function, the wildcard indexes it refers to
/// (possibly none); `None` for a plain token.
fn mapping_function_indexes(token: &str) -> Option<Vec<usize>> {
    if let Some(n) = token.strip_prefix('$') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            return Some(vec![n.parse().unwrap_or(usize::MAX)]);
        }
        return None;
    }
    let inner = token.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let (func, args) = inner.split_once('(')?;
    let args = args.strip_suffix(')')?;
    let func = func.trim().to_ascii_lowercase();
    let nums = |list: &str| -> Vec<usize> {
        list.split(',')
            .map(str::trim)
            .filter_map(|a| a.parse::<usize>().ok())
            .collect()
    };
    Some(match func.as_str() {
        "wildcard" => nums(args),
        // partition(n, idx, idx...): the first argument is the partition count.
        "partition" => nums(args).into_iter().skip(1).collect(),
        // split(idx, sep), splitfromleft(idx, n), slicefromright(idx, n), ...: first argument.
        _ => nums(args).into_iter().take(1).collect(),
    })
}
