/**
 * What Node's side of a first utterance does for the first time, done once at start (ops/warm-up.ts runs the
 * app's side): @hono/node-server hands a request body to the app as `Readable.toWeb(incoming)`, whose adapter
 * Node loads and compiles on first use (3.4 ms measured), and the socket group frames each message with ws's
 * framer. No request, no socket: a stream of a few bytes and a group with no member.
 */
import { Readable } from 'node:stream';
import { nodeSocketGroup } from './node-socket-group.ts';

export async function warmUpNode(): Promise<void> {
  const reader = Readable.toWeb(Readable.from([Buffer.from('warm-up')])).getReader();
  while (!(await reader.read()).done);
  const group = nodeSocketGroup();
  group.send('{"type":"warm-up"}');
  group.send(new Uint8Array(64));
}
