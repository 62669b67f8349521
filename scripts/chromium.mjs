// Headless Debian Chromium for everything that drives a page (the browser test runner, the demo and
// benchmark-page tests): never a downloaded browser, WebGPU enabled on Vulkan, a fresh profile that `close`
// removes. On the CPU-only CI machine Chromium's Dawn picks its bundled SwiftShader (subgroups of 4, no
// shader-f16), not the system's lavapipe, whatever the Vulkan flags: browser figures there are SwiftShader's.
// Resolves to { context, close }.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--no-sandbox', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launchChromium() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'omni-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
