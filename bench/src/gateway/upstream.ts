// A trivial upstream for `bench gateway`: reads the request body and answers a fixed small JSON
// document, so that what is measured is the proxy in front of it. `BENCH_PORT=<port> node --import tsx upstream.ts`.
import { createServer } from 'node:http';

const BODY = Buffer.from('{"model_name":"m","outputs":[]}');
const port = Number(process.env.BENCH_PORT);

createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length }).end(BODY);
  });
}).listen(port, '127.0.0.1');

// A clean exit on SIGTERM, so that a --cpu-prof run writes its profile.
process.on('SIGTERM', () => process.exit(0));
