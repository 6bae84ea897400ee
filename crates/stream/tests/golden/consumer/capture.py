#!/usr/bin/env python3
"""Captures tests/golden/consumer/*.json: real nats-server answers to `$JS.API.CONSUMER.*`
requests, the oracle for tests/consumer_json.rs.

The committed files came from nats-server v2.9.10, started on a fresh store:

    d=$(mktemp -d); nats-server -js -sd "$d" -a 127.0.0.1 -p 42333 -n ORACLE & pid=$!
    python3 capture.py 42333 crates/stream/tests/golden/consumer; kill $pid

(They live in a folder of their own because tests/api_json.rs reads every
tests/golden/*.json as a stream-API case.)

Requests are sent in the order below (later cases depend on earlier ones). One file per
request: n (its place in the order sent), subject, request (JSON) or request_raw, response
(JSON) or, for pulls, the messages received (subject, reply, headers, data). Cases whose v2.9.10 answer is not what v2.10
answers are still written, and the test says what v2.10 answers instead.
Raw NATS protocol over a socket; standard library only.
"""
import json
import os
import socket
import sys


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self._readline()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n'
                       b'SUB _INBOX.r 1\r\nPING\r\n')
        while self._readline() != b"PONG":
            pass

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def _readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _readn(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        d = self.buf[:n]
        self.buf = self.buf[n + 2:]
        return d

    def read_msg(self, timeout=2.0):
        """(subject, reply, headers, data), or None on timeout."""
        self.s.settimeout(timeout)
        try:
            while True:
                line = self._readline()
                if line == b"PING":
                    self.s.sendall(b"PONG\r\n")
                    continue
                if line.startswith(b"MSG "):
                    p = line.split()
                    n = int(p[-1])
                    reply = p[3] if len(p) == 5 else None
                    return p[1], reply, None, self._readn(n)
                if line.startswith(b"HMSG "):
                    p = line.split()
                    hl, n = int(p[-2]), int(p[-1])
                    reply = p[3] if len(p) == 6 else None
                    d = self._readn(n)
                    return p[1], reply, d[:hl], d[hl:]
                if line.startswith(b"-ERR"):
                    raise Exception(line)
        except socket.timeout:
            return None
        finally:
            self.s.settimeout(None)

    def publish(self, subj, payload=b"", reply="_INBOX.r"):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        self.s.sendall(b"PUB %s %s %d\r\n%s\r\n" % (subj.encode(), reply.encode(), len(payload), payload))


c = Client(int(sys.argv[1]))
outdir = sys.argv[2]
os.makedirs(outdir, exist_ok=True)


def body_text(body):
    if isinstance(body, (dict, list)):
        return json.dumps(body)
    return body if isinstance(body, str) else body.decode()


seq = [0]


def write(name, g):
    seq[0] += 1
    g = dict(n=seq[0], **g)
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(g, f, indent=1, ensure_ascii=False)
        f.write("\n")


def request_fields(subj, body):
    b = body_text(body)
    g = {"subject": subj}
    try:
        g["request"] = json.loads(b) if b else None
    except ValueError:
        g["request"] = None
    if g["request"] is None:
        del g["request"]
        g["request_raw"] = b if len(b) <= 64 else "<%d bytes of 'x'>" % len(b)
    return g


def req(name, subj, body=b"", save=True):
    c.publish(subj, body)
    m = c.read_msg()
    assert m is not None, name
    resp = m[3].decode()
    if save:
        g = request_fields(subj, body)
        g["response"] = json.loads(resp) if resp else None
        write(name, g)
    return json.loads(resp) if resp.startswith("{") else resp


def pull(name, subj, body, expect):
    """A pull request on its own inbox: the `expect` messages (or statuses) that answer it."""
    inbox = "_INBOX.pull." + name
    c.s.sendall(b"SUB %s 2\r\n" % inbox.encode())
    c.publish(subj, body, reply=inbox)
    msgs = []
    for _ in range(expect):
        m = c.read_msg()
        if m is None:
            break
        s, r, h, d = m
        msgs.append({"subject": s.decode(), "reply": r.decode() if r else None,
                     "headers": h.decode() if h else None, "data": d.decode()})
    c.s.sendall(b"UNSUB 2\r\n")
    g = request_fields(subj, body)
    g["messages"] = msgs
    write(name, g)
    return msgs


def ack(reply, body=b"+ACK"):
    """Acks with a reply, so the server's (empty) answer confirms it was processed."""
    c.publish(reply, body)
    m = c.read_msg()
    assert m is not None


CC = "$JS.API.CONSUMER.CREATE."
DC = "$JS.API.CONSUMER.DURABLE.CREATE."

# Streams (not written: tests/api_json.rs covers them).
req("stream_s", "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.>"]}, save=False)
req("stream_wq", "$JS.API.STREAM.CREATE.WQ", {"name": "WQ", "subjects": ["wq.>"], "retention": "workqueue"}, save=False)
req("stream_mc", "$JS.API.STREAM.CREATE.MC", {"name": "MC", "subjects": ["mc"], "max_consumers": 1}, save=False)
req("stream_empty", "$JS.API.STREAM.CREATE.E", {"name": "E", "subjects": ["e"]}, save=False)
for subj, data in [("s.a", "1"), ("s.a", "2"), ("s.b", "3"), ("s.a", "4"), ("s.b", "5")]:
    req("pub", subj, data, save=False)

# Creates that succeed.
req("consumer_durable_pull", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit"}})
req("consumer_durable_pull_again", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit"}})
req("consumer_durable_minimal", DC + "S.D0", {"stream_name": "S", "config": {"durable_name": "D0"}})
req("consumer_new_durable", CC + "S.D2", {"stream_name": "S", "config": {"durable_name": "D2", "ack_policy": "explicit", "deliver_policy": "last"}})
req("consumer_named_filter", CC + "S.N1.s.a", {"stream_name": "S", "config": {"name": "N1", "filter_subject": "s.a", "ack_policy": "explicit", "deliver_policy": "new"}})
req("consumer_ephemeral_push", CC + "S", {"stream_name": "S", "config": {"deliver_subject": "dlv.x", "ack_policy": "none"}})
req("consumer_ephemeral_pull", CC + "S", {"stream_name": "S", "config": {"ack_policy": "explicit", "filter_subject": "s.b"}})
req("consumer_full_pull", DC + "S.FULL", {"stream_name": "S", "config": {
    "durable_name": "FULL", "description": "a full pull consumer", "deliver_policy": "by_start_sequence",
    "opt_start_seq": 2, "ack_policy": "explicit", "ack_wait": 10000000000, "max_deliver": 5,
    "backoff": [1000000000, 2000000000], "filter_subject": "s.b", "replay_policy": "original",
    "sample_freq": "50%", "max_ack_pending": 20, "max_waiting": 10, "headers_only": True,
    "max_batch": 5, "max_expires": 60000000000, "max_bytes": 1024, "inactive_threshold": 30000000000,
    "num_replicas": 1, "mem_storage": True, "unknown_field": 1}})
req("consumer_full_push", DC + "S.PUSH", {"stream_name": "S", "config": {
    "durable_name": "PUSH", "deliver_subject": "dlv.push", "deliver_group": "grp", "ack_policy": "all",
    "flow_control": True, "idle_heartbeat": 5000000000, "rate_limit_bps": 1000000,
    "deliver_policy": "by_start_time", "opt_start_time": "2020-01-01T00:00:00Z", "max_ack_pending": 100}})
req("consumer_last_per_subject", DC + "S.LPS", {"stream_name": "S", "config": {"durable_name": "LPS", "deliver_policy": "last_per_subject", "filter_subject": "s.*", "ack_policy": "none"}})
req("consumer_nulls", DC + "S.NUL", {"stream_name": "S", "config": {"durable_name": "NUL", "ack_policy": "explicit", "description": None, "backoff": None, "opt_start_time": None, "filter_subject": None}})
req("consumer_backoff_no_max_deliver", DC + "S.BO", {"stream_name": "S", "config": {"durable_name": "BO", "ack_policy": "explicit", "backoff": [1000000000, 2000000000], "max_deliver": 3}})

# Pull some messages, ack one, look at the info.
msgs = pull("consumer_pull_batch2", "$JS.API.CONSUMER.MSG.NEXT.S.D1", {"batch": 2, "no_wait": True}, 2)
ack(msgs[0]["reply"])
pull("consumer_pull_empty_body", "$JS.API.CONSUMER.MSG.NEXT.S.D0", "", 1)
pull("consumer_pull_number", "$JS.API.CONSUMER.MSG.NEXT.S.D0", "2", 2)
pull("consumer_pull_no_wait_empty", "$JS.API.CONSUMER.MSG.NEXT.S.N1", {"batch": 1, "no_wait": True}, 1)
pull("consumer_pull_push", "$JS.API.CONSUMER.MSG.NEXT.S.PUSH", {"batch": 1}, 1)
pull("consumer_pull_bad_hb", "$JS.API.CONSUMER.MSG.NEXT.S.D0", {"batch": 1, "expires": 1000000000, "idle_heartbeat": 600000000}, 1)
pull("consumer_pull_max_batch", "$JS.API.CONSUMER.MSG.NEXT.S.FULL", {"batch": 6}, 1)
req("consumer_info", "$JS.API.CONSUMER.INFO.S.D1")
req("consumer_info_pull_number", "$JS.API.CONSUMER.INFO.S.D0")
req("consumer_info_not_found", "$JS.API.CONSUMER.INFO.S.NOPE")
req("consumer_info_stream_not_found", "$JS.API.CONSUMER.INFO.NOPE.D1")
req("consumer_info_with_body", "$JS.API.CONSUMER.INFO.S.D1", {"x": 1})
req("consumer_info_empty_object", "$JS.API.CONSUMER.INFO.S.D0", "{}")

# Updates of an existing durable.
req("consumer_update_max_ack_pending", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit", "max_ack_pending": 50, "description": "updated"}})
req("consumer_update_deliver_policy", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit", "deliver_policy": "new"}})
req("consumer_update_ack_policy", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "all"}})
req("consumer_update_to_push", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit", "deliver_subject": "dlv.d1"}})
req("consumer_update_to_pull", DC + "S.PUSH", {"stream_name": "S", "config": {
    "durable_name": "PUSH", "deliver_group": "grp", "ack_policy": "all", "flow_control": True,
    "idle_heartbeat": 5000000000, "rate_limit_bps": 1000000, "deliver_policy": "by_start_time",
    "opt_start_time": "2020-01-01T00:00:00Z", "max_ack_pending": 100}})
req("consumer_update_replay", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit", "replay_policy": "original"}})
req("consumer_update_max_waiting", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit", "max_waiting": 5}})
req("consumer_update_heartbeat", DC + "S.PUSH", {"stream_name": "S", "config": {
    "durable_name": "PUSH", "deliver_subject": "dlv.push", "deliver_group": "grp", "ack_policy": "all",
    "flow_control": True, "idle_heartbeat": 6000000000, "rate_limit_bps": 1000000,
    "deliver_policy": "by_start_time", "opt_start_time": "2020-01-01T00:00:00Z", "max_ack_pending": 100}})
req("consumer_update_filter", DC + "S.D1", {"stream_name": "S", "config": {"durable_name": "D1", "ack_policy": "explicit", "filter_subject": "s.b"}})

# Create errors.
req("consumer_create_invalid_json", CC + "S", "{")
req("consumer_create_empty_body", CC + "S", "")
req("consumer_create_stream_mismatch", CC + "S", {"stream_name": "X", "config": {}})
req("consumer_create_stream_not_found", CC + "NOPE", {"stream_name": "NOPE", "config": {}})
req("consumer_create_durable_not_set", DC + "S.D9", {"stream_name": "S", "config": {}})
req("consumer_create_durable_mismatch", DC + "S.D9", {"stream_name": "S", "config": {"durable_name": "D8"}})
req("consumer_create_ephemeral_with_durable", CC + "S", {"stream_name": "S", "config": {"durable_name": "D8"}})
req("consumer_create_new_durable_mismatch", CC + "S.A", {"stream_name": "S", "config": {"durable_name": "B"}})
req("consumer_create_filter_mismatch", CC + "S.F.s.a", {"stream_name": "S", "config": {"filter_subject": "s.b"}})
req("consumer_create_filter_missing", CC + "S.F.s.a", {"stream_name": "S", "config": {}})
req("consumer_create_path_separator", CC + "S.a\\b", {"stream_name": "S", "config": {}})
req("consumer_create_replicas3", CC + "S.R3", {"stream_name": "S", "config": {"num_replicas": 3}})
req("consumer_create_replicas_neg", CC + "S.RN", {"stream_name": "S", "config": {"num_replicas": -1}})
req("consumer_create_backoff_max_deliver", CC + "S.BMD", {"stream_name": "S", "config": {"ack_policy": "explicit", "backoff": [1000000000, 2000000000], "max_deliver": 1}})
req("consumer_create_long_description", CC + "S.LD", {"stream_name": "S", "config": {"description": "x" * 4097}})
req("consumer_create_deliver_wildcard", CC + "S.DW", {"stream_name": "S", "config": {"deliver_subject": "dlv.*"}})
req("consumer_create_deliver_invalid", CC + "S.DI", {"stream_name": "S", "config": {"deliver_subject": "dlv..x"}})
req("consumer_create_deliver_cycle", CC + "S.DCY", {"stream_name": "S", "config": {"deliver_subject": "s.x"}})
req("consumer_create_push_max_waiting", CC + "S.PMW", {"stream_name": "S", "config": {"deliver_subject": "dlv.pmw", "max_waiting": 5}})
req("consumer_create_push_ack_none_max_pending", CC + "S.PAN", {"stream_name": "S", "config": {"deliver_subject": "dlv.pan", "ack_policy": "none", "max_ack_pending": 5}})
req("consumer_create_small_heartbeat", CC + "S.SHB", {"stream_name": "S", "config": {"deliver_subject": "dlv.shb", "idle_heartbeat": 50000000}})
req("consumer_create_pull_wq_ack_none", CC + "WQ.W0", {"stream_name": "WQ", "config": {"ack_policy": "none"}})
req("consumer_create_pull_rate_limit", CC + "S.PRL", {"stream_name": "S", "config": {"rate_limit_bps": 1000}})
req("consumer_create_pull_max_waiting_neg", CC + "S.PMN", {"stream_name": "S", "config": {"max_waiting": -1}})
req("consumer_create_pull_heartbeat", CC + "S.PHB", {"stream_name": "S", "config": {"idle_heartbeat": 1000000000}})
req("consumer_create_pull_flow_control", CC + "S.PFC", {"stream_name": "S", "config": {"flow_control": True}})
req("consumer_create_pull_max_batch_neg", CC + "S.PMB", {"stream_name": "S", "config": {"max_batch": -1}})
req("consumer_create_pull_max_expires_small", CC + "S.PME", {"stream_name": "S", "config": {"max_expires": 500000}})
req("consumer_create_direct_pull", CC + "S", {"stream_name": "S", "config": {"direct": True}})
req("consumer_create_direct_durable", DC + "S.DD", {"stream_name": "S", "config": {"durable_name": "DD", "direct": True, "deliver_subject": "dlv.dd"}})
req("consumer_create_filter_invalid", CC + "S.FI", {"stream_name": "S", "config": {"filter_subject": "s..a"}})
req("consumer_create_filter_not_in_stream", CC + "S.FNS", {"stream_name": "S", "config": {"filter_subject": "other"}})
req("consumer_create_all_with_seq", CC + "S.P1", {"stream_name": "S", "config": {"opt_start_seq": 3}})
req("consumer_create_all_with_time", CC + "S.P2", {"stream_name": "S", "config": {"opt_start_time": "2020-01-01T00:00:00Z"}})
req("consumer_create_last_with_seq", CC + "S.P3", {"stream_name": "S", "config": {"deliver_policy": "last", "opt_start_seq": 3}})
req("consumer_create_new_with_time", CC + "S.P4", {"stream_name": "S", "config": {"deliver_policy": "new", "opt_start_time": "2020-01-01T00:00:00Z"}})
req("consumer_create_lps_no_filter", CC + "S.P5", {"stream_name": "S", "config": {"deliver_policy": "last_per_subject"}})
req("consumer_create_lps_with_seq", CC + "S.P5b", {"stream_name": "S", "config": {"deliver_policy": "last_per_subject", "opt_start_seq": 1, "filter_subject": "s.a"}})
req("consumer_create_by_seq_no_seq", CC + "S.P6", {"stream_name": "S", "config": {"deliver_policy": "by_start_sequence"}})
req("consumer_create_by_seq_with_time", CC + "S.P7", {"stream_name": "S", "config": {"deliver_policy": "by_start_sequence", "opt_start_seq": 1, "opt_start_time": "2020-01-01T00:00:00Z"}})
req("consumer_create_by_time_no_time", CC + "S.P8", {"stream_name": "S", "config": {"deliver_policy": "by_start_time"}})
req("consumer_create_by_time_with_seq", CC + "S.P9", {"stream_name": "S", "config": {"deliver_policy": "by_start_time", "opt_start_seq": 1, "opt_start_time": "2020-01-01T00:00:00Z"}})
req("consumer_create_bad_deliver_policy", CC + "S.BDP", {"stream_name": "S", "config": {"deliver_policy": "All"}})
req("consumer_create_undefined_deliver_policy", CC + "S.UDP", {"stream_name": "S", "config": {"deliver_policy": "undefined"}})
req("consumer_create_bad_ack_policy", CC + "S.BAP", {"stream_name": "S", "config": {"ack_policy": "Explicit"}})
req("consumer_create_bad_replay_policy", CC + "S.BRP", {"stream_name": "S", "config": {"replay_policy": "fast"}})
req("consumer_create_bad_sampling", CC + "S.BS", {"stream_name": "S", "config": {"sample_freq": "abc%"}})
req("consumer_create_neg_sampling", CC + "S.NS", {"stream_name": "S", "config": {"sample_freq": "-5"}})
req("consumer_create_fc_no_heartbeat", CC + "S.FCH", {"stream_name": "S", "config": {"deliver_subject": "dlv.fch", "flow_control": True}})
req("consumer_create_durable_name_mismatch", DC + "S.DNM", {"stream_name": "S", "config": {"durable_name": "DNM", "name": "OTHER"}})
req("consumer_create_bad_name", CC + "S", {"stream_name": "S", "config": {"name": "a.b"}})
req("consumer_create_name_space", CC + "S", {"stream_name": "S", "config": {"name": "a b"}})
req("consumer_create_long_name", DC + "S." + "N" * 256, {"stream_name": "S", "config": {"durable_name": "N" * 256}})
req("consumer_create_max_consumers_1", CC + "MC.C1", {"stream_name": "MC", "config": {}})
req("consumer_create_max_consumers_2", CC + "MC.C2", {"stream_name": "MC", "config": {}})
req("consumer_create_bad_action", CC + "S.BA", {"stream_name": "S", "config": {}, "action": "upsert"})
req("consumer_create_config_null", CC + "S", {"stream_name": "S", "config": None})
req("consumer_create_no_config", CC + "S", {"stream_name": "S"})

req("consumer_create_null_deliver_policy", CC + "S.NDP", {"stream_name": "S", "config": {"deliver_policy": None}})
req("consumer_create_null_ack_policy", CC + "S.NAP", {"stream_name": "S", "config": {"ack_policy": None}})
req("consumer_create_null_replay_policy", CC + "S.NRP", {"stream_name": "S", "config": {"replay_policy": None}})
req("consumer_create_float", CC + "S.FLT", {"stream_name": "S", "config": {"max_deliver": 1.5}})
req("consumer_create_neg_start_seq", CC + "S.NSS", {"stream_name": "S", "config": {"opt_start_seq": -1}})
req("consumer_create_array_body", CC + "S.ARR", "[]")
req("consumer_create_null_body", CC + "S.NB", "null")
req("consumer_create_trailing_garbage", CC + "S.TG", '{"stream_name":"S","config":{}} x')
req("consumer_create_nulls_elsewhere", CC + "S.NE", {"stream_name": "S", "config": {"max_deliver": None, "num_replicas": None, "metadata": None, "sample_freq": None}})
req("consumer_create_backoff_default_max_deliver", CC + "S.BDM", {"stream_name": "S", "config": {"ack_policy": "explicit", "backoff": [1000000000, 2000000000]}})
req("consumer_create_name_slash", CC + "S", {"stream_name": "S", "config": {"name": "a/b"}})
req("consumer_create_name_overridden", CC + "S.NOV", {"stream_name": "S", "config": {"name": "other"}})
req("consumer_create_filter_many_tokens", CC + "S.FMT.s.a.b", {"stream_name": "S", "config": {"filter_subject": "s.a.b"}})
req("consumer_create_filter_fwc", CC + "S.FW.s.>", {"stream_name": "S", "config": {"filter_subject": "s.>"}})
req("consumer_create_pull_ack_none_max_pending", CC + "S.PNM", {"stream_name": "S", "config": {"max_ack_pending": 5}})
req("consumer_create_pull_deliver_group", CC + "S.PDG", {"stream_name": "S", "config": {"deliver_group": "g"}})
req("consumer_create_zero_start_time", CC + "S.ZST", {"stream_name": "S", "config": {"deliver_policy": "by_start_time", "opt_start_time": "0001-01-01T00:00:00Z"}})
req("consumer_create_durable_negative_inactive", DC + "S.DNI", {"stream_name": "S", "config": {"durable_name": "DNI", "inactive_threshold": -1}})
req("consumer_create_ephemeral_negative_inactive", CC + "S.ENI", {"stream_name": "S", "config": {"inactive_threshold": -1}})
req("consumer_create_push_negative_heartbeat_fc", CC + "S.PNH", {"stream_name": "S", "config": {"deliver_subject": "dlv.pnh", "flow_control": True, "idle_heartbeat": -1}})
req("consumer_create_deliver_not_cycle", CC + "S.DNC", {"stream_name": "S", "config": {"deliver_subject": "s"}})

# Work-queue streams.
req("consumer_wq_push_ack_all", CC + "WQ.W1", {"stream_name": "WQ", "config": {"deliver_subject": "dlv.w1", "ack_policy": "all"}})
req("consumer_wq_first", CC + "WQ.W2", {"stream_name": "WQ", "config": {"ack_policy": "explicit"}})
req("consumer_wq_second_unfiltered", CC + "WQ.W3", {"stream_name": "WQ", "config": {"ack_policy": "explicit"}})
req("consumer_wq_filtered_vs_unfiltered", CC + "WQ.W4.wq.a", {"stream_name": "WQ", "config": {"ack_policy": "explicit", "filter_subject": "wq.a"}})
req("consumer_wq_delete_first", "$JS.API.CONSUMER.DELETE.WQ.W2")
req("consumer_wq_filtered_a", CC + "WQ.W5.wq.a", {"stream_name": "WQ", "config": {"ack_policy": "explicit", "filter_subject": "wq.a"}})
req("consumer_wq_filtered_overlap", CC + "WQ.W6.wq.*", {"stream_name": "WQ", "config": {"ack_policy": "explicit", "filter_subject": "wq.*"}})
req("consumer_wq_not_deliver_all", CC + "WQ.W7.wq.b", {"stream_name": "WQ", "config": {"ack_policy": "explicit", "filter_subject": "wq.b", "deliver_policy": "new"}})
req("consumer_wq_filtered_b", CC + "WQ.W8.wq.b", {"stream_name": "WQ", "config": {"ack_policy": "explicit", "filter_subject": "wq.b"}})
req("consumer_wq_update_overlap", CC + "WQ.W8.wq.a", {"stream_name": "WQ", "config": {"ack_policy": "explicit", "filter_subject": "wq.a"}})

# Names, list, delete.
req("consumer_names", "$JS.API.CONSUMER.NAMES.S")
req("consumer_names_offset", "$JS.API.CONSUMER.NAMES.S", {"offset": 3})
req("consumer_names_offset_past_end", "$JS.API.CONSUMER.NAMES.S", {"offset": 100})
req("consumer_names_empty_stream", "$JS.API.CONSUMER.NAMES.E")
req("consumer_names_stream_not_found", "$JS.API.CONSUMER.NAMES.NOPE")
req("consumer_names_bad_json", "$JS.API.CONSUMER.NAMES.S", "{")
req("consumer_list", "$JS.API.CONSUMER.LIST.S")
req("consumer_list_offset", "$JS.API.CONSUMER.LIST.S", {"offset": 8})
req("consumer_list_empty_stream", "$JS.API.CONSUMER.LIST.E")
req("consumer_list_stream_not_found", "$JS.API.CONSUMER.LIST.NOPE")
req("consumer_list_bad_json", "$JS.API.CONSUMER.LIST.S", "{")
req("consumer_delete", "$JS.API.CONSUMER.DELETE.S.D0")
req("consumer_delete_again", "$JS.API.CONSUMER.DELETE.S.D0")
req("consumer_delete_with_body", "$JS.API.CONSUMER.DELETE.S.D2", {"x": 1})
req("consumer_delete_empty_object", "$JS.API.CONSUMER.DELETE.S.D2", "{}")
req("consumer_delete_stream_not_found", "$JS.API.CONSUMER.DELETE.NOPE.D1")
