"""Verify proofs produced by Stele's ledger with immudb-py 1.5.0's own verifier.

Input: the JSON file written by `tests/immudb_py_crosscheck.rs`. Every tx header is rebuilt
through immudb-py's protobuf conversion (`TxFromProto`, which rebuilds the per-tx tree), every
entry inclusion proof and every dual proof is checked with `immudb.embedded` functions, and
signatures with immudb-py's `State.Verify`. Deliberately corrupted proofs must be rejected.
Exits non-zero on the first disagreement.
"""
import json
import sys

import ecdsa
from immudb import constants
from immudb.database import meta
from immudb.embedded import store
from immudb.grpc import schema_pb2
from immudb.rootService import State
from immudb.schema import database_protoconv as conv

H = bytes.fromhex


def kv_metadata(md):
    m = store.KVMetadata()
    if md.get("deleted"):
        m.AsDeleted(True)
    if md.get("expiresAt") is not None:
        import datetime
        m.ExpiresAt(datetime.datetime.utcfromtimestamp(md["expiresAt"]))
    if md.get("nonIndexable"):
        m.AsNonIndexable(True)
    return m


def header_proto(h):
    return schema_pb2.TxHeader(
        id=h["id"], prevAlh=H(h["prevAlh"]), ts=h["ts"], nentries=h["nentries"], eH=H(h["eH"]),
        blTxId=h["blTxId"], blRoot=H(h["blRoot"]), version=h["version"],
        metadata=schema_pb2.TxMetadata())


def entry_spec(e):
    """The EntrySpec immudb-py would build for this entry."""
    lg = e.get("logical")
    if lg is None:
        return store.EntrySpec(key=H(e["key"]), md=kv_metadata(e["md"]), value=H(e["value"]))
    kind = lg["kind"]
    if kind == "set":
        return meta.EncodeEntrySpec(H(lg["key"]), kv_metadata({}), H(lg["value"]))
    if kind == "ref":
        return meta.EncodeReference(H(lg["key"]), None, H(lg["referenced"]), lg["atTx"])
    if kind == "zadd":
        return meta.EncodeZAdd(H(lg["set"]), lg["score"], H(lg["key"]), lg["atTx"])
    if kind == "delete":
        return store.EntrySpec(key=constants.SET_KEY_PREFIX + H(lg["key"]),
                               md=kv_metadata({"deleted": True}), value=b"")
    raise ValueError(kind)


def dual_proto(p):
    return schema_pb2.DualProof(
        sourceTxHeader=header_proto(p["sourceTxHeader"]),
        targetTxHeader=header_proto(p["targetTxHeader"]),
        inclusionProof=[H(x) for x in p["inclusionProof"]],
        consistencyProof=[H(x) for x in p["consistencyProof"]],
        targetBlTxAlh=H(p["targetBlTxAlh"]),
        lastInclusionProof=[H(x) for x in p["lastInclusionProof"]],
        linearProof=schema_pb2.LinearProof(
            sourceTxId=p["linearProof"]["sourceTxId"], TargetTxId=p["linearProof"]["targetTxId"],
            terms=[H(x) for x in p["linearProof"]["terms"]]))


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main(path):
    data = json.load(open(path))
    alh = {}
    incl = 0
    for t in data["txs"]:
        ptx = schema_pb2.Tx(header=header_proto(t["header"]), entries=[
            schema_pb2.TxEntry(key=H(e["key"]), hValue=H(e["hValue"]), vLen=e["vLen"],
                               metadata=schema_pb2.KVMetadata(
                                   deleted=bool(e["md"].get("deleted")),
                                   nonIndexable=bool(e["md"].get("nonIndexable")),
                                   **({"expiration": schema_pb2.Expiration(expiresAt=e["md"]["expiresAt"])}
                                      if e["md"].get("expiresAt") is not None else {})))
            for e in t["entries"]])
        tx = conv.TxFromProto(ptx)  # rebuilds the tree and sets header.eh from the entries
        tid = t["header"]["id"]
        if tx.header.eh != H(t["header"]["eH"]):
            fail(f"tx {tid}: entries do not hash to eH")
        a = tx.header.Alh()
        if a != H(t["alh"]):
            fail(f"tx {tid}: Alh differs")
        alh[tid] = a
        for i, e in enumerate(t["entries"]):
            p = t["proofs"][i]
            ip = conv.InclusionProofFromProto(schema_pb2.InclusionProof(
                leaf=p["leaf"], width=p["width"], terms=[H(x) for x in p["terms"]]))
            digest = store.EntrySpecDigest_v1(entry_spec(e))
            if not store.VerifyInclusion(ip, digest, tx.header.eh):
                fail(f"tx {tid} entry {i}: inclusion proof rejected")
            wrong = store.EntrySpec(key=H(e["key"]) + b"x", md=None, value=H(e["value"]))
            if store.VerifyInclusion(ip, store.EntrySpecDigest_v1(wrong), tx.header.eh):
                fail(f"tx {tid} entry {i}: a wrong entry was accepted")
            incl += 1

    duals = 0
    for d in data["duals"]:
        s, t = d["source"], d["target"]
        dp = conv.DualProofFromProto(dual_proto(d["proof"]))
        if not store.VerifyDualProof(dp, s, t, alh[s], alh[t]):
            fail(f"dual proof {s} -> {t} rejected")
        duals += 1

    rejected = 0
    for d in data["corrupted"]:
        s, t = d["source"], d["target"]
        dp = conv.DualProofFromProto(dual_proto(d["proof"]))
        if store.VerifyDualProof(dp, s, t, alh[s], alh[t]):
            fail(f"corrupted dual proof {s} -> {t} ({d['what']}) accepted")
        rejected += 1

    vk = ecdsa.VerifyingKey.from_string(H(data["publicKey"]), curve=ecdsa.NIST256p)
    sigs = 0
    for st in data["signedStates"]:
        state = State(db=st["db"], txId=st["txId"], txHash=H(st["txHash"]), publicKey=b"",
                      signature=H(st["signature"]))
        state.Verify(vk)  # raises on a bad signature
        forged = State(db=st["db"], txId=st["txId"] + 1, txHash=H(st["txHash"]), publicKey=b"",
                       signature=H(st["signature"]))
        try:
            forged.Verify(vk)
            fail("a signature verified for the wrong state")
        except ecdsa.BadSignatureError:
            pass
        sigs += 1

    print(f"immudb-py verified {len(alh)} txs, {incl} inclusion proofs, {duals} dual proofs, "
          f"{sigs} signatures; rejected {rejected} corrupted proofs")


if __name__ == "__main__":
    main(sys.argv[1])
