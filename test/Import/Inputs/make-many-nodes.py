#!/usr/bin/env python3
"""Writes an ONNX model whose graph is a chain of N Relu nodes.

    make-many-nodes.py N out.onnx

The protobuf is encoded here by hand (field numbers from onnx.proto), so the
test needs no Python package: ModelProto{ir_version 8, opset_import {"" 17},
graph {node*, input t0, output tN}}, each value float[1].
"""
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):
    """A length-delimited field (wire type 2)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def value_info(name):
    dim = field(1, varint(1 << 3) + varint(1))            # dim_value 1
    shape = field(2, dim)
    tensor = varint(1 << 3) + varint(1) + shape           # elem_type FLOAT
    return field(1, name.encode()) + field(2, field(1, tensor))


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    relu = field(4, b"Relu")
    nodes = b"".join(
        field(1, field(1, b"t%d" % i) + field(2, b"t%d" % (i + 1)) + relu)
        for i in range(n))
    graph = (nodes + field(2, b"chain") +
             field(11, value_info("t0")) + field(12, value_info("t%d" % n)))
    opset = field(1, b"") + varint(2 << 3) + varint(17)
    model = varint(1 << 3) + varint(8) + field(8, opset) + field(7, graph)
    with open(path, "wb") as f:
        f.write(model)


if __name__ == "__main__":
    main()
