// The test command: runs every test suite under Node (Dawn) and in headless Chromium (WebGPU), then
// prints one line `N passed, N failed` counting both. Exits non-zero on any failure, and fails loudly when
// no WebGPU adapter exists: GPU tests are never skipped.
//
//   node scripts/test.mjs            # both
//   node scripts/test.mjs --node     # Node only
//   node scripts/test.mjs --browser  # browser only
//   node scripts/test.mjs --node engine/elementwise   # only files whose path contains the filter
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const only = args.find((a) => a === '--node' || a === '--browser');
const filter = args.find((a) => !a.startsWith('--')) ?? '';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

function listTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTests(p));
    else if (/\.test\.(js|ts)$/.test(name)) out.push(p);
  }
  return out;
}

/**
 * Runs a command, streaming its output, and returns the uvu totals it printed, or `crashed` (with the
 * plain output) when the process ended without a summary.
 */
function runAndCount(cmd, cmdArgs, label) {
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let text = '';
    const onData = (stream) => (chunk) => {
      const s = chunk.toString();
      // Dawn prints two harmless notes about artificially reduced limits at device creation.
      const shown = s.split('\n').filter((l) => !l.includes('artificially reduced')).join('\n');
      stream.write(shown);
      text += s;
    };
    child.stdout.on('data', onData(process.stdout));
    child.stderr.on('data', onData(process.stderr));
    child.on('close', (code, signal) => {
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
      if (Number.isNaN(total) || Number.isNaN(passed)) {
        console.error(`\n[${label}] runner ended (code ${code}, signal ${signal}) without a summary`);
        resolve({ passed: 0, failed: 1, crashed: { plain, why: signal ?? `exit code ${code}` } });
      } else resolve({ passed, failed: total - passed + (code === 0 ? 0 : total === passed ? 1 : 0) });
    });
  });
}

/**
 * The Node test files in one process (one shared device). If the process dies without a summary (a native
 * crash inside Dawn or the driver), the suites that finished keep their counts, the file that was running
 * is run again alone, loudly reported, and counted by that rerun (one failure if it dies again), and the
 * files after it run in a fresh process: one crash neither hides nor discards the rest of the suite.
 */
async function runNodeFiles(files) {
  const total = { passed: 0, failed: 0 };
  let remaining = files;
  while (remaining.length > 0) {
    const r = await runAndCount(process.execPath, ['scripts/uvu-node.mjs', ...remaining], 'node');
    if (!r.crashed) {
      total.passed += r.passed;
      total.failed += r.failed;
      break;
    }
    // uvu prints each file's path as it starts it, and "(passed / total)" when one of its suites ends.
    const started = remaining.filter((f) => r.crashed.plain.includes(f));
    const running = started.at(-1) ?? remaining[0];
    for (const m of r.crashed.plain.matchAll(/\((\d+) \/ (\d+)\)/g)) {
      total.passed += Number(m[1]);
      total.failed += Number(m[2]) - Number(m[1]);
    }
    const rerun = await runAndCount(process.execPath, ['scripts/uvu-node.mjs', running], 'node');
    console.error(
      `\n[node] WARNING: the test process died (${r.crashed.why}) while running ${running}; ` +
        (rerun.crashed ? 'it died again when rerun alone: 1 failure' : `rerun alone: ${rerun.passed} passed, ${rerun.failed} failed`),
    );
    total.passed += rerun.passed;
    total.failed += rerun.failed;
    remaining = remaining.slice(remaining.indexOf(running) + 1);
  }
  return total;
}

const results = [];
if (only !== '--browser') {
  const files = listTests('dist/test').filter((f) => f.endsWith('.js') && f.includes(filter));
  console.log(`\n== Node (Dawn): ${files.length} test files`);
  results.push(await runNodeFiles(files));
}
if (only !== '--node') {
  const files = listTests('test').filter((f) => f.endsWith('.ts') && !f.includes('.node.test.') && f.includes(filter));
  console.log(`\n== Browser (headless Chromium): ${files.length} test files`);
  results.push(await runAndCount(process.execPath, ['scripts/uvu-browser.mjs', ...files], 'browser'));
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
