//! This server's own interest, as its routes are told it: one `RS+` per account and subject
//! (and queue group) the first time a local subscriber wants it, `RS-` when the last one is
//! gone, and for a queue group its weight (how many local members it has) again whenever that
//! changes, as nats-server 2.9.10 does. Pure: counts in, protocol lines out.

use bytes::BytesMut;
use sluice_protocol::route::{encode_rs_sub, encode_rs_unsub};
use sluice_protocol::ByteStr;
use std::collections::HashMap;
use std::sync::Arc;

/// Local subscribers per account, subject and queue group.
#[derive(Default)]
pub(crate) struct LocalInterest {
    counts: HashMap<(Arc<str>, ByteStr, Option<ByteStr>), u32>,
}

impl LocalInterest {
    /// Counts one more local subscriber; writes what the routes must be told (if anything)
    /// into `line`.
    pub(crate) fn add(
        &mut self,
        account: &Arc<str>,
        subject: &ByteStr,
        queue: Option<&ByteStr>,
        line: &mut BytesMut,
    ) {
        let n = self
            .counts
            .entry((account.clone(), subject.clone(), queue.cloned()))
            .or_insert(0);
        *n += 1;
        match queue {
            None if *n == 1 => encode_rs_sub(line, account, subject, None),
            None => {}
            Some(q) => encode_rs_sub(line, account, subject, Some((q, *n))),
        }
    }

    /// Counts one local subscriber fewer; writes what the routes must be told into `line`.
    pub(crate) fn remove(
        &mut self,
        account: &Arc<str>,
        subject: &ByteStr,
        queue: Option<&ByteStr>,
        line: &mut BytesMut,
    ) {
        let key = (account.clone(), subject.clone(), queue.cloned());
        let Some(n) = self.counts.get_mut(&key) else {
            return;
        };
        *n -= 1;
        let n = *n;
        if n == 0 {
            self.counts.remove(&key);
            encode_rs_unsub(line, account, subject, queue.map(|q| &**q));
        } else if let Some(q) = queue {
            encode_rs_sub(line, account, subject, Some((q, n)));
        }
    }

    /// Everything a newly joined route must be told: one `RS+` per account, subject and
    /// queue group.
    pub(crate) fn all(&self, out: &mut BytesMut) {
        for ((account, subject, queue), n) in &self.counts {
            encode_rs_sub(out, account, subject, queue.as_deref().map(|q| (q, *n)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(i: &mut LocalInterest, s: &str, q: Option<&str>) -> String {
        add_in(i, "$G", s, q)
    }

    fn add_in(i: &mut LocalInterest, a: &str, s: &str, q: Option<&str>) -> String {
        let mut b = BytesMut::new();
        i.add(
            &Arc::from(a),
            &s.into(),
            q.map(ByteStr::from).as_ref(),
            &mut b,
        );
        String::from_utf8(b.to_vec()).unwrap()
    }

    fn remove(i: &mut LocalInterest, s: &str, q: Option<&str>) -> String {
        remove_in(i, "$G", s, q)
    }

    fn remove_in(i: &mut LocalInterest, a: &str, s: &str, q: Option<&str>) -> String {
        let mut b = BytesMut::new();
        i.remove(
            &Arc::from(a),
            &s.into(),
            q.map(ByteStr::from).as_ref(),
            &mut b,
        );
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn a_subject_is_announced_once_and_retracted_with_its_last_subscriber() {
        let mut i = LocalInterest::default();
        assert_eq!(add(&mut i, "foo", None), "RS+ $G foo\r\n");
        assert_eq!(add(&mut i, "foo", None), "");
        assert_eq!(add(&mut i, "foo.*", None), "RS+ $G foo.*\r\n");
        assert_eq!(remove(&mut i, "foo", None), "");
        assert_eq!(remove(&mut i, "foo", None), "RS- $G foo\r\n");
        assert_eq!(
            remove(&mut i, "foo", None),
            "",
            "not counted: nothing to say"
        );
        let mut all = BytesMut::new();
        i.all(&mut all);
        assert_eq!(&all[..], b"RS+ $G foo.*\r\n");
    }

    /// As captured from nats-server 2.9.10 (protocol-spec/routes.md): the weight is sent
    /// again on every change, and RS- with the queue when the last member goes.
    #[test]
    fn a_queue_group_is_announced_with_its_weight_on_every_change() {
        let mut i = LocalInterest::default();
        assert_eq!(add(&mut i, "work", Some("q1")), "RS+ $G work q1 1\r\n");
        assert_eq!(add(&mut i, "work", Some("q1")), "RS+ $G work q1 2\r\n");
        assert_eq!(add(&mut i, "work", None), "RS+ $G work\r\n");
        assert_eq!(remove(&mut i, "work", Some("q1")), "RS+ $G work q1 1\r\n");
        assert_eq!(remove(&mut i, "work", Some("q1")), "RS- $G work q1\r\n");
        let mut all = BytesMut::new();
        i.all(&mut all);
        assert_eq!(&all[..], b"RS+ $G work\r\n");
    }

    #[test]
    fn each_account_is_announced_on_its_own() {
        let mut i = LocalInterest::default();
        assert_eq!(add_in(&mut i, "A", "foo", None), "RS+ A foo\r\n");
        assert_eq!(add_in(&mut i, "B", "foo", None), "RS+ B foo\r\n");
        assert_eq!(add(&mut i, "foo", None), "RS+ $G foo\r\n");
        assert_eq!(add_in(&mut i, "A", "foo", None), "");
        assert_eq!(remove_in(&mut i, "B", "foo", None), "RS- B foo\r\n");
        assert_eq!(remove_in(&mut i, "A", "foo", None), "");
        assert_eq!(remove_in(&mut i, "A", "foo", None), "RS- A foo\r\n");
        let mut all = BytesMut::new();
        i.all(&mut all);
        assert_eq!(&all[..], b"RS+ $G foo\r\n");
    }
}
