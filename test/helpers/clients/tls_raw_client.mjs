// A hand-written HTTP/1.1 request over `tls.connect` (ESM named import): no agent, no proxy logic.
import { connect } from 'node:tls';

const [url, envName] = process.argv.slice(2);
const value = process.env[envName] ?? '';
console.log(`client-saw ${envName}=${value}`);
const { hostname, port, pathname } = new URL(url);
const socket = connect({ host: hostname, port: Number(port), servername: hostname });
socket.setTimeout(20_000, () => socket.destroy(new Error('timed out')));
socket.on('secureConnect', () => {
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${value}\r\nConnection: close\r\n\r\n`);
});
let reply = '';
socket.setEncoding('utf8');
for await (const chunk of socket) reply += chunk;
const [head, ...rest] = reply.split('\r\n\r\n');
console.log(`status ${head.split(' ')[1]}`);
// The body may be chunked: its first line that is not a chunk size.
const bodyLine = rest.join('\r\n\r\n').split('\r\n').find((line) => line !== '' && !/^[0-9a-f]+$/i.test(line)) ?? '';
console.log(`body ${bodyLine}`);
