/** Reading a request body as it streams: byte limits counted on the fly, strict UTF-8, lines, whole JSON. */
import { RelayError } from '../../shared/errors.ts';

/** A request body as it arrives: a web stream, or the runtime's own chunks where that is cheaper (RuntimeAdapter.requestBody). */
export type BodySource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Yields the body's chunks, failing with `payload_too_large` as soon as the running total passes `maxBytes`,
 * and with `upload_timeout` when no byte arrives for `idleMs` (a slow producer that still sends stays welcome).
 * With the body's declared length (Content-Length), it ends at the last byte instead of waiting for the stream to
 * say so, which takes the runtime another turn of its event loop or more (0.1 ms of a speak request's path on Node).
 */
export async function* limitBytes(body: BodySource | null, maxBytes: number, idleMs = Infinity, declaredBytes?: number): AsyncGenerator<Uint8Array> {
  if (!body) return;
  let total = 0;
  const chunks = openChunks(body);
  try {
    while (total !== declaredBytes) {
      const { done, value } = await readWithin(chunks, idleMs);
      if (done) return;
      total += value.byteLength;
      if (total > maxBytes) throw new RelayError('payload_too_large', `The body passed the limit of ${maxBytes} bytes.`);
      yield value;
    }
  } finally {
    chunks.release();
  }
}

interface Chunks {
  read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
  /** Gives up on the body: a pending read settles and the client's upload is dropped. */
  cancel(): Promise<void>;
  release(): void;
}

function openChunks(body: BodySource): Chunks {
  if ('getReader' in body) {
    const reader = body.getReader();
    return {
      read: async () => {
        const { done, value } = await reader.read();
        return done ? { done: true } : { done: false, value };
      },
      cancel: () => reader.cancel(),
      release: () => reader.releaseLock(),
    };
  }
  const iterator = body[Symbol.asyncIterator]();
  // Not awaited: an iterator's return waits for the read still pending, which a stalled upload never settles.
  const close = () => void iterator.return?.().catch(() => {});
  return {
    read: async () => {
      const { done, value } = await iterator.next();
      return done ? { done: true } : { done: false, value };
    },
    cancel: async () => close(),
    release: close,
  };
}

async function readWithin(chunks: Chunks, idleMs: number) {
  if (!Number.isFinite(idleMs)) return chunks.read();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RelayError('upload_timeout', `The upload sent nothing for ${idleMs / 1000} s; send a byte now and then to keep it open.`)), idleMs);
  });
  try {
    return await Promise.race([chunks.read(), idle]);
  } catch (error) {
    // Settles the read still pending, so the lock can be released and the client's upload is dropped.
    await chunks.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

// Decoding without `stream` keeps no state between calls, so one decoder serves every whole body.
const WHOLE_DECODER = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of a body the runtime already holds whole, as one piece: within `maxBytes`, strict UTF-8, without a
 * stream's chunk iteration and idle timer. Checked when read, as a streamed body's chunks are.
 */
export function* wholeText(body: Uint8Array, maxBytes: number): Generator<string> {
  if (body.byteLength > maxBytes) throw new RelayError('payload_too_large', `The body passed the limit of ${maxBytes} bytes.`);
  let text: string;
  try {
    text = WHOLE_DECODER.decode(body);
  } catch {
    throw new RelayError('invalid_utf8');
  }
  if (text !== '') yield text;
}

/** Decodes UTF-8 across chunk boundaries; invalid bytes fail with `invalid_utf8`. */
export async function* decodeUtf8(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  try {
    for await (const chunk of chunks) {
      const text = decoder.decode(chunk, { stream: true });
      if (text !== '') yield text;
    }
    const rest = decoder.decode();
    if (rest !== '') yield rest;
  } catch (error) {
    if (error instanceof RelayError) throw error;
    throw new RelayError('invalid_utf8');
  }
}

/** Splits text into lines (without their terminators); the last line may lack one. */
export async function* splitLines(texts: AsyncIterable<string> | Iterable<string>, maxLineChars: number): AsyncGenerator<string> {
  let pending = '';
  for await (const text of texts) {
    pending += text;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      if (newline > maxLineChars) throw new RelayError('payload_too_large', `A line passed the limit of ${maxLineChars} characters.`);
      yield pending.slice(0, newline).replace(/\r$/, '');
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    if (pending.length > maxLineChars) throw new RelayError('payload_too_large', `A line passed the limit of ${maxLineChars} characters.`);
  }
  if (pending !== '') yield pending.replace(/\r$/, '');
}

/** The whole text as one JSON value; `invalid_json` when it does not parse. */
export async function readJson(texts: AsyncIterable<string> | Iterable<string>): Promise<unknown> {
  let whole = '';
  for await (const text of texts) whole += text;
  try {
    return JSON.parse(whole) as unknown;
  } catch {
    throw new RelayError('invalid_json');
  }
}
