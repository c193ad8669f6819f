/**
 * `blockflow run <project> <pipeline> [--var k=v]` as a real child process: per-block progress lines (no TTY),
 * exit code 0 when the run completes, 1 when it fails, 2 on bad input; --var reaches the blocks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildProject, py, usePreparedPython } from './projectBuilder.js';
import { runCli } from '../helpers/cli.js';

usePreparedPython();



describe('blockflow run', () => {
  let root: string;

  before(() => {
    root = buildProject({
      pandas_etl: {
        variables: { suffix: 'default' },
        blocks: [
          { uuid: 'load', type: 'data_loader', code: py('data_loader', `import pandas as pd\n\n@data_loader\ndef l(*args, **kwargs):\n    return pd.DataFrame({'a': [1, 2, 3]})`) },
          { uuid: 'clean', type: 'transformer', upstream: ['load'], code: py('transformer', `@transformer\ndef t(df, *args, **kwargs):\n    return df[df['a'] > 1]`) },
          { uuid: 'enrich', type: 'transformer', upstream: ['load'], code: py('transformer', `@transformer\ndef t(df, *args, **kwargs):\n    df = df.copy()\n    df['tag'] = kwargs['suffix']\n    return df`) },
          {
            uuid: 'save',
            type: 'data_exporter',
            upstream: ['clean', 'enrich'],
            code: py('data_exporter', `@data_exporter\ndef e(clean, enriched, *args, **kwargs):\n    print('saved', len(clean), 'rows tagged', enriched['tag'].iloc[0])`),
          },
        ],
      },
      broken: {
        blocks: [
          { uuid: 'fine', type: 'data_loader', code: py('data_loader', `@data_loader\ndef l(*args, **kwargs):\n    return 1`) },
          { uuid: 'bad', type: 'transformer', upstream: ['fine'], code: py('transformer', `@transformer\ndef t(x, *args, **kwargs):\n    raise ZeroDivisionError('no dividing by zero')`) },
        ],
      },
    });
  });

  after(() => {
    if (root) rmSync(dirname(root), { recursive: true, force: true });
  });

  test('a pandas pipeline completes: live lines per block, exit code 0, --var reaches the blocks', async () => {
    const r = await runCli([root, 'pandas_etl', '--var', 'suffix=from-cli']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Running pipeline pandas_etl \(run \d+, 4 blocks\)/);
    for (const block of ['load', 'clean', 'enrich', 'save']) {
      assert.match(r.stdout, new RegExp(`▶ ${block} running`));
      assert.match(r.stdout, new RegExp(`✔ ${block} completed \\(\\d+ ms\\)`));
    }
    assert.match(r.stdout, /Pipeline run completed\./);
    const logs = join(root, 'mage_data', 'pipelines', 'pandas_etl', '.logs');
    const saveLog = (readdirSync(logs, { recursive: true }) as string[]).find((f) => f.endsWith('save.log'))!;
    assert.match(readFileSync(join(logs, saveLog), 'utf8'), /saved 2 rows tagged from-cli/);
  });

  test('a failing pipeline exits 1 and names the error', async () => {
    const r = await runCli([root, 'broken']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /✖ bad failed \(\d+ ms\): no dividing by zero/);
    assert.match(r.stdout, /Pipeline run failed\./);
  });

  test('an unknown pipeline exits 2 with a clear message', async () => {
    const r = await runCli([root, 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope/);
  });
});
