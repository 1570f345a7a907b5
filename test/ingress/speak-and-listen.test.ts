import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import type { SpeakCompleted } from '../../shared/api.ts';
import { isEnd, isStart, type RecordedListener } from '../support/listener-client.ts';
import { controlledBody, startTestRelay, TEST_ADMIN_KEY, type TestRelay, within } from '../support/relay.ts';

let relay: TestRelay;
const listen = (stream: string, query?: Record<string, string>): Promise<RecordedListener> => relay.listen(stream, query);

beforeEach(async () => {
  relay = await startTestRelay();
});

afterEach(async () => {
  await relay.close();
});

describe('speaking to a stream', () => {
  it('greets a listener with hello carrying the stream and its format', async () => {
    const listener = await listen('kitchen', { encoding: 'pcm_s16le', sample_rate: '24000' });
    expect(listener.messages[0]).toMatchObject({
      type: 'hello',
      protocol: 1,
      stream: 'kitchen',
      format: { encoding: 'pcm_s16le', sample_rate: 24000, channels: 1 },
    });
  });

  it('sends two listeners of one format the same audio, byte for byte', async () => {
    const a = await listen('kitchen');
    const b = await listen('kitchen');
    const response = await relay.speak('kitchen', 'Hello from the relay. Both of you hear this.', { query: 'wait=true' });
    expect(response.status).toBe(200);
    const result = (await response.json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
    await a.waitFor(isEnd);
    await b.waitFor(isEnd);
    const audioA = a.audioOf(result.utterance);
    expect(audioA.byteLength).toBeGreaterThan(20_000);
    expect(Buffer.from(b.audioOf(result.utterance)).equals(Buffer.from(audioA))).toBe(true);
    expect(a.frames.map((f) => f.sampleOffset)).toEqual(b.frames.map((f) => f.sampleOffset));
  });

  it('converts once per format: each listener gets the same speech in its own encoding and rate', async () => {
    const native = await listen('formats');
    const phone = await listen('formats', { encoding: 'pcm_mulaw', sample_rate: '8000' });
    const wide = await listen('formats', { encoding: 'pcm_s16le', sample_rate: '48000' });
    const result = (await (await relay.speak('formats', 'One sentence in three formats.', { query: 'wait=true' })).json()) as SpeakCompleted;
    for (const l of [native, phone, wide]) await l.waitFor(isEnd);
    const seconds = (l: RecordedListener, bytesPerSample: number, rate: number) => l.audioOf(result.utterance).byteLength / bytesPerSample / rate;
    const nativeSeconds = seconds(native, 4, 22050);
    expect(nativeSeconds).toBeCloseTo(result.audio_seconds, 2);
    expect(Math.abs(seconds(phone, 1, 8000) - nativeSeconds)).toBeLessThan(0.02);
    expect(Math.abs(seconds(wide, 2, 48000) - nativeSeconds)).toBeLessThan(0.02);
    const end = phone.messages.find(isEnd)!;
    expect(end.samples).toBe(phone.audioOf(result.utterance).byteLength);
  });

  it('answers 202 with the utterance id at once, and ?wait=true with timing figures at the end', async () => {
    const accepted = await relay.speak('kitchen', 'Quick one.');
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toMatchObject({ utterance_id: expect.stringMatching(/^utt_/), utterance: 1, stream: 'kitchen' });
    const waited = await relay.speak('kitchen', 'Second one.', { query: 'wait=true' });
    const body = (await waited.json()) as SpeakCompleted;
    expect(body).toMatchObject({ utterance: 2, reason: 'done', characters: 11 });
    expect(body.audio_seconds).toBeGreaterThan(0.3);
    expect(body.first_audio_ms).toBeGreaterThan(0);
    expect(body.total_ms).toBeGreaterThanOrEqual(body.first_audio_ms!);
  });

  it('plays utterances in FIFO order without interleaving their audio', async () => {
    const listener = await listen('fifo');
    const first = await relay.speak('fifo', 'First in line, with a few more words to take some time.');
    const second = await relay.speak('fifo', 'Second in line.');
    const third = await relay.speak('fifo', 'Third.');
    const ids = await Promise.all([first, second, third].map(async (r) => ((await r.json()) as { utterance: number }).utterance));
    expect(ids).toEqual([1, 2, 3]);
    await listener.waitFor((m) => isEnd(m) && m.utterance === 3);
    const order = listener.events.map((e) => (e.kind === 'audio' ? `a${e.frame.utterance}` : e.message.type === 'utterance_start' || e.message.type === 'utterance_end' ? `${e.message.type === 'utterance_start' ? 's' : 'e'}${e.message.utterance}` : null)).filter(Boolean);
    const compact = order.filter((tag, i) => tag !== order[i - 1]);
    expect(compact).toEqual(['s1', 'a1', 'e1', 's2', 'a2', 'e2', 's3', 'a3', 'e3']);
  });

  it('starts speaking a chunked upload before the upload ends', async () => {
    const listener = await listen('chunked');
    const upload = controlledBody();
    const response = relay.speak('chunked', upload.body);
    upload.write('Hello there,\n');
    const start = await within(listener.waitFor(isStart), 5000, 'utterance start');
    await within(
      (async () => {
        while (listener.frames.length === 0) await new Promise((r) => setTimeout(r, 10));
      })(),
      5000,
      'first audio',
    );
    // Audio for the first line is out while the request body is still open.
    upload.write('and the rest of the sentence arrives later.');
    upload.end();
    const accepted = await response;
    expect(accepted.status).toBe(202);
    await listener.waitFor(isEnd);
    const words = listener.messages.flatMap((m) => (m.type === 'timestamps' ? m.words.map((w) => w.word) : []));
    expect(words).toContain('Hello');
    expect(words).toContain('later');
    expect(start.utterance).toBe(1);
  });

  it('cancel ends the current utterance with reason cancelled and no frames follow it', async () => {
    const listener = await listen('cancelling');
    const long = 'This is a long paragraph that keeps going. '.repeat(30);
    const speaking = relay.speak('cancelling', long, { query: 'wait=true' });
    await listener.waitFor(isStart);
    while (listener.frames.length === 0) await new Promise((r) => setTimeout(r, 5));
    const cancel = await relay.request('/v1/streams/cancelling/cancel', { method: 'POST' });
    expect(cancel.status).toBe(200);
    const cancelled = (await cancel.json()) as { cancelled: string[] };
    expect(cancelled.cancelled).toHaveLength(1);
    const end = await listener.waitFor(isEnd);
    expect(end.reason).toBe('cancelled');
    const result = (await (await speaking).json()) as SpeakCompleted;
    expect(result.reason).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 200));
    const endIndex = listener.events.findIndex((e) => e.kind === 'message' && isEnd(e.message));
    expect(listener.events.slice(endIndex + 1).filter((e) => e.kind === 'audio')).toHaveLength(0);
    expect(result.audio_seconds).toBeLessThan(60);
    // The stream goes on with the next utterance.
    const next = (await (await relay.speak('cancelling', 'Still here.', { query: 'wait=true' })).json()) as SpeakCompleted;
    expect(next.reason).toBe('done');
  });

  it('cancel with all=true also clears the queue', async () => {
    await listen('clear');
    const waits = ['One long sentence that takes a while to say, and then some more.', 'Two.', 'Three.'].map((text) =>
      relay.speak('clear', text, { query: 'wait=true' }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const cancel = (await (await relay.request('/v1/streams/clear/cancel?all=true', { method: 'POST' })).json()) as { cancelled: string[] };
    const results = await Promise.all(waits.map(async (w) => ((await (await w).json()) as SpeakCompleted).reason));
    expect(results.filter((r) => r === 'cancelled').length).toBe(cancel.cancelled.length);
    expect(cancel.cancelled.length).toBeGreaterThanOrEqual(2);
  });

  it('reports a stream status with listeners, formats and queue', async () => {
    await listen('status');
    await listen('status', { encoding: 'pcm_s16le', sample_rate: '16000' });
    const response = await relay.request('/v1/streams/status');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      stream: 'status',
      listeners: 2,
      formats: expect.arrayContaining([{ encoding: 'pcm_s16le', sample_rate: 16000, listeners: 1 }]),
      current: null,
      queue: [],
      provider: 'espeak',
    });
  });

  it('accepts NDJSON with flush lines, JSON with a voice, and LLM-style SSE', async () => {
    const listener = await listen('bodies');
    const ndjson = '{"text":"Hello from "}\n{"text":"NDJSON.","flush":true}\n{"text":" And more."}\n';
    const a = await relay.speak('bodies', ndjson, { contentType: 'application/x-ndjson', query: 'wait=true' });
    expect(((await a.json()) as SpeakCompleted).reason).toBe('done');
    const b = await relay.speak('bodies', JSON.stringify({ text: 'Hello from JSON.', voice: 'en-gb' }), { contentType: 'application/json', query: 'wait=true' });
    expect(((await b.json()) as SpeakCompleted).reason).toBe('done');
    const sse = ['Hello', ' from', ' an', ' LLM.'].map((t) => `data: ${JSON.stringify({ choices: [{ delta: { content: t } }] })}\n\n`).join('') + 'data: [DONE]\n\n';
    const c = await relay.speak('bodies', sse, { contentType: 'text/event-stream', query: 'wait=true' });
    const result = (await c.json()) as SpeakCompleted;
    expect(result.reason).toBe('done');
    expect(result.characters).toBe('Hello from an LLM.'.length);
    await listener.waitFor((m) => isEnd(m) && m.utterance === 3);
    const words = listener.messages.flatMap((m) => (m.type === 'timestamps' && m.utterance === 3 ? m.words.map((w) => w.word) : []));
    expect(words).toEqual(['Hello', 'from', 'an', 'LLM']);
  });

  it('gives word timestamps that rise and stay within the audio', async () => {
    const listener = await listen('times');
    const result = (await (await relay.speak('times', 'The quick brown fox jumps over the lazy dog. Then it rests.', { query: 'wait=true' })).json()) as SpeakCompleted;
    await listener.waitFor(isEnd);
    const words = listener.messages.flatMap((m) => (m.type === 'timestamps' ? m.words : []));
    expect(words.map((w) => w.word)).toEqual(['The', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog', 'Then', 'it', 'rests']);
    for (let i = 1; i < words.length; i++) expect(words[i]!.start).toBeGreaterThanOrEqual(words[i - 1]!.start);
    for (const w of words) expect(w.end).toBeLessThanOrEqual(result.audio_seconds + 0.01);
  });
});

describe('curl, as the README shows it', () => {
  const curl = (args: string[], stdin?: (write: (s: string) => void) => Promise<void>) =>
    new Promise<{ code: number; stdout: string }>((resolve, reject) => {
      const child = spawn('curl', ['-sS', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
      if (stdin) stdin((s) => child.stdin.write(s)).then(() => child.stdin.end(), reject);
      else child.stdin.end();
    });

  it('speaks --data-binary text', async () => {
    const listener = await listen('kitchen');
    const { code, stdout } = await curl(['-H', `Authorization: Bearer ${TEST_ADMIN_KEY}`, '--data-binary', 'Hello from curl.', `${relay.url}/v1/streams/kitchen/speak`]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ utterance: 1 });
    expect((await listener.waitFor(isEnd)).reason).toBe('done');
  });

  it('speaks a slow piped upload (curl -T -) before the pipe closes', async () => {
    const listener = await listen('pipe');
    let firstAudioBeforeEnd = false;
    const { code } = await curl(['-H', `Authorization: Bearer ${TEST_ADMIN_KEY}`, '-T', '-', `${relay.url}/v1/streams/pipe/speak`], async (write) => {
      write('Hello\n');
      const deadline = Date.now() + 5000;
      while (listener.frames.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      firstAudioBeforeEnd = listener.frames.length > 0;
      write('world.\n');
    });
    expect(code).toBe(0);
    expect(firstAudioBeforeEnd).toBe(true);
    await listener.waitFor(isEnd);
  });
});
