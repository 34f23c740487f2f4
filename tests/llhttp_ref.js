// The reference for tests/test_http_conformance.py: node's HTTP server,
// whose parser is llhttp in strict mode (insecureHTTPParser: false). It
// answers every request it reads with what it read, as the echo app
// does under uwsgo, and prints its port when it listens.
'use strict';
const http = require('http');

const kPending = Symbol('answers still to go');
const kRefuse = Symbol('a 400 to send after them');

// kPending counts, per socket, the requests read whole and not yet
// answered; kRefuse marks a socket whose parser failed: its 400 goes out
// after those answers.
const server = http.createServer({ insecureHTTPParser: false }, (req, res) => {
  const sock = req.socket;
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    sock[kPending] = (sock[kPending] || 0) + 1;
    res.on('finish', () => {
      if (--sock[kPending] === 0 && sock[kRefuse]) refuse(sock);
    });
    const body = JSON.stringify({
      method: req.method,
      uri: req.url,
      body: Buffer.concat(chunks).toString('latin1'),
    });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});

function refuse(socket) {
  if (socket.writable) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  }
}

// A request llhttp refuses gets a 400 (what node itself sends), after
// the answers to the requests before it (their 'end' events may still be
// queued when the parser fails further on); one cut short by the
// client's end gets nothing; bytes after a request that closes the
// connection are not a request.
server.on('clientError', (err, socket) => {
  if (err.code === 'HPE_CLOSED_CONNECTION') return;
  if (err.code === 'HPE_INVALID_EOF_STATE' || err.code === 'ECONNRESET') {
    setTimeout(() => { if (!socket[kPending]) socket.destroy(); }, 50);
    return;
  }
  setTimeout(() => {
    if (socket[kPending]) socket[kRefuse] = true;
    else refuse(socket);
  }, 50);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
