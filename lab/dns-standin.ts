/**
 * Stand-in for Docker's embedded DNS server (127.0.0.11:53 in every
 * container). The generated HAProxy and nginx configs name it in their
 * `resolvers` / `resolver` lines; the lab runs this tiny server at that very
 * address inside the namespaces that use it, so the configs stay untouched.
 * Answers A queries from the lab's hosts table; everything else gets an
 * empty NOERROR answer (AAAA) or NXDOMAIN (unknown names).
 *
 * Usage (inside a namespace): node dns-standin.js <hosts.json>
 */
import { createSocket } from 'node:dgram';
import { readFileSync, statSync } from 'node:fs';

const TTL_S = 600; // Docker's DNS answers with a 600 s TTL too.

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i] !== 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString('ascii'));
    i += msg[i] + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

export function answer(query: Buffer, hosts: Record<string, string>): Buffer {
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const ip = hosts[name];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  const rcode = ip === undefined ? 3 : 0;
  header.writeUInt16BE(0x8180 | (query.readUInt16BE(2) & 0x0100) | rcode, 2); // response, RD copied, RA
  header.writeUInt16BE(1, 4); // one question
  const withAnswer = ip !== undefined && qtype === 1;
  header.writeUInt16BE(withAnswer ? 1 : 0, 6);
  if (!withAnswer) return Buffer.concat([header, question]);
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  rr.writeUInt16BE(1, 2); // A
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(TTL_S, 6);
  rr.writeUInt16BE(4, 10);
  ip.split('.').forEach((octet, k) => rr.writeUInt8(Number(octet), 12 + k));
  return Buffer.concat([header, question, rr]);
}

function main(): void {
  // Re-read when the lab rewrites the table (services added by `docker compose up` after a re-run).
  let hosts: Record<string, string> = {};
  let readAt = -1;
  const table = () => {
    const mtime = statSync(process.argv[2]).mtimeMs;
    if (mtime !== readAt) {
      try {
        [hosts, readAt] = [JSON.parse(readFileSync(process.argv[2], 'utf8')), mtime];
      } catch {
        /* caught mid-write: keep the previous table until the next query */
      }
    }
    return hosts;
  };
  const socket = createSocket('udp4');
  socket.on('message', (msg, peer) => {
    try {
      socket.send(answer(msg, table()), peer.port, peer.address);
    } catch {
      /* malformed query: ignore it, as a resolver would time out */
    }
  });
  socket.bind(53, '127.0.0.11', () => console.log('dns stand-in listening on 127.0.0.11:53'));
}

if (process.argv[1]?.endsWith('dns-standin.js')) main();
