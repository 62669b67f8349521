import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JAX_INSTALL } from '../../bench/peers/jax.js';
import { WEBGPU_TORCH_INSTALL } from '../../bench/peers/webgpu-torch.js';

// jax-js and webgpu-torch export no version, so the bench report records the one each peer module pins:
// it must be the version installed (and the one package.json pins), or the report would misname the peer.
const t = suite('bench: the peer versions the report names');

t('JAX_INSTALL and WEBGPU_TORCH_INSTALL name the installed packages', () => {
  const pinned = (JSON.parse(readFileSync('package.json', 'utf8')) as { devDependencies: Record<string, string> }).devDependencies;
  for (const install of [JAX_INSTALL, WEBGPU_TORCH_INSTALL]) {
    const at = install.lastIndexOf('@');
    const [name, version] = [install.slice(0, at), install.slice(at + 1)];
    const installed = (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
    assert.is(installed, version, `${name} installed`);
    assert.is(pinned[name], version, `${name} in package.json`);
  }
});

t.run();
