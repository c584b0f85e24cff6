#!/usr/bin/env python3
"""Compare our immudb.schema descriptor with the one shipped by immudb-py 1.5.0.

Usage: compare_descriptor.py DESCRIPTOR_SET

DESCRIPTOR_SET is a FileDescriptorSet built from crates/proto/proto/immudb/schema.proto: the
crate's build (protox) keeps it as stele_proto::immudb::FILE_DESCRIPTOR_SET, and the test
crates/proto/tests/descriptor.rs writes it to a file and runs this script on it.

The reference is immudb.grpc.schema_pb2.DESCRIPTOR from the installed immudb-py
client (needs `protobuf>=4.25.3,<5` and `immudb-py==1.5.0`).

Compared: package and syntax; every message (nested ones too) and enum by full name;
for each field its name, number, label, type, type_name, oneof membership and
proto3_optional; which messages are map entries; every enum value; and for every
service each method's name, input/output type and client/server streaming.
Ignored: json_name, options (except map_entry), file names and imports, and the
order of declarations.

Prints every difference and exits 1 if there is any; otherwise prints one OK line.
"""

import sys

from google.protobuf import descriptor_pb2

PACKAGE = "immudb.schema"


def load_ours(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    files = [fd for fd in fds.file if fd.package == PACKAGE]
    if len(files) != 1:
        sys.exit(f"expected exactly one file with package {PACKAGE} in {path}, found {len(files)}")
    return files[0]


def load_reference():
    from immudb.grpc import schema_pb2

    fdp = descriptor_pb2.FileDescriptorProto()
    schema_pb2.DESCRIPTOR.CopyToProto(fdp)
    return fdp


LABELS = {v: k for k, v in descriptor_pb2.FieldDescriptorProto.Label.items()}
TYPES = {v: k for k, v in descriptor_pb2.FieldDescriptorProto.Type.items()}


def field_facts(msg, f):
    oneof = None
    if f.HasField("oneof_index"):
        oneof = msg.oneof_decl[f.oneof_index].name
    return {
        "number": f.number,
        "label": LABELS.get(f.label, f.label),
        "type": TYPES.get(f.type, f.type),
        "type_name": f.type_name,
        "oneof": oneof,
        "proto3_optional": f.proto3_optional,
    }


def flatten(fdp):
    """Return (messages, enums, methods) keyed by fully qualified names."""
    messages, enums, methods = {}, {}, {}

    def add_enum(prefix, e):
        enums[f"{prefix}.{e.name}"] = [(v.name, v.number) for v in e.value]

    def add_msg(prefix, m):
        name = f"{prefix}.{m.name}"
        messages[name] = {
            "map_entry": m.options.map_entry,
            "fields": {f.name: field_facts(m, f) for f in m.field},
            "oneofs": sorted(o.name for o in m.oneof_decl),
        }
        for n in m.nested_type:
            add_msg(name, n)
        for e in m.enum_type:
            add_enum(name, e)

    root = "." + fdp.package
    for m in fdp.message_type:
        add_msg(root, m)
    for e in fdp.enum_type:
        add_enum(root, e)
    for s in fdp.service:
        for me in s.method:
            methods[f"{root}.{s.name}/{me.name}"] = {
                "input_type": me.input_type,
                "output_type": me.output_type,
                "client_streaming": me.client_streaming,
                "server_streaming": me.server_streaming,
            }
    return messages, enums, methods


def compare_keys(kind, ours, ref, diffs):
    for k in sorted(set(ref) - set(ours)):
        diffs.append(f"{kind} missing in ours: {k}")
    for k in sorted(set(ours) - set(ref)):
        diffs.append(f"{kind} extra in ours: {k}")
    return sorted(set(ours) & set(ref))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ours_fdp = load_ours(sys.argv[1])
    ref_fdp = load_reference()
    diffs = []

    if ours_fdp.package != ref_fdp.package:
        diffs.append(f"package: ours {ours_fdp.package!r} != ref {ref_fdp.package!r}")
    ours_syntax = ours_fdp.syntax or "proto2"
    ref_syntax = ref_fdp.syntax or "proto2"
    if ours_syntax != ref_syntax:
        diffs.append(f"syntax: ours {ours_syntax!r} != ref {ref_syntax!r}")

    o_msgs, o_enums, o_methods = flatten(ours_fdp)
    r_msgs, r_enums, r_methods = flatten(ref_fdp)

    for name in compare_keys("message", o_msgs, r_msgs, diffs):
        om, rm = o_msgs[name], r_msgs[name]
        if om["map_entry"] != rm["map_entry"]:
            diffs.append(f"{name}: map_entry ours {om['map_entry']} != ref {rm['map_entry']}")
        if om["oneofs"] != rm["oneofs"]:
            diffs.append(f"{name}: oneofs ours {om['oneofs']} != ref {rm['oneofs']}")
        for fname in compare_keys(f"{name}: field", om["fields"], rm["fields"], diffs):
            of, rf = om["fields"][fname], rm["fields"][fname]
            for attr in rf:
                if of[attr] != rf[attr]:
                    diffs.append(f"{name}.{fname}: {attr} ours {of[attr]!r} != ref {rf[attr]!r}")

    for name in compare_keys("enum", o_enums, r_enums, diffs):
        if o_enums[name] != r_enums[name]:
            diffs.append(f"{name}: values ours {o_enums[name]} != ref {r_enums[name]}")

    for name in compare_keys("method", o_methods, r_methods, diffs):
        om, rm = o_methods[name], r_methods[name]
        for attr in rm:
            if om[attr] != rm[attr]:
                diffs.append(f"{name}: {attr} ours {om[attr]!r} != ref {rm[attr]!r}")

    if diffs:
        for d in diffs:
            print(d)
        print(f"FAIL: {len(diffs)} difference(s)")
        sys.exit(1)

    n_maps = sum(1 for m in r_msgs.values() if m["map_entry"])
    print(
        f"OK: descriptor matches immudb-py 1.5.0: {len(r_msgs) - n_maps} messages "
        f"(+{n_maps} map entries), {len(r_enums)} enums, {len(r_methods)} methods, "
        f"{sum(len(m['fields']) for m in r_msgs.values())} fields"
    )


if __name__ == "__main__":
    main()
