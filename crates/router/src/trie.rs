//! The bare subject trie: no locking, no cache, no validation.
//!
//! Each node owns the subscriptions whose pattern ends at it (`subs`), the subscriptions whose
//! pattern ends with `>` right below it (`tail`: a `>` token never has children), a dedicated
//! child for the `*` token and a map of literal-token children.
//!
//! Matching walks the literal subject one token at a time without allocating; at each level
//! it follows the literal child and the `*` child and collects the `>` subscriptions.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_protocol::subject::{WILDCARD_ONE, WILDCARD_TAIL};

use crate::result::{MatchResult, QueueGroup};

/// Splits off the first `.`-separated token: `("a", Some("b.c"))` for `"a.b.c"`.
#[inline]
fn split_first(subject: &str) -> (&str, Option<&str>) {
    match subject.find('.') {
        Some(i) => (&subject[..i], Some(&subject[i + 1..])),
        None => (subject, None),
    }
}

/// One queue group's members stored for one pattern.
#[derive(Debug)]
struct QueueSubs<T> {
    name: Arc<str>,
    members: Vec<T>,
}

/// The subscriptions registered for exactly one pattern.
#[derive(Debug)]
struct Subs<T> {
    plain: Vec<T>,
    queues: Vec<QueueSubs<T>>,
}

impl<T> Default for Subs<T> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T: Clone + PartialEq> Subs<T> {
    #[inline]
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    fn add(&mut self, queue: Option<&str>, value: T) {
        match queue {
            None => self.plain.push(value),
            Some(q) => match self.queues.iter_mut().find(|g| &*g.name == q) {
                Some(g) => g.members.push(value),
                None => self.queues.push(QueueSubs {
                    name: Arc::from(q),
                    members: vec![value],
                }),
            },
        }
    }

    /// Removes one entry equal to `value`; true if found.
    fn remove(&mut self, queue: Option<&str>, value: &T) -> bool {
        match queue {
            None => remove_one(&mut self.plain, value),
            Some(q) => {
                let Some(gi) = self.queues.iter().position(|g| &*g.name == q) else {
                    return false;
                };
                let found = remove_one(&mut self.queues[gi].members, value);
                if self.queues[gi].members.is_empty() {
                    self.queues.swap_remove(gi);
                }
                found
            }
        }
    }

    /// Appends these subscriptions to `out`, merging queue groups by name.
    fn append_to(&self, out: &mut MatchResult<T>) {
        out.plain.extend_from_slice(&self.plain);
        for g in &self.queues {
            match out
                .queues
                .iter_mut()
                .find(|o| Arc::ptr_eq(&o.name, &g.name) || o.name == g.name)
            {
                Some(o) => o.members.extend_from_slice(&g.members),
                None => out.queues.push(QueueGroup {
                    name: g.name.clone(),
                    members: g.members.clone(),
                }),
            }
        }
    }
}

fn remove_one<T: PartialEq>(v: &mut Vec<T>, value: &T) -> bool {
    match v.iter().position(|x| x == value) {
        Some(i) => {
            v.swap_remove(i);
            true
        }
        None => false,
    }
}

#[derive(Debug)]
struct Node<T> {
    literals: HashMap<Box<str>, Node<T>>,
    star: Option<Box<Node<T>>>,
    /// Subscriptions for `<path to here>.>`.
    tail: Subs<T>,
    /// Subscriptions for `<path to here>`.
    subs: Subs<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            literals: HashMap::new(),
            star: None,
            tail: Subs::default(),
            subs: Subs::default(),
        }
    }
}

impl<T: Clone + PartialEq> Node<T> {
    fn is_empty(&self) -> bool {
        self.literals.is_empty()
            && self.star.is_none()
            && self.tail.is_empty()
            && self.subs.is_empty()
    }

    fn child_mut(&mut self, tok: &str) -> &mut Node<T> {
        if tok == WILDCARD_ONE {
            return self.star.get_or_insert_with(Box::default);
        }
        if !self.literals.contains_key(tok) {
            self.literals.insert(tok.into(), Node::default());
        }
        self.literals.get_mut(tok).expect("just inserted")
    }

    /// Removes one entry for the remaining pattern `rest` below this node, pruning children
    /// that become empty.
    fn remove(&mut self, rest: &str, queue: Option<&str>, value: &T) -> bool {
        let (tok, next) = split_first(rest);
        if tok == WILDCARD_TAIL && next.is_none() {
            return self.tail.remove(queue, value);
        }
        if tok == WILDCARD_ONE {
            let Some(child) = self.star.as_deref_mut() else {
                return false;
            };
            let found = child.remove_at(next, queue, value);
            if found && child.is_empty() {
                self.star = None;
            }
            found
        } else {
            let Some(child) = self.literals.get_mut(tok) else {
                return false;
            };
            let found = child.remove_at(next, queue, value);
            if found && child.is_empty() {
                self.literals.remove(tok);
            }
            found
        }
    }

    #[inline]
    fn remove_at(&mut self, next: Option<&str>, queue: Option<&str>, value: &T) -> bool {
        match next {
            None => self.subs.remove(queue, value),
            Some(rest) => self.remove(rest, queue, value),
        }
    }

    /// Collects the subscriptions matching the remaining literal subject `rest`.
    fn collect(&self, rest: &str, out: &mut MatchResult<T>) {
        let (tok, next) = split_first(rest);
        self.tail.append_to(out);
        if let Some(star) = self.star.as_deref() {
            star.collect_at(next, out);
        }
        if let Some(child) = self.literals.get(tok) {
            child.collect_at(next, out);
        }
    }

    #[inline]
    fn collect_at(&self, next: Option<&str>, out: &mut MatchResult<T>) {
        match next {
            None => self.subs.append_to(out),
            Some(rest) => self.collect(rest, out),
        }
    }

    /// True if any subscription matches the remaining literal subject `rest`.
    fn any(&self, rest: &str) -> bool {
        if !self.tail.is_empty() {
            return true;
        }
        let (tok, next) = split_first(rest);
        self.star.as_deref().is_some_and(|c| c.any_at(next))
            || self.literals.get(tok).is_some_and(|c| c.any_at(next))
    }

    #[inline]
    fn any_at(&self, next: Option<&str>) -> bool {
        match next {
            None => !self.subs.is_empty(),
            Some(rest) => self.any(rest),
        }
    }
}

/// The trie of all subscriptions.
#[derive(Debug)]
pub(crate) struct Trie<T> {
    root: Node<T>,
    count: usize,
}

impl<T> Default for Trie<T> {
    fn default() -> Self {
        Self {
            root: Node::default(),
            count: 0,
        }
    }
}

impl<T: Clone + PartialEq> Trie<T> {
    /// Number of stored subscriptions.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Adds a subscription. `pattern` must be a valid subject (checked by the caller).
    pub(crate) fn insert(&mut self, pattern: &str, queue: Option<&str>, value: T) {
        let mut node = &mut self.root;
        let mut rest = pattern;
        loop {
            let (tok, next) = split_first(rest);
            if tok == WILDCARD_TAIL && next.is_none() {
                node.tail.add(queue, value);
                break;
            }
            node = node.child_mut(tok);
            match next {
                Some(r) => rest = r,
                None => {
                    node.subs.add(queue, value);
                    break;
                }
            }
        }
        self.count += 1;
    }

    /// Removes one entry equal to `value` stored for exactly `pattern` and `queue`.
    pub(crate) fn remove(&mut self, pattern: &str, queue: Option<&str>, value: &T) -> bool {
        let found = self.root.remove(pattern, queue, value);
        if found {
            self.count -= 1;
        }
        found
    }

    /// Appends every subscription matching the literal `subject` to `out`.
    pub(crate) fn collect(&self, subject: &str, out: &mut MatchResult<T>) {
        self.root.collect(subject, out);
    }

    /// True if any subscription matches the literal `subject`.
    pub(crate) fn any(&self, subject: &str) -> bool {
        self.root.any(subject)
    }

    /// True if the trie holds no node besides an empty root (everything was pruned).
    #[cfg(test)]
    pub(crate) fn is_pruned(&self) -> bool {
        self.root.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(t: &Trie<u32>, s: &str) -> MatchResult<u32> {
        let mut out = MatchResult::default();
        t.collect(s, &mut out);
        out
    }

    #[test]
    fn split() {
        assert_eq!(split_first("a.b.c"), ("a", Some("b.c")));
        assert_eq!(split_first("a"), ("a", None));
        assert_eq!(split_first(""), ("", None));
        assert_eq!(split_first("a."), ("a", Some("")));
    }

    #[test]
    fn prune_after_removing_everything() {
        let mut t = Trie::default();
        let pats = ["a", "a.b", "a.*", "a.>", "*.b.c", ">", "a.b.c.d"];
        for (i, p) in pats.iter().enumerate() {
            t.insert(p, None, i as u32);
            t.insert(p, Some("q"), i as u32);
        }
        assert_eq!(t.count(), 2 * pats.len());
        for (i, p) in pats.iter().enumerate() {
            assert!(t.remove(p, None, &(i as u32)));
            assert!(t.remove(p, Some("q"), &(i as u32)));
            assert!(!t.remove(p, Some("q"), &(i as u32)));
        }
        assert_eq!(t.count(), 0);
        assert!(t.is_pruned());
        assert!(collect(&t, "a.b.c").is_empty());
    }

    #[test]
    fn any_agrees_with_collect() {
        let mut t = Trie::default();
        t.insert("a.*.c", None, 1);
        t.insert("b.>", Some("q"), 2);
        for s in ["a", "a.b", "a.b.c", "a.b.c.d", "b", "b.x", "b.x.y", "c"] {
            assert_eq!(t.any(s), !collect(&t, s).is_empty(), "{s}");
        }
    }
}
