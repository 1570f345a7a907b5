import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../worker/broker/memory.ts';
import { LocalStreams } from '../../worker/core/local-streams.ts';
import { MemoryDirectory } from '../../worker/core/memory-directory.ts';
import { generateSecret, loadConfig, type RelayLimits } from '../../worker/ops/config.ts';
import { silentLogger } from '../../worker/ops/logger.ts';
import { ScriptedProvider } from '../support/fakes.ts';

function rig(env: Record<string, string> = {}) {
  const limits: RelayLimits = loadConfig(env, generateSecret).limits;
  const provider = new ScriptedProvider();
  const streams = new LocalStreams({ provider, broker: new MemoryBroker(), limits, logger: silentLogger, now: () => performance.now(), isHeard: () => false });
  return { streams, provider, directory: new MemoryDirectory(streams) };
}

describe('MemoryDirectory', () => {
  let open: LocalStreams | null = null;
  afterEach(() => {
    open?.close();
    open = null;
  });

  it('opens streams within the stream limit, and none once shutdown began', async () => {
    const r = rig({ RELAY_MAX_STREAMS: '2' });
    open = r.streams;
    await r.directory.open('a');
    await r.directory.open('a');
    await r.directory.open('b');
    await expect(r.directory.open('c')).rejects.toMatchObject({ code: 'too_many_streams' });
    expect(await r.directory.names()).toEqual(['a', 'b']);
    r.streams.stopAccepting();
    await expect(r.directory.open('a')).rejects.toMatchObject({ code: 'shutting_down' });
    await expect(r.directory.enqueue('a', { receivedAt: 0 })).rejects.toMatchObject({ code: 'shutting_down' });
  });

  it('knows nothing of a stream nobody opened', async () => {
    const r = rig();
    open = r.streams;
    expect(await r.directory.status('nowhere')).toBeNull();
    expect(await r.directory.cancel('nowhere', true)).toEqual([]);
    expect(await r.directory.cancelUtterance('nowhere', 'utt_x')).toBe(false);
  });

  it('cancels one queued utterance by id (reason cancelled) while the current one speaks on', async () => {
    const r = rig();
    open = r.streams;
    const speaking = await r.directory.enqueue('room', { receivedAt: 0, buffering: 'provider' });
    const queued = await r.directory.enqueue('room', { receivedAt: 0, buffering: 'provider' });
    const context = await r.provider.context(1);
    expect(await r.directory.cancelUtterance('room', queued.id)).toBe(true);
    expect((await queued.result).reason).toBe('cancelled');
    expect(await r.directory.status('room')).toMatchObject({ current: { utterance_id: speaking.id }, queue: [] });
    speaking.write('Still here.');
    speaking.end();
    context.done();
    expect((await speaking.result).reason).toBe('done');
    expect(await r.directory.cancelUtterance('room', speaking.id)).toBe(false);
  });

  it('barge-in: an interrupting utterance cancels what plays and what waits, and is next', async () => {
    const r = rig();
    open = r.streams;
    const speaking = await r.directory.enqueue('room', { receivedAt: 0 });
    const waiting = await r.directory.enqueue('room', { receivedAt: 0 });
    await r.provider.context(1);
    const urgent = await r.directory.enqueue('room', { receivedAt: 0 }, { interrupt: true });
    expect((await speaking.result).reason).toBe('cancelled');
    expect((await waiting.result).reason).toBe('cancelled');
    await r.provider.context(2);
    expect((await r.directory.status('room'))?.current?.utterance_id).toBe(urgent.id);
  });
});
