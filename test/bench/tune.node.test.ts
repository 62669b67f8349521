import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { matmulTuning, setMatmulTuning, type MatmulTuning } from '../../engine/index.js';
import { testDevice } from '../helpers.js';

// bench/tune.ts: the GEMM tuning run prints, per product, the built-in choice against the fastest, the
// table as JSON that setMatmulTuning takes, and the same rows in the syntax of kernels/matmul.ts TUNING.
const t = suite('bench: GEMM tuning run (node dist/bench/tune.js)');

t('prints the comparison, an installable table and TUNING rows', async () => {
  const r = spawnSync(process.execPath, ['dist/bench/tune.js'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TUNE_SHAPES: '4x24x16,40x24x16', TUNE_REPEATS: '1', TUNE_ROUNDS: '1' },
  });
  assert.is(r.status, 0, r.stdout + r.stderr);
  for (const product of ['4x24x16 plain', '40x24x16 plain', '4x24x16 +bias', '40x24x16 +bias'])
    assert.match(r.stdout, new RegExp(`^${product.replace('+', '\\+')} +built-in \\S+ [\\d.]+ ms \\([\\d.]+ GFLOP/s\\) +best \\S+ [\\d.]+ ms`, 'm'));
  assert.not.match(r.stdout, /wrong result|failed:/);
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
});

t.run();
