/** The browser client as a dependency sees it: `import('tts-relay/client')` in plain Node, through package.json's exports. */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const PROBE = `
const client = await import('tts-relay/client');
const player = new client.RelayPlayer({ url: 'http://relay.invalid', stream: 'hall', token: 't' });
console.log(JSON.stringify({
  connect: typeof client.connect,
  RelayPlayer: typeof client.RelayPlayer,
  eventTarget: player instanceof EventTarget,
  state: player.state,
  resolved: import.meta.resolve('tts-relay/client'),
}));
`;

describe('the package', () => {
  let consumer: string;
  beforeAll(async () => {
    // A project that depends on tts-relay: its node_modules links to this checkout.
    consumer = await mkdtemp(join(tmpdir(), 'tts-relay-consumer-'));
    await mkdir(join(consumer, 'node_modules'));
    await symlink(ROOT, join(consumer, 'node_modules', 'tts-relay'), 'dir');
  });
  afterAll(async () => {
    if (consumer) await rm(consumer, { recursive: true, force: true });
  });

  it("exports the browser client as tts-relay/client: connect and RelayPlayer import in Node", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: consumer });
    const probe = JSON.parse(stdout) as Record<string, unknown>;
    expect(probe).toMatchObject({ connect: 'function', RelayPlayer: 'function', eventTarget: true, state: 'connecting' });
    expect(String(probe.resolved)).toMatch(/\/worker\/player\/public\/client\.js$/);
  });
});
