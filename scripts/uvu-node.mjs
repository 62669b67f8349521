// Runs the given compiled test files in one Node process with uvu, sharing one GPU device.
// The summary is written synchronously and the process exits explicitly, so nothing after the last test
// (such as Dawn's native teardown) can swallow the results.
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

globalThis.UVU_DEFER = 1;
const uvu = await import('uvu');
const files = process.argv.slice(2);
files.forEach((file, i) => {
  globalThis.UVU_QUEUE.push([file]);
});
for (let i = 0; i < files.length; i++) {
  globalThis.UVU_INDEX = i;
  await import(pathToFileURL(resolve(files[i])).href);
}
await uvu.exec(false);
writeSync(1, '');
process.exit(process.exitCode ?? 0);
