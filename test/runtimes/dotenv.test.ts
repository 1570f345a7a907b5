/**
 * One configuration story on every runtime: the relay reads `.env` in its working directory, and a
 * variable set in the environment wins over the file. Bun's own loader, which also reads `.env.local`
 * (and more), is off through the checkout's bunfig.toml, so Bun reads exactly what Node and Deno read.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { VoiceList } from '../../shared/api.ts';
import { ROOT, RUNTIMES, startRelayProcess } from './relay-process.ts';

const KEY = 'dotenv-admin-key-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'tts-relay-dotenv-'));
writeFileSync(join(dir, '.env'), `# the relay's settings\nRELAY_ADMIN_KEY=${KEY}\nexport TTS_VOICE="en-gb"\nTTS_PROVIDER=cartesia\n`);
// Bun would read this over .env; the relay reads only .env.
writeFileSync(join(dir, '.env.local'), 'TTS_VOICE=fr-fr\n');
// Bun reads bunfig.toml from the working directory: the checkout's own, as `npm start` there sees it.
copyFileSync(join(ROOT, 'bunfig.toml'), join(dir, 'bunfig.toml'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('.env', () => {
  it.each(RUNTIMES)('is read on %s, under what the environment sets', async (runtime) => {
    // TTS_PROVIDER=espeak comes from the environment (startRelayProcess sets it) and wins over the file's cartesia.
    const relay = await startRelayProcess(runtime, {}, { cwd: dir });
    try {
      const response = await fetch(`${relay.url}/v1/voices`, { headers: { authorization: `Bearer ${KEY}` } });
      expect(response.status).toBe(200);
      const voices = (await response.json()) as VoiceList;
      expect(voices).toMatchObject({ provider: 'espeak', default: 'en-gb' });
      const read = relay.logs.find((line) => line.msg === 'read .env');
      expect(read?.variables).toEqual(['RELAY_ADMIN_KEY', 'TTS_VOICE']);
      expect(JSON.stringify(relay.logs)).not.toContain(KEY);
    } finally {
      await relay.kill();
    }
  }, 60_000);
});
