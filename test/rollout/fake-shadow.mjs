// A stand-in shadow backend on 127.0.0.1, in a process of its own (as a real backend is, and so that answering
// copies never shares an event loop with the client whose latency the test measures): ready, and answering every
// request slowly (`slow <ms>`) or with 500 (`fail`). Prints its port, then serves until killed.
//   node fake-shadow.mjs slow 2000 | node fake-shadow.mjs fail
import { createServer } from 'node:http';

const [kind, slowMs = '2000'] = process.argv.slice(2);
const server = createServer((req, res) => {
  if (req.url === '/v2/health/ready') {
    res.writeHead(200).end();
    return;
  }
  req.resume();
  req.on('end', () => {
    if (kind === 'fail') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error": "shadow failed"}');
      return;
    }
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"topics": ["NUM"]}'), Number(slowMs)).unref();
  });
});
server.listen(0, '127.0.0.1', () => console.log(String(server.address().port)));
process.on('SIGTERM', () => process.exit(0));
