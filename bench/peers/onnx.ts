/**
 * A minimal ONNX model writer, so each benchmark case can hand ONNX Runtime Web a graph built in code
 * (no model files, no protobuf library). It emits the protobuf wire format of the few messages a
 * single-graph model needs, with the field numbers of onnx/onnx.proto:
 *
 *   ModelProto          1 ir_version (int64)  7 graph  8 opset_import
 *   OperatorSetIdProto  1 domain (string)     2 version (int64)
 *   GraphProto          1 node  2 name  5 initializer  11 input  12 output
 *   NodeProto           1 input  2 output  3 name  4 op_type  5 attribute  7 domain
 *   AttributeProto      1 name  2 f (float32)  3 i (int64)  4 s (bytes)  8 ints  20 type
 *   ValueInfoProto      1 name  2 type -> TypeProto 1 tensor_type -> 1 elem_type, 2 shape -> 1 dim -> 1 dim_value
 *   TensorProto         1 dims  2 data_type  8 name  9 raw_data (little-endian)
 *
 * Wire format: each field is a varint key (field << 3 | wire type) followed by a varint (type 0), four
 * little-endian bytes (type 5) or a varint length and that many bytes (type 2: strings, messages, packed
 * repeated numbers). int64 values are varints of their 64-bit two's complement, so -1 takes ten bytes.
 */

/** An attribute value, tagged because ONNX distinguishes an int attribute from a float one of equal value. */
export type OnnxAttribute = { int: number } | { float: number } | { ints: readonly number[] } | { string: string };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, OnnxAttribute>>;
  /** Operator domain: '' (default) is standard ONNX, 'com.microsoft' ONNX Runtime's contrib ops. */
  domain?: string;
}

/** A constant input stored in the model (e.g. the axes of a reduction). */
export interface OnnxConstant {
  name: string;
  type: 'float32' | 'int64';
  dims: readonly number[];
  values: readonly number[];
}

export interface OnnxGraph {
  /** Float32 graph inputs, fed in this order. */
  inputs: readonly { name: string; shape: readonly number[] }[];
  /** Float32 graph outputs; the first is the one validated and read back. */
  outputs: readonly string[];
  nodes: readonly OnnxNode[];
  constants?: readonly OnnxConstant[];
}

/** ONNX opset of the default domain: 20 is the first with Gelu (LayerNormalization came in 17). */
export const DEFAULT_OPSET = 20;
/** ONNX IR version 9 goes with opset 20 (onnx/docs/Versioning.md). */
const IR_VERSION = 9;
/** ONNX Runtime's contrib-op domain version. */
const MICROSOFT_OPSET = 1;

const ELEM_TYPE = { float32: 1, int64: 7 } as const;
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

const text = new TextEncoder();

/** Protobuf base-128 varint of a non-negative integer or of a negative int64's two's complement. */
function varint(value: number): number[] {
  if (!Number.isSafeInteger(value)) throw new RangeError(`onnx: ${value} is not an integer the writer can encode`);
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const key = (field: number, wire: number): number[] => varint((field << 3) | wire);
const intField = (field: number, value: number): number[] => [...key(field, WIRE_VARINT), ...varint(value)];
const bytesField = (field: number, bytes: ArrayLike<number>): number[] => [...key(field, WIRE_BYTES), ...varint(bytes.length), ...Array.from(bytes)];
const stringField = (field: number, s: string): number[] => bytesField(field, text.encode(s));

function floatField(field: number, value: number): number[] {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setFloat32(0, value, true);
  return [...key(field, WIRE_FIXED32), ...bytes];
}

function attribute(name: string, value: OnnxAttribute): number[] {
  const head = stringField(1, name);
  if ('int' in value) return [...head, ...intField(3, value.int), ...intField(20, ATTRIBUTE_TYPE.int)];
  if ('float' in value) return [...head, ...floatField(2, value.float), ...intField(20, ATTRIBUTE_TYPE.float)];
  if ('ints' in value) return [...head, ...bytesField(8, value.ints.flatMap(varint)), ...intField(20, ATTRIBUTE_TYPE.ints)];
  return [...head, ...stringField(4, value.string), ...intField(20, ATTRIBUTE_TYPE.string)];
}

function node(n: OnnxNode, index: number): number[] {
  return [
    ...n.inputs.flatMap((name) => stringField(1, name)),
    ...n.outputs.flatMap((name) => stringField(2, name)),
    ...stringField(3, `${n.op}_${index}`),
    ...stringField(4, n.op),
    ...Object.entries(n.attributes ?? {}).flatMap(([name, value]) => bytesField(5, attribute(name, value))),
    ...(n.domain ? stringField(7, n.domain) : []),
  ];
}

/** A float32 value: its shape when known (graph inputs), element type only otherwise (outputs). */
function valueInfo(name: string, shape?: readonly number[]): number[] {
  const dims = shape ? bytesField(2, shape.flatMap((d) => bytesField(1, intField(1, d)))) : [];
  const tensorType = [...intField(1, ELEM_TYPE.float32), ...dims];
  return [...stringField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

function constant(c: OnnxConstant): number[] {
  const count = c.dims.reduce((n, d) => n * d, 1);
  if (count !== c.values.length) throw new RangeError(`onnx: constant '${c.name}' of dims [${c.dims}] has ${c.values.length} values`);
  const raw = c.type === 'int64' ? new BigInt64Array(c.values.map((v) => BigInt(v))) : new Float32Array(c.values);
  return [
    ...bytesField(1, c.dims.flatMap(varint)),
    ...intField(2, ELEM_TYPE[c.type]),
    ...stringField(8, c.name),
    ...bytesField(9, new Uint8Array(raw.buffer)),
  ];
}

function opset(domain: string, version: number): number[] {
  return [...stringField(1, domain), ...intField(2, version)];
}

/**
 * Builds a graph node by node, naming values as it goes, so a case can write its ONNX graph the way it
 * writes the tfjs or jax-js composition: `b.op('Softmax', [b.op('MatMul', [q, k])], { axis: { int: -1 } })`.
 */
export class OnnxBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly constants: OnnxConstant[] = [];

  /** Appends a node and returns the name of its (first) output. */
  op(op: string, inputs: readonly string[], attributes?: Readonly<Record<string, OnnxAttribute>>, domain?: string): string {
    const output = `t${this.nodes.length}`;
    this.nodes.push({ op, inputs, outputs: [output], ...(attributes ? { attributes } : {}), ...(domain ? { domain } : {}) });
    return output;
  }

  /** A constant stored in the model; returns its name. */
  constant(type: OnnxConstant['type'], dims: readonly number[], values: readonly number[]): string {
    const name = `c${this.constants.length}`;
    this.constants.push({ name, type, dims, values });
    return name;
  }

  /** A float32 scalar constant (broadcasts against any tensor). */
  scalar(value: number): string {
    return this.constant('float32', [], [value]);
  }

  /** A 1-D int64 constant (axes, shapes). */
  int64s(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }
}

/** The serialized ModelProto of a one-graph model. */
export function encodeModel(graph: OnnxGraph, defaultOpset = DEFAULT_OPSET): Uint8Array {
  const body = [
    ...graph.nodes.flatMap((n, i) => bytesField(1, node(n, i))),
    ...stringField(2, 'bench'),
    ...(graph.constants ?? []).flatMap((c) => bytesField(5, constant(c))),
    ...graph.inputs.flatMap((input) => bytesField(11, valueInfo(input.name, input.shape))),
    ...graph.outputs.flatMap((name) => bytesField(12, valueInfo(name))),
  ];
  const usesMicrosoft = graph.nodes.some((n) => n.domain === 'com.microsoft');
  return new Uint8Array([
    ...intField(1, IR_VERSION),
    ...bytesField(7, body),
    ...bytesField(8, opset('', defaultOpset)),
    ...(usesMicrosoft ? bytesField(8, opset('com.microsoft', MICROSOFT_OPSET)) : []),
  ]);
}
