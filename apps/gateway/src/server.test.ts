import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, createTrustedProxies } from '@modeldock/service-kit';
import { createLimitedServer } from './server.js';

describe('createLimitedServer', () => {
  it('applies every configured client limit to the server', () => {
    const server = createLimitedServer(
      (_req, res) => res.end(),
      { headersTimeoutMs: 1500, requestTimeoutMs: 4000, keepAliveTimeoutMs: 700, maxConnections: 12, maxHeaderBytes: 4096, clientLimits: { maxConnections: 4 } },
      { logger: createLogger({ service: 'gateway-test', level: 'silent' }), trustedProxies: createTrustedProxies([]) },
    );
    assert.deepEqual(
      [server.headersTimeout, server.requestTimeout, server.keepAliveTimeout, server.maxConnections],
      [1500, 4000, 700, 12],
    );
    assert.equal(server.listenerCount('clientError'), 1, 'parser errors are answered with JSON');
  });
});
