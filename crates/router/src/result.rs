//! The outcome of matching a literal subject: plain subscribers and queue groups.

use std::sync::Arc;

use rand::Rng;

/// Everything interested in one published subject.
///
/// `plain` holds every plain (non-queue) subscription whose pattern matches, once per stored
/// entry (the same value subscribed twice appears twice). `queues` holds exactly one
/// [`QueueGroup`] per distinct queue name, merging members subscribed through different
/// patterns. The order of `plain`, of `queues` and of each group's members is unspecified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResult<T> {
    /// Plain subscribers: each gets a copy of the message.
    pub plain: Vec<T>,
    /// Queue groups: each group gets one copy, delivered to one member.
    pub queues: Vec<QueueGroup<T>>,
}

impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        Self {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> MatchResult<T> {
    /// True if nobody is interested.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// Number of deliveries a message would cause: plain subscribers plus number of groups.
    #[inline]
    pub fn len(&self) -> usize {
        self.plain.len() + self.queues.len()
    }

    /// The group named `name`, if any member of it matched.
    pub fn queue(&self, name: &str) -> Option<&QueueGroup<T>> {
        self.queues.iter().find(|g| &*g.name == name)
    }
}

/// The members of one queue group that matched a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup<T> {
    /// The queue group name.
    pub name: Arc<str>,
    /// Matching members; never empty in a result produced by the router.
    pub members: Vec<T>,
}

impl<T> QueueGroup<T> {
    /// A uniformly random member.
    ///
    /// # Panics
    /// If `members` is empty, which never happens for groups produced by the router.
    #[inline]
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> &T {
        &self.members[rng.gen_range(0..self.members.len())]
    }
}
