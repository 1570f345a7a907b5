/**
 * `npm run demo:browser`: starts the relay on the embedded engine, mints a token for stream "demo" that may listen,
 * speak and barge in, prints the player page's address (token in the fragment), and speaks a line now and then
 * until Ctrl-C.
 */
import { startNodeRelay } from '../worker/runtime/node.ts';

const STREAM = 'demo';
const LINES = [
  'Hello from the relay. Every word you hear is marked in the captions as it is spoken.',
  'Type something in the speak box, or barge in to cut me off.',
  'This line comes every twenty seconds, until you stop the demo with Control C.',
];
const EVERY_MS = 20_000;

async function main(): Promise<void> {
  const relay = await startNodeRelay({
    port: Number(process.env.PORT ?? 8787),
    host: process.env.HOST ?? '127.0.0.1',
    quiet: true,
    env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: process.env.RELAY_ADMIN_KEY ?? `demo-${crypto.randomUUID()}` },
  });
  const admin = { authorization: `Bearer ${relay.adminKey}` };
  const minted = await fetch(new URL('/v1/tokens', relay.url), {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ streams: [STREAM], actions: ['listen', 'speak', 'cancel'], label: 'browser demo' }),
  });
  if (!minted.ok) throw new Error(`could not mint a token: ${minted.status} ${await minted.text()}`);
  const { token, expires_in } = (await minted.json()) as { token: string; expires_in: number };
  process.stdout.write(
    `relay     ${relay.url} (embedded espeak engine)\n` +
      `player    ${relay.url}/#stream=${STREAM}&token=${token}\n` +
      `          open it, press Play; the token (listen, speak, cancel on "${STREAM}", ${Math.round(expires_in / 60)} min) stays in the fragment\n` +
      `          a line is spoken every ${EVERY_MS / 1000} s; Ctrl-C stops\n`,
  );
  let next = 0;
  const speak = () => {
    const text = LINES[next++ % LINES.length]!;
    fetch(new URL(`/v1/streams/${STREAM}/speak`, relay.url), { method: 'POST', headers: { ...admin, 'content-type': 'text/plain' }, body: text })
      .then((response) => response.body?.cancel())
      .catch((error: unknown) => process.stderr.write(`speak failed: ${String(error)}\n`));
  };
  const timer = setInterval(speak, EVERY_MS);
  speak();
  const stop = () => {
    clearInterval(timer);
    relay.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo:browser: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
