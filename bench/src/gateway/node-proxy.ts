// The Node floor for `bench gateway`: a bare node:http proxy, streaming both ways over a
// keep-alive agent. `BENCH_PORT=<port> BENCH_UPSTREAM=<url> node --import tsx node-proxy.ts`.
import { Agent, createServer, request } from 'node:http';

const port = process.env.BENCH_PORT;
const target = process.env.BENCH_UPSTREAM;
const upstream = new URL(target ?? '');
const agent = new Agent({ keepAlive: true });

createServer((req, res) => {
  const outgoing = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  outgoing.on('error', () => res.writeHead(502).end());
  req.pipe(outgoing);
}).listen(Number(port), '127.0.0.1');

// A clean exit on SIGTERM, so that a --cpu-prof run writes its profile.
process.on('SIGTERM', () => process.exit(0));
