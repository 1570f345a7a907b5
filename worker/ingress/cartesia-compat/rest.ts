/**
 * Cartesia's REST surface on the relay: `POST /tts/bytes` (raw or WAV, streamed), `POST /tts/sse`,
 * `POST /access-token` (a scoped, short-lived relay token for browser apps). Each generation speaks to the
 * stream as a WebSocket context does; the caller gets its audio as fast as the provider makes it.
 */
import type { Context } from 'hono';
import type { z } from 'zod';
import type { AudioFormat } from '../../../shared/audio-format.ts';
import { encodeBase64 } from '../../../shared/base64.ts';
import { CARTESIA_PARTIAL, cartesiaRefusal } from '../../../shared/cartesia-messages.ts';
import {
  ACCESS_TOKEN_MAX_SECONDS,
  cartesiaAccessTokenRequestSchema,
  cartesiaBytesRequestSchema,
  cartesiaSSERequestSchema,
  type CartesiaSSERequest,
} from '../../../shared/cartesia-rest.ts';
import { RelayError } from '../../../shared/errors.ts';
import { createTranscoder } from '../../../shared/transcoder.ts';
import { WAV_UNKNOWN_SIZE, wavHeader } from '../../../shared/wav.ts';
import type { Env } from '../../runtime/contract.ts';
import type { CompatIngress } from './ingress.ts';
import type { ProviderEvent } from '../../providers/provider.ts';
import { authorize, type Principal, watchRevocation } from '../../security/auth.ts';
import { decodeUtf8, limitBytes } from '../body.ts';
import { phonemesFrame, wordsFrame } from './frames.ts';
import { errorFrame } from './errors.ts';
import { compatPrincipal } from './credentials.ts';
import { Synthesis, synthesisRequestOf } from './synthesis.ts';

/** Access tokens live a minute unless asked otherwise, as Cartesia's do. */
const ACCESS_TOKEN_DEFAULT_SECONDS = 60;

/** Authenticates, authorizes `speak` and parses the JSON body against `schema`. */
async function speakRequest<T extends z.ZodType>(c: Context<Env>, ingress: CompatIngress, named: string | null, schema: T): Promise<{ target: Target; body: z.infer<T> }> {
  const { principal, stream } = await compatPrincipal(c, ingress, named);
  authorize(principal, 'speak', stream);
  const body = await jsonBody(c, ingress.limits.maxSpeakBytes, schema);
  const refusal = cartesiaRefusal(body as Parameters<typeof cartesiaRefusal>[0], ingress.synthesizer.upstreamFields);
  if (refusal) throw new RelayError('bad_request', refusal);
  await ingress.directory.open(stream);
  return { target: { stream, principal }, body };
}

/** Where a generation speaks, and who asked (a revoked API key stops its answer). */
interface Target {
  stream: string;
  principal: Principal;
}

async function jsonBody<T extends z.ZodType>(c: Context<Env>, maxBytes: number, schema: T): Promise<z.infer<T>> {
  let text = '';
  for await (const chunk of decodeUtf8(limitBytes(c.req.raw.body, maxBytes))) text += chunk;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RelayError('invalid_json');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RelayError('bad_request', issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'Invalid request.');
  }
  return parsed.data;
}

/**
 * A response body fed by one generation, once its first event came (`started`): a generation refused before any
 * audio (an upstream 4xx, a full queue) rejects `started`, so the answer carries that status. The caller going
 * away, or its API key being revoked, cancels the generation.
 */
async function generationBody(
  ingress: CompatIngress,
  { stream, principal }: Target,
  fields: Parameters<typeof synthesisRequestOf>[0] & { transcript: string },
  onEvent: (event: ProviderEvent, out: ReadableStreamDefaultController<Uint8Array>) => void,
  prefix?: Uint8Array,
): Promise<ReadableStream<Uint8Array>> {
  let synthesis: Promise<Synthesis> | null = null;
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const started = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  let first = true;
  let unwatch = () => {};
  const body = new ReadableStream<Uint8Array>({
    start: async (out) => {
      if (prefix) out.enqueue(prefix);
      unwatch = watchRevocation(ingress.auth, principal, () => {
        const revoked = new RelayError('unauthorized', 'The API key of this request was revoked.');
        void synthesis?.then((opened) => opened.cancel(), () => {});
        settle.reject(revoked);
        out.error(revoked);
      });
      synthesis = Synthesis.open(ingress, stream, synthesisRequestOf(fields, ingress.now()), (event) => {
        if (event.type === 'done' || event.type === 'error') unwatch();
        if (first) {
          first = false;
          if (event.type === 'error') return settle.reject(event.error);
          settle.resolve();
        }
        try {
          onEvent(event, out);
          if (event.type === 'done' || event.type === 'error') out.close();
        } catch {
          // The caller went away; cancel() below stops the synthesis.
        }
      });
      const opened = await synthesis.catch((error: unknown) => {
        settle.reject(error);
        throw error;
      });
      opened.write(fields.transcript);
      opened.end();
    },
    cancel: async () => {
      unwatch();
      (await synthesis)?.cancel();
    },
  });
  await started;
  return body;
}

/** `POST /tts/bytes`: the audio as one streamed body, raw or WAV (a streaming header: sizes unknown). */
export async function bytes(c: Context<Env>, ingress: CompatIngress, named: string | null): Promise<Response> {
  const { target, body } = await speakRequest(c, ingress, named, cartesiaBytesRequestSchema);
  const format = { encoding: body.output_format.encoding, sampleRate: body.output_format.sample_rate } as AudioFormat;
  const transcoder = createTranscoder(ingress.sourceFormat, format);
  const wav = body.output_format.container === 'wav';
  const audio = await generationBody(
    ingress,
    target,
    body,
    (event, out) => {
      if (event.type === 'audio') out.enqueue(transcoder.push(event.data));
      else if (event.type === 'done') out.enqueue(transcoder.flush());
      else if (event.type === 'error') out.error(event.error);
    },
    wav ? wavHeader(format, WAV_UNKNOWN_SIZE) : undefined,
  );
  return new Response(audio, { headers: { 'content-type': wav ? 'audio/wav' : 'application/octet-stream', 'cache-control': 'no-store' } });
}

/** `POST /tts/sse`: chunk, timestamps, done and error events, as Cartesia's SSE endpoint sends them. */
export async function sse(c: Context<Env>, ingress: CompatIngress, named: string | null): Promise<Response> {
  const { target, body } = await speakRequest(c, ingress, named, cartesiaSSERequestSchema);
  const format = { encoding: body.output_format.encoding, sampleRate: body.output_format.sample_rate } as AudioFormat;
  const transcoder = createTranscoder(ingress.sourceFormat, format);
  const encoder = new TextEncoder();
  const requestId = c.get('requestId');
  let last = ingress.now();
  const events = await generationBody(ingress, target, body, (event, out) => {
    // Cartesia names error events (`event: error`); the others go unnamed.
    const send = (data: Record<string, unknown>) =>
      out.enqueue(encoder.encode(`${data.type === 'error' ? 'event: error\n' : ''}data: ${JSON.stringify(sseEvent(body, data))}\n\n`));
    if (event.type === 'audio' || event.type === 'done') {
      const data = event.type === 'audio' ? transcoder.push(event.data) : transcoder.flush();
      const now = ingress.now();
      if (data.byteLength > 0) send({ type: 'chunk', data: encodeBase64(data), done: false, status_code: CARTESIA_PARTIAL, step_time: Math.round((now - last) * 10) / 10 });
      last = now;
      if (event.type === 'done') send({ type: 'done', done: true, status_code: CARTESIA_PARTIAL });
    } else if (event.type === 'timestamps' && body.add_timestamps && event.words.length > 0) {
      send(wordsFrame('', event.words, 1));
    } else if (event.type === 'phoneme_timestamps' && body.add_phoneme_timestamps && event.phonemes.length > 0) {
      send(phonemesFrame('', event.phonemes.map(({ word, start, end }) => ({ phoneme: word, start, end })), 1));
    } else if (event.type === 'error') {
      send(errorFrame(event.error, requestId));
    }
  });
  return new Response(events, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' } });
}

/** An SSE event as Cartesia sends it: the request's context id echoed, no flush ids. */
function sseEvent(request: CartesiaSSERequest, data: Record<string, unknown>): Record<string, unknown> {
  const { context_id: _id, flush_id: _flush, ...rest } = data;
  return { ...rest, ...(request.context_id ? { context_id: request.context_id } : {}) };
}

/** `POST /access-token`: a relay token that may speak on the caller's stream, for a browser app to use in place of a key. */
export async function accessToken(c: Context<Env>, ingress: CompatIngress, named: string | null): Promise<Response> {
  const { principal, stream } = await compatPrincipal(c, ingress, named);
  authorize(principal, 'speak', stream);
  const body = await jsonBody(c, 16 * 1024, cartesiaAccessTokenRequestSchema);
  if (body.grants?.stt || body.grants?.agent) throw new RelayError('bad_request', 'grants: the relay serves text to speech only (grants.tts).');
  let seconds = Math.min(body.expires_in ?? ACCESS_TOKEN_DEFAULT_SECONDS, ACCESS_TOKEN_MAX_SECONDS);
  // A token never outlives the token that minted it.
  if (principal.kind !== 'admin') seconds = Math.min(seconds, Math.max(1, Math.floor((principal.expiresAt - Date.now()) / 1000)));
  const minted = await ingress.auth.tokens.mint({ streams: [stream], actions: ['speak'], expires_in: seconds });
  ingress.logger.info('access token minted', { token_id: minted.claims.jti, streams: [stream], expires_in: seconds });
  c.header('Cache-Control', 'no-store');
  return c.json({ token: minted.token });
}
