import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import express from 'express';
import supertest from 'supertest';
import { errorHandler } from './error-handler.js';
import { jsonBody, JsonDepthScanner } from './json-body.js';

function echoApp(limit = 1024, maxDepth = 4) {
  const app = express();
  app.use(jsonBody({ limit, maxDepth }));
  app.all('/', (req, res) => {
    res.json({ body: req.body as unknown });
  });
  app.use(errorHandler());
  return app;
}

const post = (body: string | Buffer, headers: Record<string, string> = {}, app = echoApp()) => {
  // superagent would serialise a Buffer sent as application/json.
  const request = supertest(app).post('/').set('content-type', typeof body === 'string' ? 'application/json' : 'application/octet-stream');
  for (const [name, value] of Object.entries(headers)) request.set(name, value);
  return request.send(body);
};

async function listening<T>(app: express.Express, body: (port: number) => Promise<T>): Promise<T> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    return await body((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe('JsonDepthScanner', () => {
  it('counts arrays and objects, not brackets inside strings or after escaped quotes', () => {
    assert.equal(new JsonDepthScanner(2).write(Buffer.from('{"a":[1,"[[[{{"]}')), true);
    assert.equal(new JsonDepthScanner(2).write(Buffer.from('{"a":"\\"[[[[","b":[1]}')), true);
    assert.equal(new JsonDepthScanner(2).write(Buffer.from('{"a":[[1]]}')), false);
    assert.equal(new JsonDepthScanner(3).write(Buffer.from('{"a":[[1]]}')), true);
  });

  it('keeps its place across chunks split inside a string and an escape', () => {
    const scanner = new JsonDepthScanner(2);
    for (const part of ['{"a', '":"x\\', '"[[[', '[", "b":', '[1]}']) assert.equal(scanner.write(Buffer.from(part)), true, part);
    const deep = new JsonDepthScanner(2);
    assert.equal(deep.write(Buffer.from('[[')), true);
    assert.equal(deep.write(Buffer.from('[')), false);
  });
});

describe('jsonBody', () => {
  it('parses any JSON value whatever the content type, and an empty body as {}', async () => {
    assert.deepEqual((await post('{"a":[1,"x"]}')).body, { body: { a: [1, 'x'] } });
    assert.deepEqual((await post('"text"', { 'content-type': 'application/x-www-form-urlencoded' })).body, { body: 'text' });
    assert.deepEqual((await post('')).body, { body: {} });
    assert.deepEqual((await supertest(echoApp()).get('/')).body, {});
  });

  it('answers 400 for malformed JSON and for nesting past the limit', async () => {
    const malformed = await post('{"a":');
    assert.equal(malformed.status, 400);
    assert.deepEqual(malformed.body, { error: 'malformed JSON body' });
    assert.equal((await post('[[[[1]]]]')).status, 200);
    const deep = await post('[[[[[1]]]]]');
    assert.equal(deep.status, 400);
    assert.deepEqual(deep.body, { error: 'JSON body is nested deeper than 4 levels' });
  });

  it('refuses a deep body as soon as the level too many arrives, before the rest is sent', async () => {
    // Old behaviour: express.json waited for all 1 MiB before parsing (and only then measured depth).
    await listening(echoApp(1 << 20, 32), async (port) => {
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${1 << 20}\r\n\r\n${'['.repeat(100)}`);
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
      });
      for (let i = 0; i < 200 && !answer.includes('}'); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      socket.destroy();
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.match(answer, /nested deeper than 32 levels/);
    });
  });

  it('answers 413 for a declared length over the limit and for more bytes than the limit without one', async () => {
    const declared = await post('{"a":"' + 'x'.repeat(2000) + '"}');
    assert.equal(declared.status, 413);
    assert.match(declared.body.error, /1024 byte limit/);
    // No Content-Length: Node sends the two writes as chunks.
    const chunked = await listening(echoApp(), (port) =>
      new Promise<number | undefined>((resolve, reject) => {
        const req = request({ port, host: '127.0.0.1', method: 'POST' }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        req.write('{"a":"' + 'x'.repeat(800));
        req.end('x'.repeat(800) + '"}');
      }),
    );
    assert.equal(chunked, 413);
  });

  it('decodes gzip bodies, counts the decoded bytes against the limit, and refuses what does not decode', async () => {
    assert.deepEqual((await post(gzipSync('{"a":1}'), { 'content-encoding': 'gzip' })).body, { body: { a: 1 } });
    const bomb = await post(gzipSync(`"${'x'.repeat(100_000)}"`), { 'content-encoding': 'gzip' });
    assert.equal(bomb.status, 413);
    const deep = await post(gzipSync('[[[[[[1]]]]]]'), { 'content-encoding': 'gzip' });
    assert.equal(deep.status, 400);
    const broken = await post('{"a":1}', { 'content-encoding': 'gzip' });
    assert.equal(broken.status, 400);
    assert.deepEqual(broken.body, { error: 'request body does not match its content-encoding' });
  });

  it('answers 415 for an unknown content-encoding or a charset other than UTF-8', async () => {
    assert.equal((await post('{}', { 'content-encoding': 'compress' })).status, 415);
    assert.equal((await post('{}', { 'content-type': 'application/json; charset=latin1' })).status, 415);
    assert.equal((await post('{}', { 'content-type': 'application/json; charset=UTF-8' })).status, 200);
  });
});
