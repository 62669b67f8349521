/**
 * Typed access to scripts/chromium.mjs (headless Debian Chromium with WebGPU, as the browser test runner
 * launches it) for the Node tests that drive a page. Loaded from the repository at run time, since the
 * .mjs scripts are not part of the TypeScript build.
 */
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  const launcher = (await import(join(process.cwd(), 'scripts/chromium.mjs'))) as { launchChromium(): Promise<Chromium> };
  return launcher.launchChromium();
}
