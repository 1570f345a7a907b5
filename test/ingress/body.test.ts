import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../../shared/errors.ts';
import { limitBytes, wholeText } from '../../worker/ingress/body.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += new TextDecoder().decode(chunk);
  return text;
}

async function codeOf(run: Promise<unknown>): Promise<string> {
  try {
    await run;
    return 'ok';
  } catch (error) {
    if (error instanceof RelayError) return error.code;
    throw error;
  }
}

describe('limitBytes over a runtime body (a Node request read as it arrives)', () => {
  it('yields the chunks as they come and ends with the body', async () => {
    const body = new PassThrough();
    body.write(bytes('Hello '));
    body.end(bytes('there.'));
    expect(await collect(limitBytes(body.iterator({ destroyOnReturn: false }), 100))).toBe('Hello there.');
  });

  it('ends at the last declared byte without waiting for the stream to end', async () => {
    const body = new PassThrough();
    body.write(bytes('Hello '));
    body.write(bytes('there.'));
    // The stream never ends here: a declared length of 12 is all that says the body is whole.
    expect(await collect(limitBytes(body.iterator({ destroyOnReturn: false }), 100, 1000, 12))).toBe('Hello there.');
    expect(body.destroyed).toBe(false);
  });

  it('fails with payload_too_large past the limit and leaves the rest unread, not destroyed', async () => {
    const body = new PassThrough();
    body.write(bytes('0123456789'));
    body.write(bytes('0123456789'));
    expect(await codeOf(collect(limitBytes(body.iterator({ destroyOnReturn: false }), 15)))).toBe('payload_too_large');
    expect(body.destroyed).toBe(false);
  });

  it('fails with upload_timeout when the upload stalls, without waiting for the read it gave up on', async () => {
    const body = new PassThrough();
    body.write(bytes('Hello'));
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of limitBytes(body.iterator({ destroyOnReturn: false }), 100, 50)) seen.push(new TextDecoder().decode(chunk));
    })();
    expect(await codeOf(reading)).toBe('upload_timeout');
    expect(seen).toEqual(['Hello']);
  });

  it('reads a web stream as before', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes('Hello'));
        controller.close();
      },
    });
    expect(await collect(limitBytes(stream, 100))).toBe('Hello');
  });
});

describe('wholeText over a body the runtime already holds whole', () => {
  it('gives the text in one piece, and nothing for an empty body', () => {
    expect([...wholeText(bytes('Hello there.'), 100)]).toEqual(['Hello there.']);
    expect([...wholeText(new Uint8Array(0), 100)]).toEqual([]);
  });

  it('fails as a streamed body does, when the text is read: payload_too_large, invalid_utf8', async () => {
    const tooLong = wholeText(bytes('0123456789'), 5);
    const invalid = wholeText(new Uint8Array([0x48, 0xff, 0x69]), 100);
    expect(await codeOf((async () => [...tooLong])())).toBe('payload_too_large');
    expect(await codeOf((async () => [...invalid])())).toBe('invalid_utf8');
  });
});
