import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Server } from 'node:http';
import { clipInput } from './errors.js';
import { createHttpServer } from './http-server.js';
import { createLogger } from './logger.js';

/** Writes `raw` to a new connection and reads until the server closes it (or 3 s pass). */
async function exchange(server: Server, raw: string): Promise<{ head: string; body: string }> {
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.write(raw);
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 3000))]);
  socket.destroy();
  const text = Buffer.concat(chunks).toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, split), body: text.slice(split + 4) };
}

describe('createHttpServer', () => {
  let server: Server;
  before(async () => {
    server = createHttpServer(
      (_req, res) => res.end('ok'),
      { headersTimeoutMs: 500, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500, maxHeaderBytes: 2048 },
      createLogger({ service: 'test', level: 'silent' }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('answers an HTTP/1.1 request without Host with a JSON 400', async () => {
    const { head, body } = await exchange(server, 'GET / HTTP/1.1\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 /);
    assert.match(head, /content-type: application\/json/i);
    assert.deepEqual(JSON.parse(body), { error: 'missing Host header' });
  });

  it('answers an unsupported Expect with a JSON 417', async () => {
    const { head, body } = await exchange(server, 'POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}');
    assert.match(head, /^HTTP\/1\.1 417 /);
    assert.deepEqual(JSON.parse(body), { error: 'only Expect: 100-continue is supported' });
  });

  it('answers a malformed request line and oversized headers with JSON', async () => {
    const garbage = await exchange(server, 'GARBAGE\r\n\r\n');
    assert.match(garbage.head, /^HTTP\/1\.1 400 /);
    assert.deepEqual(JSON.parse(garbage.body), { error: 'malformed HTTP request' });
    const big = await exchange(server, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
    assert.match(big.head, /^HTTP\/1\.1 431 /);
    assert.deepEqual(JSON.parse(big.body), { error: 'request header fields too large' });
  });

  it('still serves HTTP/1.0 without Host', async () => {
    const { head, body } = await exchange(server, 'GET / HTTP/1.0\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.equal(body, 'ok');
  });
});

describe('clipInput', () => {
  it('keeps short input and cuts long input to 64 characters plus an ellipsis', () => {
    assert.equal(clipInput('short'), 'short');
    assert.equal(clipInput('x'.repeat(200_000)), `${'x'.repeat(64)}…`);
  });

  it('never leaves half a surrogate pair', () => {
    const clipped = clipInput(`${'x'.repeat(63)}😀😀`);
    assert.equal(clipped, `${'x'.repeat(63)}…`);
  });
});
