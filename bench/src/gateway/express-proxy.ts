// The reference for `bench gateway`: a bare Express 5 app with http-proxy-middleware in front of
// one upstream, no body parser, default options. `BENCH_PORT=<port> BENCH_UPSTREAM=<url> node --import tsx express-proxy.ts`.
import { Agent } from 'node:http';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

const port = process.env.BENCH_PORT;
const target = process.env.BENCH_UPSTREAM;
const app = express();
app.disable('x-powered-by');
app.use(createProxyMiddleware({ target, agent: new Agent({ keepAlive: true }) }));
app.listen(Number(port), '127.0.0.1');

// A clean exit on SIGTERM, so that a --cpu-prof run writes its profile.
process.on('SIGTERM', () => process.exit(0));
