import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startServerProcess } from '@modeldock/model-server/testing';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const REPO = new URL('../../../../', import.meta.url);
const MODEL_DIR = fileURLToPath(new URL('models/question-topic', REPO));
const CHUNK = 100;

/** TREC_10, the 500 held-out test questions, as `[coarse label, question]`. */
function readTrecTest(): [string, string][] {
  return readFileSync(new URL('data/trec/TREC_10.label', REPO), 'latin1')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(' ') + 1)]);
}

describe('TREC_10 accuracy through the HTTP API (every committed version, OIP infer)', () => {
  const server = startServerProcess(MAIN, {
    MODEL_PORT: '0',
    MODEL_HOST: '127.0.0.1',
    MODEL_BACKEND: 'wasm',
    MODEL_DIR: MODEL_DIR,
    MODEL_VERSIONS: 'all',
  });
  let base = '';

  before(async () => {
    ({ base } = await server.ready);
  });

  after(() => server.kill());

  it('matches the test accuracy each version recorded in its metadata', async () => {
    const test = readTrecTest();
    const { versions } = (await (await fetch(`${base}/v2/models/question-topic`)).json()) as { versions: string[] };
    assert.ok(versions.length > 0);
    for (const version of versions) {
      const metadata = JSON.parse(readFileSync(`${MODEL_DIR}/${version}/metadata.json`, 'utf8')) as {
        evaluation: { testAccuracy: number };
      };
      let correct = 0;
      for (let start = 0; start < test.length; start += CHUNK) {
        const chunk = test.slice(start, start + CHUNK);
        const res = await fetch(`${base}/v2/models/question-topic/versions/${version}/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [{ name: 'text', shape: [chunk.length], datatype: 'BYTES', data: chunk.map(([, question]) => question) }],
            outputs: [{ name: 'label' }],
          }),
        });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { model_version: string; outputs: { name: string; data: string[] }[] };
        assert.equal(body.model_version, version);
        const labels = body.outputs.find((output) => output.name === 'label')?.data ?? [];
        correct += chunk.filter(([label], i) => labels[i] === label).length;
      }
      const accuracy = correct / test.length;
      // Batching and the worker thread may move a float in the last place; allow one or two questions.
      assert.ok(
        Math.abs(accuracy - metadata.evaluation.testAccuracy) <= 0.004,
        `v${version}: ${accuracy} over HTTP, ${metadata.evaluation.testAccuracy} recorded`,
      );
    }
  });
});
