/** Starts a real redis-server for a test on a free loopback port, with nothing persisted, and stops it after. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, createConnection } from 'node:net';

export interface RedisServer {
  url: string;
  port: number;
  /** One INFO section as key/value pairs (e.g. `stats` for total_net_input_bytes). */
  info(section: string): Promise<Record<string, string>>;
  /** Sends one command and returns the raw reply text (for a quick check, not for parsing structures). */
  command(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (asked of the OS, then released for the caller). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const spawnFailed = new Promise<never>((_, reject) => child.once('error', (error) => reject(new Error(`redis-server could not start (install it: apt-get install redis-server): ${error.message}`))));
  const command = (...args: string[]) => send(port, args);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pong = await Promise.race([command('PING').catch(() => ''), spawnFailed]);
    if (pong.startsWith('+PONG')) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}: ${output.slice(-500)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    command,
    async info(section) {
      const text = await command('INFO', section);
      const out: Record<string, string> = {};
      for (const line of text.split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) out[line.slice(0, colon)] = line.slice(colon + 1);
      }
      return out;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One command over a fresh connection in the inline RESP form; resolves with everything Redis answered. */
function send(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('redis did not answer')));
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (isComplete(reply)) socket.end();
    });
    socket.once('close', () => resolve(reply));
    socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`);
  });
}

/** Whether a single RESP reply is whole: simple lines end at CRLF, a bulk string at its announced length. */
function isComplete(reply: string): boolean {
  if (reply[0] !== '$') return reply.endsWith('\r\n');
  const header = reply.indexOf('\r\n');
  if (header < 0) return false;
  const length = Number(reply.slice(1, header));
  return length < 0 || Buffer.byteLength(reply) >= header + 2 + length + 2;
}
