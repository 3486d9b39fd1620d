#!/usr/bin/env python3
"""Cross-check of record batches against kafka-python, an independent implementation.

Used by kafka-protocol/tests/records_kafka_python.rs; reads one JSON document on stdin and
writes one on stdout. Byte strings travel as lowercase hex, null as JSON null.

    records_xcheck.py build   # cases -> record sets written by kafka-python, and its reading
    records_xcheck.py decode  # record sets (hex) -> what kafka-python reads from them

build input:  {"cases": [{"magic": 0|1|2, "compression": 0..4, "base_offset": int,
                          "producer_id": int, "producer_epoch": int, "base_sequence": int,
                          "transactional": bool,
                          "records": [{"timestamp": int, "key": hex|null, "value": hex|null,
                                       "headers": [[str, hex|null], ...]}]}]}
build output: {"cases": [{"hex": str, "decoded": <decode output for that set>}]}

decode input:  {"sets": [hex, ...]}
decode output: {"sets": [{"batches": [{"magic", "compression", "base_offset", "last_offset",
                 "timestamp_type", "max_timestamp", "producer_id", "producer_epoch",
                 "base_sequence", "leader_epoch", "transactional", "control", "crc_ok",
                 "records": [{"offset", "timestamp", "key", "value", "headers",
                              "control_type"}]}]}]}
Fields a legacy batch lacks are null.
"""

import json
import sys

from kafka.record.default_records import ControlRecord
from kafka.record.memory_records import MemoryRecords, MemoryRecordsBuilder


def unhex(s):
    return None if s is None else bytes.fromhex(s)


def tohex(b):
    return None if b is None else bytes(b).hex()


def build(case):
    magic = case["magic"]
    kwargs = {}
    if magic == 2:
        kwargs = dict(
            transactional=case.get("transactional", False),
            producer_id=case.get("producer_id", -1),
            producer_epoch=case.get("producer_epoch", -1),
            base_sequence=case.get("base_sequence", -1),
        )
    builder = MemoryRecordsBuilder(
        magic=magic,
        compression_type=case["compression"],
        batch_size=1 << 30,
        offset=case.get("base_offset", 0),
        **kwargs,
    )
    for r in case["records"]:
        headers = [(k, unhex(v)) for k, v in r.get("headers", [])]
        meta = builder.append(r["timestamp"], unhex(r["key"]), unhex(r["value"]), headers)
        if meta is None:
            raise RuntimeError("kafka-python refused to append a record")
    builder.close()
    return bytes(builder.buffer())


def decode(data):
    batches = []
    records_set = MemoryRecords(data)
    while records_set.has_next():
        batch = records_set.next_batch()
        legacy = batch.magic < 2
        crc_ok = batch.validate_crc()  # must run before iterating
        out = {
            "magic": batch.magic,
            "compression": batch.compression_type,
            "base_offset": batch.base_offset,
            "last_offset": None if legacy else batch.last_offset,
            "timestamp_type": batch.timestamp_type,
            "max_timestamp": None if legacy else batch.max_timestamp,
            "producer_id": None if legacy else batch.producer_id,
            "producer_epoch": None if legacy else batch.producer_epoch,
            "base_sequence": None if legacy else batch.base_sequence,
            "leader_epoch": None if legacy else batch.leader_epoch,
            "transactional": False if legacy else batch.is_transactional,
            "control": False if legacy else batch.is_control_batch,
            "crc_ok": crc_ok,
            "records": [],
        }
        for rec in batch:
            out["records"].append({
                "offset": rec.offset,
                "timestamp": rec.timestamp,
                "key": tohex(rec.key),
                "value": tohex(rec.value),
                "headers": [[k, tohex(v)] for k, v in rec.headers],
                "control_type": rec.type if isinstance(rec, ControlRecord) else None,
            })
        batches.append(out)
    # A set must be read to its end: anything left over is a partial batch.
    if records_set.valid_bytes() != len(data):
        raise RuntimeError("kafka-python left %d bytes unread"
                           % (len(data) - records_set.valid_bytes()))
    return {"batches": batches}


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    doc = json.load(sys.stdin)
    if mode == "build":
        out = {"cases": []}
        for case in doc["cases"]:
            data = build(case)
            out["cases"].append({"hex": data.hex(), "decoded": decode(data)})
    elif mode == "decode":
        out = {"sets": [decode(bytes.fromhex(h)) for h in doc["sets"]]}
    else:
        sys.exit("usage: records_xcheck.py build|decode < input.json")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
