import { setFlagsFromString } from 'node:v8';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { allCases } from '../../bench/cases/index.js';
import { modelCase } from '../../bench/cases/model.js';
import { GROUPS, runCase, type RunContext } from '../../bench/harness.js';
import { encodeModel, OnnxBuilder } from '../../bench/peers/onnx.js';
import { openOrtGraph } from '../../bench/peers/ort.js';
import { testDevice } from '../helpers.js';

// ONNX Runtime Web as a benchmark peer in Node (Dawn): the ONNX graphs the cases write must load in ORT's
// WebGPU provider with CPU fallback disabled, run, and pass the same float64 oracle as every engine. One
// untimed-size batch per variant: this checks the peer, the bench measures it.
const t = suite('bench: ONNX Runtime Web peer (Node)');

// These tests check results, not speed: with WebAssembly left to V8's baseline compiler, ORT's first run
// no longer waits 35-45 s for TurboFan to optimise its 27 MB module (bench/peers/ort.ts). Set before ORT
// compiles anything. The flag holds for the whole test process (scripts/uvu-node.mjs imports every Node
// test file into one), where nothing else compiles WebAssembly.
setFlagsFromString('--liftoff-only');
t.before(async () => {
  await testDevice();
});

t('the ONNX writer encodes fields as protobuf does: negative int64 attributes take ten bytes', () => {
  const b = new OnnxBuilder();
  const y = b.op('Softmax', ['x'], { axis: { int: -1 } });
  const bytes = encodeModel({ inputs: [{ name: 'x', shape: [2, 3] }], outputs: [y], nodes: b.nodes });
  // ir_version (field 1, varint) = 9 comes first.
  assert.equal([...bytes.slice(0, 2)], [0x08, 9]);
  // The attribute's i (field 3, varint): key 0x18, then -1 as 64-bit two's complement.
  const hex = Buffer.from(bytes).toString('hex');
  assert.ok(hex.includes('18ffffffffffffffffff01'), 'axis -1 as a ten-byte varint');
});

t('a graph with an op that would fall back to the CPU is refused, not run on the CPU', async () => {
  const host = { data: new Float32Array([0.4, 1.6, -2.5, 3]), shape: [4] };
  try {
    await openOrtGraph([host], (g, [x]) => g.op('Round', [x!]));
    assert.unreachable('Round has no WebGPU kernel in ORT 1.30');
  } catch (err) {
    assert.is((err as Error).name, 'Unsupported');
    assert.match((err as Error).message, /CPU/);
  }
});

t('every case with an ORT variant validates on this adapter', async () => {
  const ctx: RunContext = { timing: { warmups: 1, repeats: 1, targetMs: 1, maxIterations: 1 }, engines: new Set(['onnxruntime-web']) };
  const groups = GROUPS.filter((g) => g !== 'model');
  const cases = allCases({ quick: true, large: false, adapterClass: 'cpu', f16: false, groups });
  let checked = 0;
  for (const c of cases) {
    const r = await runCase(c, ctx);
    const ort = r.variants.filter((v) => v.engine === 'onnxruntime-web');
    if (ort.length === 0) continue;
    checked++;
    const summary = ort.map((v) => `${v.label}: ${v.status} ${v.reason ?? ''}`).join('; ');
    assert.ok(ort.some((v) => v.status === 'ok'), `${c.name}: an ORT variant validated (${summary})`);
    // Nothing may fail outright: a variant is ok, or invalid with the oracle's mismatch (ORT's fused
    // attention on lavapipe), never a crash of the runner.
    for (const v of ort) assert.ok(v.status === 'ok' || v.status === 'invalid', `${c.name}: ${summary}`);
  }
  assert.ok(checked >= 10, `ORT ran ${checked} cases`);
});

t("the image path's ONNX graph gives our model's output (B16's 12 blocks at width 64, 4 heads)", async () => {
  const ctx: RunContext = { timing: { warmups: 1, repeats: 1, targetMs: 1, maxIterations: 1 }, engines: new Set(['omnitensor', 'onnxruntime-web']) };
  const r = await runCase(modelCase('host', 1, false), ctx);
  for (const engine of ['omnitensor', 'onnxruntime-web']) {
    const v = r.variants.find((x) => x.engine === engine);
    assert.is(v?.status, 'ok', `${engine}: ${v?.reason ?? 'no variant'}`);
  }
});

t.run();
