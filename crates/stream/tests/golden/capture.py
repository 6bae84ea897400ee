#!/usr/bin/env python3
"""Captures tests/golden/*.json: real nats-server answers, the oracle for tests/api_json.rs.

The committed files came from nats-server v2.9.10, started on a fresh store:

    d=$(mktemp -d); nats-server -js -sd "$d" -a 127.0.0.1 -p 42222 -n ORACLE & pid=$!
    python3 capture.py 42222 crates/stream/tests/golden; kill $pid

Requests are sent in the order below (later cases depend on earlier ones). One file per
request: subject, request (JSON) or request_raw, request_headers, response (JSON),
response_raw (publish acks: the exact bytes), response_headers (direct gets). A few cases
are not written (SKIP): their v2.9.10 answers are not what v2.10 answers.
Raw NATS protocol over a socket; standard library only.
"""
import json
import os
import socket
import sys


class Client:
    def __init__(self, port=42222):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self._readline()  # INFO
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\nSUB _INBOX.r 1\r\nPING\r\n')
        while True:
            l = self._readline()
            if l == b"PONG": break
        self.n = 0
    def _fill(self):
        d = self.s.recv(65536)
        if not d: raise EOFError
        self.buf += d
    def _readline(self):
        while b"\r\n" not in self.buf: self._fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l
    def _readn(self, n):
        while len(self.buf) < n + 2: self._fill()
        d = self.buf[:n]; self.buf = self.buf[n+2:]
        return d
    def read_msg(self):
        while True:
            l = self._readline()
            if l == b"PING": self.s.sendall(b"PONG\r\n"); continue
            if l.startswith(b"MSG "):
                p = l.split(); n = int(p[-1]); d = self._readn(n)
                return None, d
            if l.startswith(b"HMSG "):
                p = l.split(); hl = int(p[-2]); n = int(p[-1]); d = self._readn(n)
                return d[:hl], d[hl:]
            if l.startswith(b"-ERR"): raise Exception(l)
    def request(self, subj, payload=b"", hdrs=None):
        if isinstance(payload, (dict, list)): payload = json.dumps(payload).encode()
        elif isinstance(payload, str): payload = payload.encode()
        if hdrs:
            hb = b"NATS/1.0\r\n" + b"".join(k.encode()+b": "+v.encode()+b"\r\n" for k, v in hdrs.items()) + b"\r\n"
            self.s.sendall(b"HPUB %s _INBOX.r %d %d\r\n%s%s\r\n" % (subj.encode(), len(hb), len(hb)+len(payload), hb, payload))
        else:
            self.s.sendall(b"PUB %s _INBOX.r %d\r\n%s\r\n" % (subj.encode(), len(payload), payload))
        return self.read_msg()

SKIP = {"create_long_desc", "create_fwc_no_noack", "create_sys_overlap"}


def write(outdir):
    os.makedirs(outdir, exist_ok=True)
    for name, c in out.items():
        if name in SKIP:
            continue
        req = c["request"]
        try:
            reqv = json.loads(req) if req else None
        except ValueError:
            reqv = None
        g = {"subject": c["subject"]}
        if reqv is not None:
            g["request"] = reqv
        else:
            g["request_raw"] = req if len(req) <= 64 else "<%d bytes of 'x'>" % len(req)
        if c.get("request_headers"):
            g["request_headers"] = c["request_headers"]
        if c.get("response_headers"):
            g["response_headers"] = c["response_headers"]
        resp = c["response"]
        if not c["subject"].startswith("$JS.API.") and resp:
            g["response_raw"] = resp
        if resp:
            g["response"] = json.loads(resp) if not c.get("response_headers") else resp
        with open(os.path.join(outdir, name + ".json"), "w") as f:
            json.dump(g, f, indent=1, ensure_ascii=False)
            f.write("\n")


c = Client(int(sys.argv[1]))
out = {}


def req(name, subj, body=b"", hdrs=None):
    h, d = c.request(subj, body, hdrs)
    if isinstance(body, (dict, list)):
        b = json.dumps(body)
    else:
        b = body if isinstance(body, str) else body.decode()
    out[name] = {"subject": subj, "request": b, "request_headers": hdrs,
                 "response_headers": h.decode() if h else None, "response": d.decode()}


req("info_empty", "$JS.API.INFO")
req("create_minimal", "$JS.API.STREAM.CREATE.S", {"name":"S","subjects":["s.>"]})
req("create_minimal_again", "$JS.API.STREAM.CREATE.S", {"name":"S","subjects":["s.>"]})
req("create_name_in_use", "$JS.API.STREAM.CREATE.S", {"name":"S","subjects":["s.>"],"max_msgs":5})
req("create_overlap", "$JS.API.STREAM.CREATE.T", {"name":"T","subjects":["s.a"]})
req("create_no_subjects", "$JS.API.STREAM.CREATE.NOSUBJ", {"name":"NOSUBJ"})
req("create_full", "$JS.API.STREAM.CREATE.FULL", {"name":"FULL","description":"a full config","subjects":["full.a","full.b.*"],"retention":"workqueue","max_consumers":10,"max_msgs":1000,"max_bytes":1048576,"max_age":3600000000000,"max_msgs_per_subject":10,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"deny_delete":True,"deny_purge":True,"allow_direct":True,"discard_new_per_subject":True,"metadata":{"owner":"team"},"republish":{"src":"full.>","dest":"rp.>","headers_only":True},"unknown_field":123})
req("create_short_age", "$JS.API.STREAM.CREATE.AGE", {"name":"AGE","subjects":["age"],"max_age":30000000000})
req("create_noack", "$JS.API.STREAM.CREATE.NOACK", {"name":"NOACK","subjects":["noack"],"no_ack":True,"allow_rollup_hdrs":True,"max_msgs":0,"max_bytes":0,"num_replicas":0})
req("create_replicas3", "$JS.API.STREAM.CREATE.R3", {"name":"R3","subjects":["r3"],"num_replicas":3})
req("create_replicas6", "$JS.API.STREAM.CREATE.R6", {"name":"R6","subjects":["r6"],"num_replicas":6})
req("create_replicas_neg", "$JS.API.STREAM.CREATE.RN", {"name":"RN","subjects":["rn"],"num_replicas":-1})
req("create_invalid_json", "$JS.API.STREAM.CREATE.BAD", "{not json")
req("create_empty_body", "$JS.API.STREAM.CREATE.BAD", "")
req("create_name_mismatch", "$JS.API.STREAM.CREATE.X", {"name":"Y","subjects":["y"]})
req("create_no_name", "$JS.API.STREAM.CREATE.X", {"subjects":["y"]})
req("create_dupwin_gt_age", "$JS.API.STREAM.CREATE.DW", {"name":"DW","subjects":["dw"],"max_age":1000000000,"duplicate_window":2000000000})
req("create_age_small", "$JS.API.STREAM.CREATE.AS", {"name":"AS","subjects":["as"],"max_age":1000})
req("create_dupwin_small", "$JS.API.STREAM.CREATE.DS", {"name":"DS","subjects":["ds"],"duplicate_window":1000})
req("create_dupwin_neg", "$JS.API.STREAM.CREATE.DN", {"name":"DN","subjects":["dn"],"duplicate_window":-5})
req("create_invalid_subject", "$JS.API.STREAM.CREATE.IS", {"name":"IS","subjects":["a..b"]})
req("create_dup_subjects", "$JS.API.STREAM.CREATE.DUP", {"name":"DUP","subjects":["d","d"]})
req("create_self_overlap", "$JS.API.STREAM.CREATE.SO", {"name":"SO","subjects":["so.*","so.a"]})
req("create_fwc_no_noack", "$JS.API.STREAM.CREATE.FWC", {"name":"FWC","subjects":[">"]})
req("create_js_api_overlap", "$JS.API.STREAM.CREATE.JSO", {"name":"JSO","subjects":["$JS.API.>"]})
req("create_sys_overlap", "$JS.API.STREAM.CREATE.SYSO", {"name":"SYSO","subjects":["$SYS.>"]})
req("create_sealed", "$JS.API.STREAM.CREATE.SEAL", {"name":"SEAL","subjects":["seal"],"sealed":True})
req("create_mirror_direct", "$JS.API.STREAM.CREATE.MD", {"name":"MD","subjects":["md"],"mirror_direct":True})
req("create_rollup_denypurge", "$JS.API.STREAM.CREATE.RD", {"name":"RD","subjects":["rd"],"allow_rollup_hdrs":True,"deny_purge":True})
req("create_dnps_no_discard_new", "$JS.API.STREAM.CREATE.DNP", {"name":"DNP","subjects":["dnp"],"discard_new_per_subject":True,"max_msgs_per_subject":1})
req("create_dnps_no_per_subject", "$JS.API.STREAM.CREATE.DNP", {"name":"DNP","subjects":["dnp"],"discard_new_per_subject":True,"discard":"new"})
req("create_bad_retention", "$JS.API.STREAM.CREATE.BR", {"name":"BR","subjects":["br"],"retention":"bogus"})
req("create_bad_storage", "$JS.API.STREAM.CREATE.BS", {"name":"BS","subjects":["bs"],"storage":"bogus"})
req("create_bad_discard", "$JS.API.STREAM.CREATE.BD", {"name":"BD","subjects":["bd"],"discard":"bogus"})
req("create_storage_caps", "$JS.API.STREAM.CREATE.SC", {"name":"SC","subjects":["sc"],"storage":"Memory","retention":"Interest","discard":"New"})
req("create_long_desc", "$JS.API.STREAM.CREATE.LD", {"name":"LD","subjects":["ld"],"description":"x"*5000})
req("create_long_name", "$JS.API.STREAM.CREATE." + "N"*256, {"name":"N"*256,"subjects":["ln"]})
req("create_path_sep", "$JS.API.STREAM.CREATE.a\\b", {"name":"a\\b","subjects":["ps"]})
req("create_republish_cycle", "$JS.API.STREAM.CREATE.RPC", {"name":"RPC","subjects":["rpc.>"],"republish":{"dest":"rpc.x"}})
req("update_bad_name", "$JS.API.STREAM.UPDATE.S", {"name":"a.b","subjects":["s.>"]})
req("update_empty_name", "$JS.API.STREAM.UPDATE.S", {"subjects":["s.>"]})
req("update_space_name", "$JS.API.STREAM.UPDATE.S", {"name":"a b","subjects":["s.>"]})
req("update_ok", "$JS.API.STREAM.UPDATE.S", {"name":"S","subjects":["s.>","s2"],"max_msgs":100,"description":"updated"})
req("update_storage", "$JS.API.STREAM.UPDATE.S", {"name":"S","subjects":["s.>"],"storage":"memory"})
req("update_retention_wq", "$JS.API.STREAM.UPDATE.S", {"name":"S","subjects":["s.>"],"retention":"workqueue"})
req("update_retention_interest", "$JS.API.STREAM.UPDATE.NOSUBJ", {"name":"NOSUBJ","retention":"interest"})
req("update_max_consumers", "$JS.API.STREAM.UPDATE.S", {"name":"S","subjects":["s.>"],"max_consumers":5})
req("update_not_found", "$JS.API.STREAM.UPDATE.NOPE", {"name":"NOPE","subjects":["nope"]})
req("update_mismatch", "$JS.API.STREAM.UPDATE.S", {"name":"NOSUBJ"})
req("update_undeny_delete", "$JS.API.STREAM.UPDATE.FULL", {"name":"FULL","subjects":["full.a","full.b.*"],"retention":"workqueue","storage":"memory","max_consumers":10})
req("update_overlap", "$JS.API.STREAM.UPDATE.NOSUBJ", {"name":"NOSUBJ","subjects":["s.x"],"retention":"interest"})
req("update_seal", "$JS.API.STREAM.UPDATE.AGE", {"name":"AGE","subjects":["age"],"max_age":30000000000,"sealed":True})
req("update_unseal", "$JS.API.STREAM.UPDATE.AGE", {"name":"AGE","subjects":["age"],"max_age":30000000000})
req("update_replicas3", "$JS.API.STREAM.UPDATE.S", {"name":"S","subjects":["s.>"],"num_replicas":3})
req("update_invalid_json", "$JS.API.STREAM.UPDATE.S", "{")
# publishes
req("pub_1", "s.a", "hello")
req("pub_2", "s.b", "world", {"Nats-Msg-Id": "m2"})
req("pub_dup", "s.b", "world", {"Nats-Msg-Id": "m2"})
req("pub_expected_stream_bad", "s.a", "x", {"Nats-Expected-Stream": "OTHER"})
req("pub_expected_last_seq_bad", "s.a", "x", {"Nats-Expected-Last-Sequence": "1"})
req("pub_expected_last_subj_seq_bad", "s.a", "x", {"Nats-Expected-Last-Subject-Sequence": "7"})
req("pub_expected_last_msgid_bad", "s.a", "x", {"Nats-Expected-Last-Msg-Id": "nope"})
req("pub_expected_last_msgid_ok", "s.c", "x", {"Nats-Expected-Last-Msg-Id": "m2"})
req("pub_rollup_not_permitted", "s.a", "x", {"Nats-Rollup": "sub"})
req("pub_hdr", "s.h", "with headers", {"X-A": "1", "X-B": "two"})
req("pub_full_too_big", "full.a", "x"*2000)
req("pub_full_1", "full.b.1", "a")
req("pub_full_2", "full.b.1", "b")
req("pub_sealed", "age", "x")
# info
req("info_stream", "$JS.API.STREAM.INFO.S")
req("info_stream_subjects", "$JS.API.STREAM.INFO.S", {"subjects_filter": ">"})
req("info_stream_subjects_filtered", "$JS.API.STREAM.INFO.S", {"subjects_filter": "s.a"})
req("info_not_found", "$JS.API.STREAM.INFO.NOPE")
req("info_bad_json", "$JS.API.STREAM.INFO.S", "{")
# msg get
req("msg_get_seq", "$JS.API.STREAM.MSG.GET.S", {"seq": 1})
req("msg_get_hdr", "$JS.API.STREAM.MSG.GET.S", {"last_by_subj": "s.h"})
req("msg_get_last", "$JS.API.STREAM.MSG.GET.S", {"last_by_subj": "s.a"})
req("msg_get_next", "$JS.API.STREAM.MSG.GET.S", {"seq": 2, "next_by_subj": "s.a"})
req("msg_get_not_found", "$JS.API.STREAM.MSG.GET.S", {"seq": 99})
req("msg_get_last_not_found", "$JS.API.STREAM.MSG.GET.S", {"last_by_subj": "zzz"})
req("msg_get_empty", "$JS.API.STREAM.MSG.GET.S", "")
req("msg_get_seq_and_last", "$JS.API.STREAM.MSG.GET.S", {"seq": 1, "last_by_subj": "s.a"})
req("msg_get_bad_json", "$JS.API.STREAM.MSG.GET.S", "{")
req("msg_get_stream_not_found", "$JS.API.STREAM.MSG.GET.NOPE", {"seq": 1})
# msg delete
req("msg_delete", "$JS.API.STREAM.MSG.DELETE.S", {"seq": 1})
req("msg_delete_no_erase", "$JS.API.STREAM.MSG.DELETE.S", {"seq": 2, "no_erase": True})
req("msg_delete_again", "$JS.API.STREAM.MSG.DELETE.S", {"seq": 1})
req("msg_delete_missing", "$JS.API.STREAM.MSG.DELETE.S", {"seq": 999})
req("msg_delete_denied", "$JS.API.STREAM.MSG.DELETE.FULL", {"seq": 1})
req("msg_delete_sealed", "$JS.API.STREAM.MSG.DELETE.AGE", {"seq": 1})
req("msg_delete_empty", "$JS.API.STREAM.MSG.DELETE.S", "")
req("info_stream_deleted", "$JS.API.STREAM.INFO.S", {"deleted_details": True})
# purge
req("purge_denied", "$JS.API.STREAM.PURGE.FULL")
req("purge_sealed", "$JS.API.STREAM.PURGE.AGE")
req("purge_seq_and_keep", "$JS.API.STREAM.PURGE.S", {"seq": 3, "keep": 1})
req("purge_filter", "$JS.API.STREAM.PURGE.S", {"filter": "s.h"})
req("purge_keep", "$JS.API.STREAM.PURGE.S", {"keep": 1})
req("purge_all", "$JS.API.STREAM.PURGE.S")
req("purge_not_found", "$JS.API.STREAM.PURGE.NOPE")
req("info_after_purge", "$JS.API.STREAM.INFO.S")
# names / list
req("names", "$JS.API.STREAM.NAMES")
req("names_subject", "$JS.API.STREAM.NAMES", {"subject": "s.a"})
req("names_offset", "$JS.API.STREAM.NAMES", {"offset": 2})
req("names_none", "$JS.API.STREAM.NAMES", {"subject": "zzz"})
req("list", "$JS.API.STREAM.LIST")
req("list_subject", "$JS.API.STREAM.LIST", {"subject": "full.a"})
req("list_none", "$JS.API.STREAM.LIST", {"subject": "zzz"})
# direct get
req("direct_create", "$JS.API.STREAM.CREATE.KV", {"name":"KV","subjects":["kv.>"],"allow_direct":True,"max_msgs_per_subject":1})
req("direct_pub", "kv.a", "va", {"X-H": "y"})
req("direct_get_seq", "$JS.API.DIRECT.GET.KV", {"seq": 1})
req("direct_get_last", "$JS.API.DIRECT.GET.KV.kv.a")
req("direct_get_missing", "$JS.API.DIRECT.GET.KV", {"seq": 5})
req("direct_get_bad", "$JS.API.DIRECT.GET.KV", "{")
req("direct_get_empty", "$JS.API.DIRECT.GET.KV", "")
# discard new limits
req("dn_create", "$JS.API.STREAM.CREATE.DNEW", {"name":"DNEW","subjects":["dnew.*"],"discard":"new","max_msgs":1})
req("dn_pub1", "dnew.a", "1")
req("dn_pub2", "dnew.a", "2")
req("db_create", "$JS.API.STREAM.CREATE.DBYTES", {"name":"DBYTES","subjects":["dbytes"],"discard":"new","max_bytes":50})
req("db_pub1", "dbytes", "1")
req("db_pub2", "dbytes", "x"*40)
req("dps_create", "$JS.API.STREAM.CREATE.DPS", {"name":"DPS","subjects":["dps.*"],"discard":"new","max_msgs_per_subject":1,"discard_new_per_subject":True})
req("dps_pub1", "dps.a", "1")
req("dps_pub2", "dps.a", "2")
req("names_bad_json", "$JS.API.STREAM.NAMES", "{")
req("list_bad_json", "$JS.API.STREAM.LIST", "{")
req("purge_bad_json", "$JS.API.STREAM.PURGE.S", "{")
req("gap_create", "$JS.API.STREAM.CREATE.GAP", {"name":"GAP","subjects":["gap.*"],"storage":"memory"})
req("gap_pub1", "gap.a", "1")
req("gap_pub2", "gap.b", "2")
req("gap_pub3", "gap.a", "3")
req("gap_delete2", "$JS.API.STREAM.MSG.DELETE.GAP", {"seq": 2})
req("gap_info_deleted", "$JS.API.STREAM.INFO.GAP", {"deleted_details": True, "subjects_filter": "gap.*"})
req("gap_info_offset", "$JS.API.STREAM.INFO.GAP", {"subjects_filter": ">", "offset": 1})
req("gap_info_nomatch", "$JS.API.STREAM.INFO.GAP", {"subjects_filter": "zzz"})
req("gap_msg_get_empty_payload_pub", "gap.e", "")
req("gap_msg_get_empty_payload", "$JS.API.STREAM.MSG.GET.GAP", {"last_by_subj": "gap.e"})
req("gap_msg_get_next_wc", "$JS.API.STREAM.MSG.GET.GAP", {"seq": 2, "next_by_subj": "gap.*"})
req("info_account", "$JS.API.INFO")
# delete
req("delete", "$JS.API.STREAM.DELETE.NOSUBJ")
req("delete_not_found", "$JS.API.STREAM.DELETE.NOSUBJ")
req("delete_with_body", "$JS.API.STREAM.DELETE.NOACK", "{}")

write(sys.argv[2])
