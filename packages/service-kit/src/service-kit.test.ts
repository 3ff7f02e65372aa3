import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { pino } from 'pino';
import supertest from 'supertest';
import { z } from 'zod';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { HttpError, toHttpError } from './errors.js';
import { openAiErrorBody } from './openai-errors.js';
import { httpLogger } from './logger.js';
import { parseEnv, port, positiveInt } from './config.js';
import { childCache, createRegistry, httpMetrics, metricsHandler } from './metrics.js';
import { installGracefulShutdown } from './shutdown.js';

const silent = pino({ level: 'silent' });

function appWith(route: express.RequestHandler) {
  const registry = createRegistry();
  const app = express();
  app.use(httpLogger(silent));
  app.use(httpMetrics(registry));
  app.use(express.json({ limit: 64 }));
  app.post('/echo', route);
  app.get('/metrics', metricsHandler(registry));
  app.use(notFoundHandler());
  app.use(errorHandler());
  return app;
}

describe('errorHandler', () => {
  it('answers malformed JSON with 400 {error}', async () => {
    const res = await supertest(appWith((req, res) => res.json(req.body)))
      .post('/echo')
      .set('content-type', 'application/json')
      .send('{"a":');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'malformed JSON body' });
  });

  it('answers a body that does not match its content-encoding with 400', async () => {
    const res = await supertest(appWith((req, res) => res.json(req.body)))
      .post('/echo')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .send('{"a":1}');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { error: 'request body does not match its content-encoding' });
  });

  it('answers an oversized body with 413', async () => {
    const res = await supertest(appWith((req, res) => res.json(req.body)))
      .post('/echo')
      .send({ text: 'x'.repeat(200) });
    assert.equal(res.status, 413);
    assert.match(res.body.error, /64 byte limit/);
  });

  it('hides the detail of an unexpected error behind a 500', async () => {
    const res = await supertest(
      appWith(() => {
        throw new Error('secret stack detail');
      }),
    ).post('/echo');
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, { error: 'internal server error' });
  });

  it('passes an HttpError status, message and headers through', async () => {
    const res = await supertest(
      appWith(() => {
        throw HttpError.overloaded('queue full', 2);
      }),
    ).post('/echo');
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '2');
    assert.deepEqual(res.body, { error: 'queue full' });
  });

  it('answers an unknown route with 404 {error}', async () => {
    const res = await supertest(appWith((_req, res) => res.end())).get('/nope');
    assert.equal(res.status, 404);
    assert.match(res.body.error, /no route for GET \/nope/);
  });
});

describe('httpLogger', () => {
  it('echoes a caller request id and generates one otherwise', async () => {
    const app = appWith((_req, res) => res.json({}));
    const given = await supertest(app).post('/echo').set('x-request-id', 'abc-123');
    assert.equal(given.headers['x-request-id'], 'abc-123');
    const generated = await supertest(app).post('/echo').set('x-request-id', 'bad id with spaces');
    assert.match(generated.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
  });
});

describe('metrics', () => {
  it('counts requests by route template and status', async () => {
    const app = appWith((_req, res) => res.json({}));
    await supertest(app).post('/echo').send({});
    const res = await supertest(app).get('/metrics');
    assert.match(res.text, /http_requests_total\{method="POST",route="\/echo",status="200"\} 1/);
  });

  it('names no gauge or histogram with a counter\'s _total suffix, and keeps the process metrics by type', async () => {
    const text = await createRegistry().metrics();
    const misnamed = [...text.matchAll(/^# TYPE (\S+_total) (\w+)$/gm)].filter((m) => m[2] !== 'counter').map((m) => m[1]);
    assert.deepEqual(misnamed, []);
    assert.match(text, /^# TYPE nodejs_active_handles gauge$/m);
    assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  });
});

describe('toHttpError', () => {
  it('maps unknown throwables to 500', () => {
    assert.equal(toHttpError('boom').status, 500);
    assert.equal(toHttpError(HttpError.modelNotFound('m', '3')).message, "version '3' of model 'm' not found");
  });

  it('has named constructors for client timeouts, oversized headers and per-client limits', () => {
    assert.deepEqual(
      [HttpError.requestTimeout(500), HttpError.headersTooLarge(), HttpError.tooManyRequests('slow down', 3)].map((e) => [
        e.status,
        e.code,
        e.message,
        e.headers,
      ]),
      [
        [408, 'request_timeout', 'request not received within 500 ms', {}],
        [431, 'headers_too_large', 'request header fields too large', {}],
        [429, 'too_many_requests', 'slow down', { 'retry-after': '3' }],
      ],
    );
  });
});

describe('parseEnv', () => {
  const schema = z.object({ APP_PORT: port().default(8080), APP_BATCH: positiveInt().default(4) });

  it('applies defaults, coerces values and freezes the result', () => {
    const config = parseEnv(schema, { APP_PORT: '9000', APP_BATCH: '' });
    assert.deepEqual(config, { APP_PORT: 9000, APP_BATCH: 4 });
    assert.ok(Object.isFrozen(config));
  });

  it('names every invalid variable', () => {
    assert.throws(() => parseEnv(schema, { APP_PORT: 'x', APP_BATCH: '-1' }), /APP_PORT.*APP_BATCH/);
  });
});

describe('installGracefulShutdown', () => {
  it('lets an in-flight request finish, refuses new connections, then cleans up', async () => {
    let release!: () => void;
    let received!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const arrived = new Promise<void>((resolve) => (received = resolve));
    const server: Server = createServer((_req, res) => {
      received();
      void gate.then(() => res.end('done'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port: listening } = server.address() as AddressInfo;
    const events: string[] = [];
    const shutdown = installGracefulShutdown(server, {
      logger: silent,
      drainTimeoutMs: 5000,
      idleLingerMs: 20,
      signals: [],
      beforeClose: () => events.push('not-ready'),
      afterClose: () => void events.push('disposed'),
      exit: (code) => events.push(`exit:${code}`),
    });

    const inFlight = new Promise<string>((resolve, reject) => {
      request({ port: listening, host: '127.0.0.1', path: '/' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      })
        .on('error', reject)
        .end();
    });
    await arrived;
    const done = shutdown();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await new Promise<boolean>((resolve) => {
      request({ port: listening, host: '127.0.0.1', path: '/' }, () => resolve(false))
        .on('error', () => resolve(true))
        .end();
    });
    assert.equal(refused, true, 'a new connection during drain must be refused');
    assert.deepEqual(events, ['not-ready']);
    release();
    assert.equal(await inFlight, 'done');
    await done;
    assert.deepEqual(events, ['not-ready', 'disposed', 'exit:0']);
  });
});

describe('childCache', () => {
  it('makes one child per combination of label values and hands it back after', () => {
    const made: string[] = [];
    const child = childCache((values) => {
      made.push(values.join('/'));
      return { values };
    });
    const first = child('a', 'b');
    assert.equal(child('a', 'b'), first);
    assert.notEqual(child('a', 'c'), first);
    assert.notEqual(child('ab', ''), first, 'values are kept apart, not joined');
    assert.deepEqual(made, ['a/b', 'a/c', 'ab/']);
  });
});

describe('openAiErrorBody', () => {
  it('maps the catalogue to OpenAI’s error shape, the same for the gateway and the model servers', () => {
    const body = (err: HttpError) => openAiErrorBody(err).error;
    assert.deepEqual(body(HttpError.tooManyRequests('slow down')), { message: 'slow down', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' });
    assert.deepEqual(body(HttpError.unauthorized('no key')), { message: 'no key', type: 'authentication_error', param: null, code: 'missing_api_key' });
    assert.deepEqual(body(HttpError.forbidden('not yours')), { message: 'not yours', type: 'permission_error', param: null, code: 'forbidden' });
    assert.deepEqual(body(HttpError.modelNotFound('m')), { message: "model 'm' not found", type: 'invalid_request_error', param: 'model', code: 'model_not_found' });
    assert.deepEqual(body(HttpError.overloaded('busy')), { message: 'busy', type: 'service_unavailable', param: null, code: 'overloaded' });
    assert.equal(body(HttpError.upstreamTimeout(5)).type, 'server_error');
    assert.equal(openAiErrorBody(HttpError.invalidInput('bad'), 'input').error.param, 'input');
  });
});

