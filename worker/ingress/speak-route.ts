/** POST|PUT /v1/streams/{stream}/speak: text in whatever body shape, spoken as one utterance as it arrives. */
import type { Context } from 'hono';
import { type SpeakAccepted, type SpeakCompleted, type SpeakQuery, speakQuerySchema } from '../../shared/api.ts';
import { errorInfo, RelayError, toRelayError } from '../../shared/errors.ts';
import type { UtteranceHandle } from '../core/stream-directory.ts';
import type { BodyInput } from '../core/text-input.ts';
import type { UtteranceOptions, UtteranceResult } from '../core/utterance.ts';
import type { Env, RuntimeAdapter } from '../runtime/contract.ts';
import { authorize } from '../security/auth.ts';
import type { IngressContext } from './context.ts';
import { readSpeakBody, type SpeakBody } from './speak-body.ts';
import { checkVoice } from './voice-check.ts';

// Longest NDJSON/SSE line accepted while streaming; longer lines fail with payload_too_large.
const MAX_LINE_CHARS = 64 * 1024;

export function speakRoute(ingress: IngressContext, runtime: RuntimeAdapter) {
  const { directory, limits, now, provider } = ingress;
  return async (c: Context<Env>, name: string): Promise<Response> => {
    const receivedAt = now();
    authorize(c.get('principal'), 'speak', name);
    runtime.keepRequestAlive?.(c);
    const query = speakQuery(c.req.query());
    // Barge-in silences the stream at once, before the new text arrives; its enqueue clears the queue again.
    const interrupt = query.interrupt ?? false;
    if (interrupt) {
      authorize(c.get('principal'), 'cancel', name);
      await directory.cancel(name, true);
    }
    const body = await readSpeakBody(c.req.header('content-type'), runtime.requestBody?.(c) ?? c.req.raw.body, {
      maxBytes: limits.maxSpeakBytes,
      maxLineChars: MAX_LINE_CHARS,
      idleMs: limits.uploadIdleMs,
      declaredBytes: declaredLength(c.req.header('content-length')),
    });
    const voice = await checkVoice(provider, query.voice ?? body.voice);
    const options = utteranceOptions(query, body, voice, receivedAt);
    const utterance = await speakBody(body, () => directory.enqueue(name, options, { interrupt }));
    const accepted: SpeakAccepted = { utterance_id: utterance.id, utterance: utterance.number, stream: name };
    if (!query.wait) return c.json(accepted, 202);
    const result = await utterance.result;
    return c.json(completed(accepted, result), result.error ? result.error.status : 200);
  };
}

/**
 * Feeds the body's inputs into one utterance, which joins the queue with the first words (speech starts while the
 * upload goes on). A body held whole goes in without a turn per input: its text and its end reach the provider together.
 */
async function speakBody(body: SpeakBody, enqueue: () => Promise<UtteranceHandle>): Promise<UtteranceHandle> {
  let utterance: UtteranceHandle | null = null;
  try {
    const { inputs } = body;
    if (Symbol.iterator in inputs) {
      for (const input of inputs) {
        if (!utterance && !opensUtterance(input)) continue;
        utterance ??= await enqueue();
        if (!writeInput(utterance, input)) break;
      }
    } else {
      for await (const input of inputs) {
        if (!utterance && !opensUtterance(input)) continue;
        utterance ??= await enqueue();
        if (!writeInput(utterance, input)) break;
      }
    }
  } catch (error) {
    const relayError = toRelayError(error, 'bad_request');
    utterance?.fail(relayError);
    throw relayError;
  }
  if (!utterance) throw new RelayError('empty_text');
  utterance.end();
  return utterance;
}

/** Only text that is not blank opens an utterance; a flush or blank text before it is dropped. */
function opensUtterance(input: BodyInput): boolean {
  return input.type === 'text' && input.text.trim() !== '';
}

/** Writes one input; false once the utterance has ended (past its limit, or cancelled). */
function writeInput(utterance: UtteranceHandle, input: BodyInput): boolean {
  if (input.type === 'flush') utterance.flush();
  else utterance.write(input.text);
  return !utterance.ended;
}

function utteranceOptions(query: SpeakQuery, body: SpeakBody, voice: string | undefined, receivedAt: number): UtteranceOptions {
  const language = query.language ?? body.language;
  const generation = generationOf(query);
  return {
    receivedAt,
    buffering: query.buffering ?? 'relay',
    ...(voice ? { voice } : {}),
    ...(language ? { language } : {}),
    ...(query.model ? { model: query.model } : {}),
    ...(query.phoneme_timestamps ? { phonemeTimestamps: true } : {}),
    ...(generation ? { generation } : {}),
  };
}

function completed(accepted: SpeakAccepted, result: UtteranceResult): SpeakCompleted {
  return {
    ...accepted,
    reason: result.reason,
    characters: result.characters,
    audio_seconds: round(result.audioSeconds, 3),
    first_audio_ms: result.firstAudioMs === null ? null : round(result.firstAudioMs, 1),
    total_ms: round(result.totalMs, 1),
    ...(result.heard ? { heard: result.heard } : {}),
    ...(result.error ? { error: errorInfo(result.error) } : {}),
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The body's length as the request declares it (Content-Length); undefined for a chunked or malformed one. */
function declaredLength(header: string | undefined): number | undefined {
  return header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
}

function speakQuery(raw: Record<string, string>): SpeakQuery {
  // Every parameter is optional, so a request without any (most of them) needs no schema.
  if (Object.keys(raw).length === 0) return {};
  const parsed = speakQuerySchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new RelayError('bad_request', `Query parameter ${String(issue?.path[0] ?? '')} is invalid: ${issue?.message ?? 'invalid'}.`);
}

function generationOf(query: SpeakQuery): Record<string, unknown> | undefined {
  const { speed, volume, emotion } = query;
  if (speed === undefined && volume === undefined && emotion === undefined) return undefined;
  return { ...(speed !== undefined ? { speed } : {}), ...(volume !== undefined ? { volume } : {}), ...(emotion ? { emotion } : {}) };
}
