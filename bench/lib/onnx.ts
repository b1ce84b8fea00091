// A minimal ONNX model writer (protobuf wire format, float32 tensors only) so benchmarks can run
// small graphs through onnxruntime-web without model files. Field numbers follow onnx.proto:
// ModelProto{ir_version 1, graph 7, opset_import 8}, GraphProto{node 1, name 2, initializer 5,
// input 11, output 12}, NodeProto{input 1, output 2, name 3, op_type 4}, TensorProto{dims 1,
// data_type 2, name 8, raw_data 9}, ValueInfoProto{name 1, type 2}, TypeProto{tensor_type 1},
// TypeProto.Tensor{elem_type 1, shape 2}, TensorShapeProto{dim 1}, Dimension{dim_value 1},
// OperatorSetIdProto{domain 1, version 2}.

const FLOAT = 1; // TensorProto.DataType.FLOAT
const VARINT = 0;
const LEN = 2;

/** Appends fields; nested messages are kept as parts, so large tensors are copied once. */
class ProtoWriter {
  private parts: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number): void {
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, value: number): this {
    this.tag(field, VARINT);
    this.varint(value);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, LEN);
    this.varint(data.length);
    this.push(data);
    return this;
  }

  string(field: number, text: string): this {
    return this.bytes(field, new TextEncoder().encode(text));
  }

  message(field: number, sub: ProtoWriter): this {
    this.tag(field, LEN);
    this.varint(sub.length);
    for (const p of sub.parts) this.push(p);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export interface OnnxValue {
  name: string;
  dims: readonly number[];
}

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
}

export interface OnnxGraph {
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
  initializers?: readonly (OnnxValue & { data: Float32Array })[];
  /** Default opset 17. */
  opset?: number;
}

function valueInfo(v: OnnxValue): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, new ProtoWriter().int(1, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Serialise a float32 graph as an ONNX model (bytes for InferenceSession.create). */
export function encodeOnnxModel(g: OnnxGraph): Uint8Array {
  const graph = new ProtoWriter();
  g.nodes.forEach((n, i) => {
    const node = new ProtoWriter();
    for (const name of n.inputs) node.string(1, name);
    for (const name of n.outputs) node.string(2, name);
    node.string(3, `${n.op.toLowerCase()}_${i}`).string(4, n.op);
    graph.message(1, node);
  });
  graph.string(2, 'bench');
  for (const t of g.initializers ?? []) {
    const tensor = new ProtoWriter();
    for (const d of t.dims) tensor.int(1, d);
    tensor.int(2, FLOAT).string(8, t.name);
    tensor.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    graph.message(5, tensor);
  }
  for (const v of g.inputs) graph.message(11, valueInfo(v));
  for (const v of g.outputs) graph.message(12, valueInfo(v));
  return new ProtoWriter()
    .int(1, 8) // IR version 8
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, '').int(2, g.opset ?? 17))
    .finish();
}
