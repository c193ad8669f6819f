/**
 * The spec's two Python examples for POST /api/runs/{token} ("Run a single block", "Run a block with runtime
 * variables"), run unchanged with the real Python and `requests` against a local server; only MAGE_URL and TOKEN
 * are filled in. The second example's block is the spec's transformer reading kwargs.get('patient_id').
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { hashToken } from '../../src/auth/tokens.js';
import { makeRunsProject, removeRunsProject } from '../../bench/runsProject.js';

const PYTHON = process.env.BLOCKFLOW_PYTHON ?? '/work/main/.venv-test/bin/python';

const RUN_A_SINGLE_BLOCK = `
import requests

MAGE_URL = '{{MAGE_URL}}'
TOKEN    = '{{TOKEN}}'

response = requests.post(
    f'{MAGE_URL}/api/runs/{TOKEN}',
    json={
        'run': {
            'pipeline_uuid': 'my_pipeline',
            'block_uuid':    'my_block'
        }
    }
)

result = response.json()['run']
print(result)
`;

const RUN_WITH_VARIABLES = `
import requests

MAGE_URL = '{{MAGE_URL}}'
TOKEN    = '{{TOKEN}}'

response = requests.post(
    f'{MAGE_URL}/api/runs/{TOKEN}',
    json={
        'run': {
            'pipeline_uuid': 'patient_lookup',
            'block_uuid':    'transform_medical_data',
            'variables': {
                'patient_id': 'PID00087'
            }
        }
    }
)

result = response.json()['run']
print(result)
`;

function python(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', script], { timeout: 30_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim())));
  });
}

describe("the spec's Python examples against a local server", () => {
  let t: TestServer;
  const tokens: Record<string, string> = {};
  const fixture = makeRunsProject('test');

  before(async () => {
    t = await startTestServer({ dialect: 'sqlite', fixture });
    for (const pipeline of ['my_pipeline', 'patient_lookup']) {
      // Mage's tokens are uuid4().hex.
      tokens[pipeline] = hashToken(pipeline).slice(0, 32);
      await t.server.ctx.store.schedules.create({ name: `api ${pipeline}`, pipeline_uuid: pipeline, schedule_type: 'api', token_hash: hashToken(tokens[pipeline]), status: 'active' });
    }
  });
  after(async () => {
    await t?.close();
    removeRunsProject(fixture);
  });

  const fill = (script: string, pipeline: string) => script.replace('{{MAGE_URL}}', t.url).replace('{{TOKEN}}', tokens[pipeline]);

  test('Example: Run a single block', async () => {
    const printed = await python(fill(RUN_A_SINGLE_BLOCK, 'my_pipeline'));
    assert.equal(printed, "{'output': [{'status': 'ok', 'rows': 3}]}");
  });

  test('Example: Run a block with runtime variables (kwargs.get("patient_id") in the block)', async () => {
    // The transformer reads its upstream loader's latest stored output, which a first run with upstream leaves.
    const prime = await t.call('POST', `/api/runs/${tokens.patient_lookup}`, {
      run: { pipeline_uuid: 'patient_lookup', block_uuid: 'transform_medical_data', run_upstream_blocks: true, variables: { patient_id: 'PID00001' } },
    });
    assert.equal(prime.status, 200, JSON.stringify(prime.body));
    assert.deepEqual(prime.body.run.output, [[{ patient_id: 'PID00001', name: 'Ada', age: 36 }]]);
    const printed = await python(fill(RUN_WITH_VARIABLES, 'patient_lookup'));
    assert.equal(printed, "{'output': [[{'patient_id': 'PID00087', 'name': 'Grace', 'age': 45}]]}");
  });
});
