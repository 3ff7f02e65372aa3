import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { post, replaceFile, waitFor } from './harness.js';
import { startUpstream, type Echo, type FakeUpstream } from './upstream.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How long the child process gets to show each change. */
const WAIT_MS = 10_000;


/** The models file with `a` and `b` at these weights. */
function models(a: FakeUpstream, b: FakeUpstream, wa: number, wb: number): string {
  return JSON.stringify({ m: { backends: [{ name: 'a', upstream: a.url, weight: wa }, { name: 'b', upstream: b.url, weight: wb }] } });
}

describe('the gateway process: SIGHUP reads the models file again', () => {
  let dir: string;
  let file: string;
  let a: FakeUpstream;
  let b: FakeUpstream;
  let gateway: ChildProcess;
  let url: string;
  let output = '';

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gateway-sighup-'));
    file = path.join(dir, 'models.json');
    [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
    replaceFile(file, models(a, b, 1, 0));
    gateway = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, GATEWAY_MODELS_FILE: file, GATEWAY_PORT: '0', GATEWAY_ADMIN_PORT: '0', GATEWAY_HOST: '127.0.0.1', GATEWAY_LOG_LEVEL: 'info', GATEWAY_DRAIN_TIMEOUT_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const listening = new Promise<string>((resolve, reject) => {
      gateway.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const line = output.split('\n').find((l) => l.includes('"gateway listening"'));
        if (line !== undefined) resolve(`http://127.0.0.1:${(JSON.parse(line) as { address: { port: number } }).address.port}`);
      });
      gateway.once('exit', (code) => reject(new Error(`the gateway exited (${code}): ${output}`)));
    });
    gateway.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timeout = setTimeout(() => gateway.kill('SIGKILL'), 30_000);
    url = await listening.finally(() => clearTimeout(timeout));
    // Until the first readiness probe passes, requests are 503s.
    for (let i = 0; i < 100 && (await post(`${url}/v2/models/m/infer`, {})).status !== 200; i++) await sleep(100);
  });
  after(async () => {
    if (gateway.exitCode === null) {
      gateway.kill('SIGTERM');
      await once(gateway, 'exit');
    }
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the file again on SIGHUP, whether or not it changed, and keeps running', async () => {
    const refusals = () => output.split('\n').filter((line) => line.includes('models file not usable; keeping the running configuration')).length;
    assert.equal(((await post(`${url}/v2/models/m/infer`, {})).json as Echo).served, 'a');
    gateway.kill('SIGHUP');
    await waitFor(() => output.includes('"SIGHUP: reading the models and keys files again"'), WAIT_MS);
    assert.equal(gateway.exitCode, null, 'SIGHUP does not stop the gateway');

    replaceFile(file, models(a, b, 0, 0));
    assert.notEqual(await waitFor(() => refusals() === 1, WAIT_MS), undefined, 'the watch refuses the invalid file');
    assert.match(output, /every weight is 0/);
    gateway.kill('SIGHUP');
    assert.notEqual(await waitFor(() => refusals() === 2, WAIT_MS), undefined, 'SIGHUP read the unchanged file again');
    assert.equal(((await post(`${url}/v2/models/m/infer`, {})).json as Echo).served, 'a', 'the running configuration stays');

    replaceFile(file, models(a, b, 0, 1));
    gateway.kill('SIGHUP');
    assert.notEqual(await waitFor(async () => ((await post(`${url}/v2/models/m/infer`, {})).json as Echo).served === 'b', WAIT_MS), undefined);
  });
});
