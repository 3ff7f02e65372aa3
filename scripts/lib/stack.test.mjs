import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DOCUMENTED_ADMIN_PORT, DOCUMENTED_GATEWAY_PORT, freePorts, rewritePorts, startStack } from './stack.mjs';

describe('freePorts', () => {
  it('answers distinct ports that can be listened on', async () => {
    const ports = await freePorts(4);
    assert.equal(new Set(ports).size, 4);
    const server = createServer();
    await new Promise((resolve, reject) => server.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('rewritePorts', () => {
  it('points documented localhost ports at the stack, leaving other ports and hosts alone', () => {
    const ports = new Map([[8080, 40001], [9081, 40002]]);
    const text = 'curl -s localhost:8080/v2; curl 127.0.0.1:9081/metrics; curl localhost:80801/x; curl example.org:8080; curl localhost:8503';
    assert.equal(rewritePorts(text, ports), 'curl -s localhost:40001/v2; curl 127.0.0.1:40002/metrics; curl localhost:80801/x; curl example.org:8080; curl localhost:8503');
  });
});

describe('startStack', () => {
  let stack;
  before(async () => {
    stack = await startStack({ only: ['embedding-topic'], readyTimeoutMs: 120_000 });
  });
  after(() => stack?.stop());

  it('serves through a gateway on its own ports, never the documented ones', async () => {
    const gatewayPort = Number(new URL(stack.gateway).port);
    assert.notEqual(gatewayPort, DOCUMENTED_GATEWAY_PORT);
    assert.equal(stack.ports.get(DOCUMENTED_GATEWAY_PORT), gatewayPort);
    assert.notEqual(stack.ports.get(DOCUMENTED_ADMIN_PORT), DOCUMENTED_ADMIN_PORT);
    const res = await fetch(`${stack.gateway}/v2/models/embedding-topic/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'embedding', datatype: 'FP32', shape: [1, 512], data: new Array(512).fill(0.04) }] }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).outputs[0].shape, [1, 6]);
  });

  it('rewrites a documented call to reach the model through this stack', async () => {
    const url = stack.rewrite(`http://localhost:${DOCUMENTED_GATEWAY_PORT}/v2/models/embedding-topic/ready`);
    assert.equal((await fetch(url)).status, 200);
    // The model's own documented port (its model-settings.json) maps to where it runs here.
    const direct = stack.rewrite('http://127.0.0.1:8503/v2/health/ready');
    assert.notEqual(direct, 'http://127.0.0.1:8503/v2/health/ready');
    assert.equal((await fetch(direct)).status, 200);
  });

  it('stops every process it started', async () => {
    await stack.stop();
    await assert.rejects(fetch(`${stack.gateway}/healthz`, { signal: AbortSignal.timeout(5000) }));
    await assert.rejects(fetch(stack.rewrite('http://127.0.0.1:8503/v2/health/live'), { signal: AbortSignal.timeout(5000) }));
  });
});
