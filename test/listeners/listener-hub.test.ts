import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AudioFormat } from '../../shared/audio-format.ts';
import { decodeAudioFrame } from '../../shared/protocol.ts';
import { MemoryBroker } from '../../worker/broker/memory.ts';
import { ListenerHub } from '../../worker/listeners/listener-hub.ts';
import { silentLogger } from '../../worker/ops/logger.ts';
import type { RuntimeSocket, SocketGroup } from '../../worker/runtime/contract.ts';
import { RecordingSocket } from '../support/fakes.ts';

const SOURCE: AudioFormat = { encoding: 'pcm_s16le', sampleRate: 16000 };

let ids = 0;
function hub(broker = new MemoryBroker(), bufferBudgetBytes = Number.MAX_SAFE_INTEGER) {
  return new ListenerHub({ broker, sourceFormat: SOURCE, logger: silentLogger, heartbeatMs: 3_600_000, maxBufferedSeconds: 2, bufferBudgetBytes, newId: () => `lst_${++ids}`, relayClock: () => Date.now(), syncDelayMs: 0 });
}

function speak(broker: MemoryBroker, stream: string, bytes: number) {
  broker.publish(stream, { type: 'utterance_start', utterance: 1, utterance_id: 'utt_a' });
  broker.publish(stream, { type: 'audio', utterance: 1, data: new Uint8Array(bytes) });
  broker.publish(stream, { type: 'utterance_end', utterance: 1, utterance_id: 'utt_a', reason: 'done' });
}

/** A runtime's socket groups, recorded: each message a group takes once, and the sockets it reaches. */
class RecordingGroups {
  readonly sent: Array<{ data: string | Uint8Array; to: RecordingSocket[] }> = [];
  /** The arrays sends were given, as given (`sent` holds copies where the groups copy, as Bun's publish does). */
  readonly given: Array<string | Uint8Array> = [];
  private readonly owners = new Map<RuntimeSocket, RecordingSocket>();

  constructor(private readonly copies = false) {}

  socket(): RecordingSocket & { ws: RuntimeSocket; newGroup: () => SocketGroup } {
    const ws = {} as RuntimeSocket;
    const socket = Object.assign(new RecordingSocket(), { ws, newGroup: this.newGroup });
    this.owners.set(ws, socket);
    return socket;
  }

  private readonly newGroup = (): SocketGroup => {
    const members = new Set<RecordingSocket>();
    return {
      add: (ws) => void members.add(this.owners.get(ws)!),
      delete: (ws) => void members.delete(this.owners.get(ws)!),
      send: (given) => {
        const data = this.copies && typeof given !== 'string' ? given.slice() : given;
        for (const socket of members) socket.send(data);
        this.given.push(given);
        this.sent.push({ data, to: [...members] });
        return members.size;
      },
      copiesOnSend: this.copies,
    };
  };
}

describe('ListenerHub', () => {
  let open: ListenerHub | null = null;
  afterEach(() => {
    open?.close(1001, 'test over');
    open = null;
  });

  it('greets a listener with hello, then frames the stream in its format with sample offsets', () => {
    const broker = new MemoryBroker();
    const listeners = (open = hub(broker));
    const socket = new RecordingSocket();
    listeners.add('hall', SOURCE, socket);
    speak(broker, 'hall', 640);
    expect(socket.messages().map((message) => message.type)).toEqual(['hello', 'utterance_start', 'utterance_end']);
    expect(socket.messages()[0]).toMatchObject({ stream: 'hall', format: { encoding: 'pcm_s16le', sample_rate: 16000, channels: 1 } });
    const [frame] = socket.audioFrames();
    expect(decodeAudioFrame(frame!)).toMatchObject({ utterance: 1, sampleOffset: 0 });
    expect(decodeAudioFrame(frame!)!.payload.byteLength).toBe(640);
    expect(socket.messages()[2]).toMatchObject({ utterance_id: 'utt_a', reason: 'done', samples: 320 });
  });

  it('encodes once per format: listeners of one format get the very same frame, another format its own conversion', () => {
    const broker = new MemoryBroker();
    const listeners = (open = hub(broker));
    const a = new RecordingSocket();
    const b = new RecordingSocket();
    const f32 = new RecordingSocket();
    listeners.add('hall', SOURCE, a);
    listeners.add('hall', SOURCE, b);
    listeners.add('hall', { encoding: 'pcm_f32le', sampleRate: 16000 }, f32);
    speak(broker, 'hall', 640);
    expect(a.audioFrames()[0]).toBe(b.audioFrames()[0]);
    const converted = f32.audioFrames().reduce((total, frame) => total + decodeAudioFrame(frame)!.payload.byteLength, 0);
    expect(converted).toBe(1280);
    expect(listeners.formats('hall')).toEqual([
      { format: SOURCE, listeners: 2 },
      { format: { encoding: 'pcm_f32le', sampleRate: 16000 }, listeners: 1 },
    ]);
  });

  it('sends each control message once for all listeners of a format, `timing` once for those in step alone', () => {
    const broker = new MemoryBroker();
    const listeners = (open = hub(broker));
    const groups = new RecordingGroups();
    const [inStep, alsoInStep, plain] = [groups.socket(), groups.socket(), groups.socket()];
    const leaving = listeners.add('hall', SOURCE, inStep, { timing: true });
    listeners.add('hall', SOURCE, alsoInStep, { timing: true });
    listeners.add('hall', SOURCE, plain);
    broker.publish('hall', { type: 'utterance_start', utterance: 1, utterance_id: 'utt_a' });
    broker.publish('hall', { type: 'timing', utterance: 1, position: 0, at: 1000 });
    broker.publish('hall', { type: 'audio', utterance: 1, data: new Uint8Array(64) });
    broker.publish('hall', { type: 'utterance_end', utterance: 1, utterance_id: 'utt_a', reason: 'done' });
    const types = groups.sent.map(({ data }) => (typeof data === 'string' ? (JSON.parse(data) as { type: string }).type : 'audio'));
    expect(types).toEqual(['utterance_start', 'timing', 'audio', 'utterance_end']);
    expect(groups.sent.map(({ to }) => to.length)).toEqual([3, 2, 3, 3]);
    expect(groups.sent[1]!.to).toEqual([inStep, alsoInStep]);
    expect(plain.messages().map((message) => message.type)).toEqual(['hello', 'utterance_start', 'utterance_end']);
    expect(inStep.messages().map((message) => message.type)).toEqual(['hello', 'utterance_start', 'timing', 'utterance_end']);
    // A listener in step that leaves is off both groups.
    listeners.remove(leaving);
    broker.publish('hall', { type: 'utterance_start', utterance: 2, utterance_id: 'utt_b' });
    broker.publish('hall', { type: 'timing', utterance: 2, position: 0, at: 2000 });
    expect(groups.sent.slice(-2).map(({ to }) => to)).toEqual([[alsoInStep, plain], [alsoInStep]]);
  });

  it('writes each audio frame into the same bytes while every socket of the format is in a group that copies, else frames anew', () => {
    const broker = new MemoryBroker();
    const listeners = (open = hub(broker));
    const groups = new RecordingGroups(true);
    const [a, b] = [groups.socket(), groups.socket()];
    listeners.add('hall', SOURCE, a);
    listeners.add('hall', SOURCE, b);
    broker.publish('hall', { type: 'utterance_start', utterance: 1, utterance_id: 'utt_a' });
    const audio = (fill: number) => broker.publish('hall', { type: 'audio', utterance: 1, data: new Uint8Array(64).fill(fill) });
    audio(1);
    audio(2);
    const given = groups.given.filter((data) => typeof data !== 'string');
    expect(given[0]).toBe(given[1]);
    expect(a.audioFrames().map((frame) => decodeAudioFrame(frame))).toMatchObject([
      { sampleOffset: 0, payload: new Uint8Array(64).fill(1) },
      { sampleOffset: 32, payload: new Uint8Array(64).fill(2) },
    ]);
    // A socket written directly keeps the array it was sent: from then on each frame is a new one.
    const direct = new RecordingSocket();
    listeners.add('hall', SOURCE, direct);
    audio(3);
    audio(4);
    expect(direct.audioFrames().map((frame) => decodeAudioFrame(frame))).toMatchObject([
      { sampleOffset: 64, payload: new Uint8Array(64).fill(3) },
      { sampleOffset: 96, payload: new Uint8Array(64).fill(4) },
    ]);
    expect(b.audioFrames()).toHaveLength(4);
  });

  it('counts listeners per stream and unsubscribes from the broker when the last one leaves', () => {
    const broker = new MemoryBroker();
    const listeners = (open = hub(broker));
    const socket = new RecordingSocket();
    const listener = listeners.add('hall', SOURCE, socket);
    listeners.add('kitchen', SOURCE, new RecordingSocket());
    expect([listeners.count('hall'), listeners.count('kitchen'), listeners.totalListeners]).toEqual([1, 1, 2]);
    listeners.remove(listener);
    expect(listeners.count('hall')).toBe(0);
    speak(broker, 'hall', 64);
    expect(socket.messages().map((message) => message.type)).toEqual(['hello']);
  });

  it('skips a closed socket, and drops one whose send fails (1011) while the others keep getting audio', () => {
    const broker = new MemoryBroker();
    const listeners = (open = hub(broker));
    const closed = new RecordingSocket();
    const failing = new RecordingSocket();
    const healthy = new RecordingSocket();
    listeners.add('hall', SOURCE, closed);
    listeners.add('hall', SOURCE, failing);
    listeners.add('hall', SOURCE, healthy);
    closed.open = false;
    failing.failSends = true;
    speak(broker, 'hall', 64);
    expect(closed.frames).toHaveLength(1);
    expect(failing.closedWith).toEqual({ code: 1011, reason: 'send failed' });
    expect(healthy.audioFrames()).toHaveLength(1);
    expect(listeners.count('hall')).toBe(2);
  });

  it('closes every listener with the code it is given on close', () => {
    const listeners = hub();
    const socket = new RecordingSocket();
    listeners.add('hall', SOURCE, socket);
    listeners.close(1001, 'shutting_down');
    expect(socket.closedWith).toEqual({ code: 1001, reason: 'shutting_down' });
    expect(listeners.totalListeners).toBe(0);
  });

  it('keeps every listener within one budget for the instance: past it twice in a row, the fullest are dropped (4008) first', () => {
    vi.useFakeTimers();
    try {
      const listeners = (open = hub(new MemoryBroker(), 10_000));
      const [full, fuller, light, idle] = [new RecordingSocket(), new RecordingSocket(), new RecordingSocket(), new RecordingSocket()];
      for (const socket of [full, fuller, light, idle]) listeners.add(socket === idle ? 'hall' : 'kitchen', SOURCE, socket);
      // Each within its own allowance (2 s of its format), all four together over the instance's 10 kB.
      [full.buffered, fuller.buffered, light.buffered] = [5_000, 6_000, 1_000];
      vi.advanceTimersByTime(1000);
      // One sweep over is a burst of frames just handed out, not a reader that stopped: nobody is dropped yet.
      expect(listeners.totalListeners).toBe(4);
      vi.advanceTimersByTime(1000);
      // Dropping the fullest brings the rest (6 kB) within the budget: the next fullest stays.
      expect(fuller.closedWith).toEqual({ code: 4008, reason: 'slow_listener' });
      expect([full, light, idle].map((s) => s.closedWith)).toEqual([null, null, null]);
      expect(listeners.totalListeners).toBe(3);
      vi.advanceTimersByTime(5000);
      expect(listeners.totalListeners).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
