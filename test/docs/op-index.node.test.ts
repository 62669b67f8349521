import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as autograd from '../../autograd/index.js';
import { ops } from '../../engine/index.js';

// The README's "Where each op lives" table is how a reader finds an op's kernel, launcher, backward rule
// and tests in a minute. It must name files that exist, ops that exist, and every kernel file and
// launcher there is, so it cannot drift from the code.
const t = suite('docs: the README op index');

interface Row {
  ops: string[];
  cells: string[][];
}

function rows(): Row[] {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.split('### Where each op lives')[1];
  assert.ok(section, 'README has the op index section');
  const lines = section!.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ops '));
  return lines.map((line) => {
    const cells = line.split('|').slice(1, -1).map((c) => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
    return { ops: cells[0]!, cells: cells.slice(1) };
  });
}

/** A WGSL cell names files in kernels/wgsl/; the other cells name paths from the repository root. */
const pathOf = (column: number, name: string): string => (column === 2 ? `kernels/wgsl/${name}` : name);

t('every file the index names exists, and every op it names is exported', () => {
  const table = rows();
  assert.ok(table.length >= 14, `${table.length} rows`);
  for (const row of table) {
    row.cells.forEach((names, column) => {
      for (const name of names) assert.ok(existsSync(pathOf(column, name)), `${row.ops[0]}: ${pathOf(column, name)} exists`);
    });
    for (const op of row.ops) assert.ok(op in ops, `ops.${op} is exported by the engine`);
    const [engineFile, , , ruleFile] = row.cells.map((c) => c[0]);
    const declares = (file: string, op: string): boolean => new RegExp(`export (async )?(function|const) ${op}\\b`).test(readFileSync(file, 'utf8'));
    // Elementwise ops are declared in engine/ops/index.ts from the generic unary/binary builders.
    assert.ok(row.ops.some((op) => declares(engineFile!, op)), `${engineFile} declares one of ${row.ops.join(', ')}`);
    if (ruleFile) {
      const differentiable = row.ops.filter((op) => op in autograd);
      assert.ok(differentiable.length > 0, `${row.ops[0]}: the autograd layer exports the row's ops`);
      assert.ok(differentiable.some((op) => declares(ruleFile, op)), `${ruleFile} declares one of ${differentiable.join(', ')}`);
    }
  }
});

t('the index is complete: every kernel file, launcher and engine op module has a row', () => {
  const named = new Set(rows().flatMap((row) => row.cells.flatMap((names, column) => names.map((n) => pathOf(column, n)))));
  const expected = [
    ...readdirSync('kernels/wgsl').filter((f) => f.endsWith('.wgsl')).map((f) => `kernels/wgsl/${f}`),
    ...readdirSync('kernels').filter((f) => f.endsWith('.ts') && f !== 'launch.ts').map((f) => `kernels/${f}`),
    ...readdirSync('engine/ops').filter((f) => f.endsWith('.ts') && f !== 'index.ts').map((f) => `engine/ops/${f}`),
  ];
  for (const file of expected) assert.ok(named.has(file), `${file} appears in the README op index`);
});

t.run();
