/**
 * Graph tokenizer, TokenGT (Kim et al. 2022, "Pure Transformers are Powerful Graph Learners"): every node
 * and every edge is a token, and a graph token goes in front.
 *   node v:      node_encoder(features_v) + lap_encoder([P_v, P_v]) + order_encoder[1]
 *   edge (u, v): edge_encoder(features_uv) (or the learned edge_embedding without edge features)
 *                + lap_encoder([P_u, P_v]) + order_encoder[0]
 * P are node identifiers, the Laplacian eigenvectors of laplacian.ts (k per node, zero-padded for graphs
 * with fewer than k nodes). `lap_encoder` is TokenGT's Linear(2k -> D) without bias; `order_encoder` its
 * type embedding (index 1 where both ends are the same node); `graph_token` its Embedding(1, D).
 * Sequences are node tokens, then edge tokens in the order given, then padding to the batch's longest
 * (zeroed and flagged in `paddingMask`).
 *
 * During training each graph's eigenvectors get random signs (TokenGT's sign flip; eigenvectors are only
 * defined up to sign), drawn from the tokenizer's seeded generator; per graph here, where TokenGT draws one
 * set per batch. Each edge gives one token as listed: TokenGT's datasets list both directions of an
 * undirected edge, so list both for the exact original behaviour.
 *
 * Node features enter through a Linear (TokenGT embeds OGB's integer atom features instead).
 */
import * as ag from '../../autograd/index.js';
import { expectOptions, optionKeys } from '../../engine/arguments.js';
import { ArgumentError, FormatError, ShapeError } from '../../engine/errors.js';
import * as raw from '../../engine/ops/index.js';
import { Generator } from '../../engine/random.js';
import type { Tensor } from '../../engine/tensor.js';
import { readText } from '../../engine/platform.js';
import { Embedding, Linear } from '../../nn/index.js';
import type { GraphSample } from '../data/real.js';
import { failAtLine, sourceName, type FileSource } from '../io/common.js';
import { Tokenizer, type TokenBatch } from '../types.js';
import { laplacianEigenvectors } from './laplacian.js';
import { prependClsToken } from './patch.js';
import { learnedTensor, requireBatch, requireInt } from './tokens.js';

/** Largest graph tokenised: the eigensolver is O(n^3) with n^2 float64 memory. */
export const MAX_GRAPH_NODES = 2048;

/** A graph with optional per-edge features [edges * edgeFeatureDim] and precomputed node identifiers [n * k]. */
export interface GraphInput extends GraphSample {
  edgeFeatures?: Float32Array;
  edgeFeatureDim?: number;
  laplacian?: Float32Array;
}

export interface GraphTokenizerOptions {
  dim: number;
  nodeFeatureDim: number;
  /** Edge feature width; 0 (default) gives every edge token the learned edge_embedding instead. */
  edgeFeatureDim?: number;
  /** Laplacian eigenvectors per node (default 16). */
  k?: number;
  /** Seed of the sign-flip generator. */
  seed?: number;
  generator?: Generator;
}

const GRAPH_TOKENIZER_OPTIONS = optionKeys<GraphTokenizerOptions>({
  dim: true, nodeFeatureDim: true, edgeFeatureDim: true, k: true, seed: true, generator: true,
});

export class GraphTokenizer extends Tokenizer<GraphInput> {
  readonly modality = 'graph' as const;
  readonly dim: number;
  readonly hasClsToken = true;
  readonly nodeFeatureDim: number;
  readonly edgeFeatureDim: number;
  readonly k: number;
  node_encoder: Linear;
  edge_encoder: Linear | null;
  edge_embedding: Tensor | null;
  lap_encoder: Linear;
  order_encoder: Embedding;
  graph_token: Embedding;
  private readonly signs: Generator;
  private readonly eigenCache = new WeakMap<GraphSample, Float32Array>();

  constructor(options: GraphTokenizerOptions) {
    super();
    expectOptions('GraphTokenizer', options, GRAPH_TOKENIZER_OPTIONS);
    const { dim, nodeFeatureDim, edgeFeatureDim = 0, k = 16, seed = 0, generator } = options;
    const op = 'GraphTokenizer';
    requireInt(op, 'dim', dim);
    requireInt(op, 'nodeFeatureDim', nodeFeatureDim);
    requireInt(op, 'edgeFeatureDim', edgeFeatureDim, 0);
    requireInt(op, 'k', k);
    this.dim = dim;
    this.nodeFeatureDim = nodeFeatureDim;
    this.edgeFeatureDim = edgeFeatureDim;
    this.k = k;
    this.node_encoder = new Linear(nodeFeatureDim, dim, { generator });
    this.edge_encoder = edgeFeatureDim > 0 ? new Linear(edgeFeatureDim, dim, { generator }) : null;
    this.edge_embedding = edgeFeatureDim > 0 ? null : learnedTensor([dim], generator);
    this.lap_encoder = new Linear(2 * k, dim, { bias: false, generator });
    this.order_encoder = new Embedding(2, dim, { generator });
    this.graph_token = new Embedding(1, dim, { generator });
    this.signs = new Generator(seed);
  }

  /** Node identifiers [n * k] of a graph: its own `laplacian`, else computed once per graph object. */
  private identifiers(g: GraphInput, index: number): Float32Array {
    if (g.laplacian) {
      if (g.laplacian.length !== g.numNodes * this.k)
        throw new ShapeError(`GraphTokenizer: graph ${index} has ${g.laplacian.length} identifier values, expected ${g.numNodes} nodes x k ${this.k}`);
      return g.laplacian;
    }
    let p = this.eigenCache.get(g);
    if (!p) {
      p = laplacianEigenvectors(g.numNodes, g.edges, this.k);
      this.eigenCache.set(g, p);
    }
    return p;
  }

  private check(g: GraphInput, i: number): void {
    const op = 'GraphTokenizer';
    if (!Number.isInteger(g.numNodes) || g.numNodes < 1 || g.numNodes > MAX_GRAPH_NODES)
      throw new ArgumentError(`${op}: graph ${i} has ${g.numNodes} nodes; 1..${MAX_GRAPH_NODES} are supported`);
    if (g.featureDim !== this.nodeFeatureDim || g.nodeFeatures.length !== g.numNodes * this.nodeFeatureDim)
      throw new ShapeError(`${op}: graph ${i} has ${g.nodeFeatures.length} node feature values (featureDim ${g.featureDim}), expected ${g.numNodes} nodes x ${this.nodeFeatureDim}`);
    g.edges.forEach(([u, v], e) => {
      if (!Number.isInteger(u) || !Number.isInteger(v) || u < 0 || v < 0 || u >= g.numNodes || v >= g.numNodes)
        throw new ArgumentError(`${op}: graph ${i}, edge ${e} (${u}, ${v}) refers to a node outside 0..${g.numNodes - 1}`);
    });
    const fe = this.edgeFeatureDim;
    if (fe > 0 && (g.edgeFeatureDim !== fe || g.edgeFeatures?.length !== g.edges.length * fe))
      throw new ShapeError(`${op}: graph ${i} needs edgeFeatures of ${g.edges.length} edges x ${fe}, got ${g.edgeFeatures?.length ?? 'none'} (edgeFeatureDim ${g.edgeFeatureDim ?? 'unset'})`);
  }

  forward(batch: readonly GraphInput[]): TokenBatch {
    const op = 'GraphTokenizer';
    requireBatch(op, batch);
    batch.forEach((g, i) => this.check(g, i));
    const [b, k, f, fe] = [batch.length, this.k, this.nodeFeatureDim, this.edgeFeatureDim];
    const len = Math.max(...batch.map((g) => g.numNodes + g.edges.length));
    const nodeIn = new Float32Array(b * len * f);
    const edgeIn = new Float32Array(b * len * Math.max(fe, 1));
    const isNode = new Float32Array(b * len);
    const isEdge = new Float32Array(b * len);
    const pairs = new Float32Array(b * len * 2 * k);
    const order = new Int32Array(b * len);
    const mask = new Uint32Array(b * (1 + len));
    batch.forEach((g, i) => {
      const p = this.identifiers(g, i);
      const signs = Float32Array.from({ length: k }, () => (!this.training || this.signs.uniform() >= 0.5 ? 1 : -1));
      const put = (t: number, u: number, v: number): void => {
        for (let j = 0; j < k; j++) {
          pairs[(i * len + t) * 2 * k + j] = signs[j]! * p[u * k + j]!;
          pairs[(i * len + t) * 2 * k + k + j] = signs[j]! * p[v * k + j]!;
        }
      };
      for (let v = 0; v < g.numNodes; v++) {
        const t = v;
        nodeIn.set(g.nodeFeatures.subarray(v * f, (v + 1) * f), (i * len + t) * f);
        isNode[i * len + t] = 1;
        order[i * len + t] = 1;
        put(t, v, v);
      }
      g.edges.forEach(([u, v], e) => {
        const t = g.numNodes + e;
        if (fe > 0) edgeIn.set(g.edgeFeatures!.subarray(e * fe, (e + 1) * fe), (i * len + t) * fe);
        else edgeIn[i * len + t] = 1;
        isEdge[i * len + t] = 1;
        order[i * len + t] = u === v ? 1 : 0;
        put(t, u, v);
      });
      for (let t = g.numNodes + g.edges.length; t < len; t++) mask[i * (1 + len) + 1 + t] = 1;
    });
    const up = (data: Float32Array, shape: number[]): Tensor => raw.fromFlat(data, shape, 'f32', op);
    const temps: Tensor[] = [];
    const track = <T extends Tensor>(t: T): T => (temps.push(t), t);
    const nodeMask = track(up(isNode, [b, len, 1]));
    const edgeMask = track(up(isEdge, [b, len, 1]));
    const nodes = track(ag.mul(track(this.node_encoder.forward(track(up(nodeIn, [b, len, f])))), nodeMask));
    const edges = this.edge_encoder
      ? track(ag.mul(track(this.edge_encoder.forward(track(up(edgeIn, [b, len, fe])))), edgeMask))
      : track(ag.mul(edgeMask, this.edge_embedding!));
    const ids = track(this.lap_encoder.forward(track(up(pairs, [b, len, 2 * k]))));
    const types = track(this.order_encoder.forward(track(raw.fromFlat(order, [b, len], 'i32', op))));
    const sum = track(ag.add(track(ag.add(track(ag.add(nodes, edges)), ids)), types));
    // TokenGT zeroes padded tokens (masked_fill) so they carry nothing into pooling or attention.
    const valid = track(raw.add(nodeMask, edgeMask));
    const body = track(ag.mul(sum, valid));
    const tokens = prependClsToken(body, track(ag.reshape(this.graph_token.weight, [1, 1, this.dim])));
    const paddingMask = raw.fromFlat(mask, [b, 1 + len], 'u32', op);
    for (const t of temps) t.dispose();
    return { tokens, paddingMask };
  }
}

/** One graph per text: node ids as the loaders found them and the graph in GraphInput form. */
export interface LoadedGraph extends GraphInput {
  /** Original id of each node (the file's labels). */
  nodeIds: string[];
}

/** Largest node id an edge list may name (a guard against absurd allocations from hostile files). */
const MAX_EDGE_LIST_ID = 1_000_000;

/**
 * Parses an edge list: one edge per line as `u v [f1 f2 ...]`, fields separated by whitespace or commas,
 * node ids non-negative integers, extra columns numeric edge features (the same count on every line);
 * blank lines and lines starting with '#' or '%' are skipped. Nodes are 0..max id; every node gets the
 * single feature 1 (featureDim 1). Malformed lines are a FormatError naming the line.
 */
export function parseEdgeList(text: string, name = '<edges>'): LoadedGraph {
  const edges: [number, number][] = [];
  const features: number[] = [];
  let width = -1;
  let maxId = -1;
  text.split(/\r\n|\r|\n/).forEach((lineText, i) => {
    const line = i + 1;
    const t = lineText.trim();
    if (t === '' || t.startsWith('#') || t.startsWith('%')) return;
    const fields = t.split(/[\s,]+/);
    if (fields.length < 2) failAtLine(name, line, `expected 'source target', got '${t}'`);
    if (width < 0) width = fields.length;
    else if (fields.length !== width) failAtLine(name, line, `${fields.length} fields where earlier lines have ${width}`);
    const [u, v] = [fields[0]!, fields[1]!].map((s) => {
      if (!/^\d+$/.test(s) || Number(s) > MAX_EDGE_LIST_ID) failAtLine(name, line, `node id '${s}' is not an integer in 0..${MAX_EDGE_LIST_ID}`);
      return Number(s);
    }) as [number, number];
    for (const s of fields.slice(2)) {
      const x = Number(s);
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) || !Number.isFinite(x)) failAtLine(name, line, `edge feature '${s}' is not a number`);
      features.push(x);
    }
    edges.push([u, v]);
    maxId = Math.max(maxId, u, v);
  });
  if (edges.length === 0) throw new FormatError(`${name}: no edges`);
  const numNodes = maxId + 1;
  const edgeFeatureDim = width - 2;
  return {
    numNodes,
    edges,
    nodeFeatures: new Float32Array(numNodes).fill(1),
    featureDim: 1,
    nodeIds: Array.from({ length: numNodes }, (_, i) => String(i)),
    ...(edgeFeatureDim > 0 ? { edgeFeatures: Float32Array.from(features), edgeFeatureDim } : {}),
  };
}

export interface NodeLinkOptions {
  /** Numeric node attributes used as node features, in order (default: none, every node gets feature 1). */
  featureKeys?: readonly string[];
}

const NODE_LINK_OPTIONS = optionKeys<NodeLinkOptions>({ featureKeys: true });

/**
 * Parses node-link JSON (networkx node_link_data, d3 / vega-datasets miserables): `nodes` (objects,
 * optionally with `id`) and `links` (or `edges`) with `source` and `target` naming node ids, or node
 * indices when nodes have no `id`. Errors name the offending node or link.
 */
export function parseNodeLinkGraph(text: string, name = '<graph.json>', options: NodeLinkOptions = {}): LoadedGraph {
  expectOptions('parseNodeLinkGraph', options, NODE_LINK_OPTIONS);
  const { featureKeys = [] } = options;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${name}: not JSON (${(e as Error).message})`);
  }
  const record = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!record(doc) || !Array.isArray(doc.nodes)) throw new FormatError(`${name}: expected an object with a 'nodes' array`);
  const links = doc.links ?? doc.edges;
  if (!Array.isArray(links)) throw new FormatError(`${name}: expected a 'links' (or 'edges') array`);
  const nodes = doc.nodes as unknown[];
  if (nodes.length === 0 || nodes.length > MAX_GRAPH_NODES) throw new FormatError(`${name}: ${nodes.length} nodes; 1..${MAX_GRAPH_NODES} are supported`);
  const byId = new Map<string, number>();
  const nodeIds: string[] = [];
  const f = Math.max(featureKeys.length, 1);
  const nodeFeatures = new Float32Array(nodes.length * f).fill(1);
  nodes.forEach((node, i) => {
    if (!record(node)) throw new FormatError(`${name}: nodes[${i}] is not an object`);
    const id = Object.hasOwn(node, 'id') ? node.id : i;
    if (typeof id !== 'string' && typeof id !== 'number') throw new FormatError(`${name}: nodes[${i}].id must be a string or number`);
    if (byId.has(String(id))) throw new FormatError(`${name}: nodes[${i}] repeats id ${JSON.stringify(id)}`);
    byId.set(String(id), i);
    nodeIds.push(String(id));
    featureKeys.forEach((key, j) => {
      const v = Object.hasOwn(node, key) ? node[key] : undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(`${name}: nodes[${i}].${key} is not a finite number`);
      nodeFeatures[i * f + j] = v;
    });
  });
  const edges = links.map((link, e): [number, number] => {
    if (!record(link)) throw new FormatError(`${name}: links[${e}] is not an object`);
    const end = (key: 'source' | 'target'): number => {
      const ref = link[key];
      const idx = typeof ref === 'string' || typeof ref === 'number' ? byId.get(String(ref)) : undefined;
      if (idx === undefined) throw new FormatError(`${name}: links[${e}].${key} ${JSON.stringify(ref)} names no node`);
      return idx;
    };
    return [end('source'), end('target')];
  });
  return { numNodes: nodes.length, edges, nodeFeatures, featureDim: f, nodeIds };
}

/** Reads a graph file: node-link JSON when the text starts with '{', else an edge list. */
export async function readGraphFile(src: FileSource, options: NodeLinkOptions = {}): Promise<LoadedGraph> {
  const text = await readText(src, 'readGraphFile');
  const name = sourceName(src);
  return text.trimStart().startsWith('{') ? parseNodeLinkGraph(text, name, options) : parseEdgeList(text, name);
}
