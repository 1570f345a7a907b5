/** Turns a speak request body of any supported content type into a stream of text and flush inputs. */
import { ndjsonLineSchema, speakJsonSchema } from '../../shared/api.ts';
import { RelayError } from '../../shared/errors.ts';
import { type BodySource, decodeUtf8, limitBytes, readJson, splitLines, wholeText } from './body.ts';
import { readSSE, textOfSSEData } from './sse.ts';

import type { BodyInput } from '../core/text-input.ts';

export interface SpeakBody {
  voice?: string;
  language?: string;
  /** A sync iterable when the body was whole on arrival: its text goes on without waiting a turn per layer. */
  inputs: AsyncIterable<BodyInput> | Iterable<BodyInput>;
}

// curl's --data-binary sends form-urlencoded and -T sends octet-stream; both carry plain text here.
const PLAIN_TYPES = new Set(['', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']);

/** `body` is a Uint8Array when the runtime already holds all of it (RuntimeAdapter.requestBody). */
export async function readSpeakBody(
  contentType: string | undefined,
  body: BodySource | Uint8Array | null,
  limits: { maxBytes: number; maxLineChars: number; idleMs?: number; declaredBytes?: number },
): Promise<SpeakBody> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (body instanceof Uint8Array) {
    const whole = body;
    if (PLAIN_TYPES.has(type)) return { inputs: wholePlainInputs(wholeText(whole, limits.maxBytes)) };
    return readStructured(type, () => wholeText(whole, limits.maxBytes), limits.maxLineChars);
  }
  const texts = () => decodeUtf8(limitBytes(body, limits.maxBytes, limits.idleMs, limits.declaredBytes));
  if (PLAIN_TYPES.has(type)) return { inputs: plainInputs(texts()) };
  return readStructured(type, texts, limits.maxLineChars);
}

/** NDJSON, SSE and JSON bodies, from their text however it arrives. */
async function readStructured(type: string, texts: () => AsyncIterable<string> | Iterable<string>, maxLineChars: number): Promise<SpeakBody> {
  if (type === 'application/x-ndjson' || type === 'application/jsonl' || type === 'application/ndjson') {
    return { inputs: ndjsonInputs(splitLines(texts(), maxLineChars)) };
  }
  if (type === 'text/event-stream') return { inputs: sseInputs(readSSE(splitLines(texts(), maxLineChars))) };
  if (type === 'application/json') {
    const parsed = speakJsonSchema.safeParse(await readJson(texts()));
    if (!parsed.success) throw new RelayError('invalid_json', `The JSON body must be {"text": string, "voice"?: string, "language"?: string}.`);
    const { text, voice, language } = parsed.data;
    return { ...(voice ? { voice } : {}), ...(language ? { language } : {}), inputs: once({ type: 'text', text }) };
  }
  throw new RelayError('unsupported_media_type', `Unsupported Content-Type ${JSON.stringify(type)}; send text/plain, application/json, application/x-ndjson or text/event-stream.`);
}

async function* plainInputs(texts: AsyncIterable<string>): AsyncGenerator<BodyInput> {
  for await (const text of texts) yield { type: 'text', text };
}

function* wholePlainInputs(texts: Iterable<string>): Generator<BodyInput> {
  for (const text of texts) yield { type: 'text', text };
}

async function* ndjsonInputs(lines: AsyncIterable<string>): AsyncGenerator<BodyInput> {
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new RelayError('invalid_ndjson', `Line ${number} is not valid JSON.`);
    }
    const parsed = ndjsonLineSchema.safeParse(value);
    if (!parsed.success) throw new RelayError('invalid_ndjson', `Line ${number} must be an object like {"text": "…", "flush": true}.`);
    if (parsed.data.text) yield { type: 'text', text: parsed.data.text };
    if (parsed.data.flush) yield { type: 'flush' };
  }
}

async function* sseInputs(events: AsyncIterable<string>): AsyncGenerator<BodyInput> {
  for await (const data of events) {
    if (data.trim() === '[DONE]') return;
    const text = textOfSSEData(data);
    if (text) yield { type: 'text', text };
  }
}

async function* once<T>(value: T): AsyncGenerator<T> {
  yield value;
}
