import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { attentionTuning, matmulTuning, setAttentionTuning, setMatmulTuning, type AttentionTuning, type MatmulTuning } from '../../engine/index.js';
import { testDevice } from '../helpers.js';

// bench/tune.ts: the tuning run prints, per GEMM and attention shape, the built-in choice against the
// fastest, the tables as JSON that setMatmulTuning / setAttentionTuning take, and the GEMM rows in the
// syntax of kernels/matmul.ts TUNING.
const t = suite('bench: tuning run (node dist/bench/tune.js)');

t('prints the comparisons, installable tables and TUNING rows', async () => {
  const r = spawnSync(process.execPath, ['dist/bench/tune.js'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TUNE_SHAPES: '4x24x16,40x24x16', TUNE_ATTENTION_SHAPES: '1x2x9x16,2x1x40x16', TUNE_REPEATS: '1', TUNE_ROUNDS: '1' },
  });
  assert.is(r.status, 0, r.stdout + r.stderr);
  for (const product of ['4x24x16 plain', '40x24x16 plain', '4x24x16 +bias', '40x24x16 +bias'])
    assert.match(r.stdout, new RegExp(`^${product.replace('+', '\\+')} +built-in \\S+ [\\d.]+ ms \\([\\d.]+ GFLOP/s\\) +best \\S+ [\\d.]+ ms`, 'm'));
  for (const shape of ['1x2x9x16', '2x1x40x16']) assert.match(r.stdout, new RegExp(`^attention ${shape} +built-in \\S+ [\\d.]+ ms`, 'm'));
  assert.not.match(r.stdout, /wrong result|failed:/);
  const attention = /^setAttentionTuning\((.*)\)$/m.exec(r.stdout)?.[1];
  assert.ok(attention, r.stdout);
  const json = /^setMatmulTuning\((.*)\)$/m.exec(r.stdout)?.[1];
  assert.ok(json, r.stdout);
  const table = JSON.parse(json!) as MatmulTuning;
  const entries = r.stdout.slice(r.stdout.indexOf('rows (kernels/matmul.ts):')).split('\n').slice(1).filter((l) => l.trim().startsWith('{'));
  assert.is(entries.length, table.rows.length, 'one TUNING entry per row');
  for (const [i, row] of table.rows.entries()) assert.match(entries[i]!, new RegExp(`^  \\{ maxM: ${row.maxM ?? 'Infinity'}[,}].*variant: '${row.kernel}'`));
  await testDevice();
  setMatmulTuning(table);
  assert.equal(matmulTuning(), { ...table, source: 'installed' });
  setMatmulTuning(null);
  const attentionTable = JSON.parse(attention!) as AttentionTuning;
  setAttentionTuning(attentionTable);
  assert.equal(attentionTuning(), { ...attentionTable, source: 'installed' });
  setAttentionTuning(null);
});

t.run();
