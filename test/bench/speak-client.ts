/**
 * Posting text to a relay's speak route with as little client overhead as possible: node:http on a
 * keep-alive agent (fetch costs the client a millisecond of its own), optionally as a paced token stream.
 */
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 512 });

export interface SpeakTarget {
  url: string;
  key: string;
}

export interface SpeakResult {
  status: number;
  body: string;
}

/**
 * POSTs `text` (or, when `tokens` is given, each token as its own chunk `gapMs` apart) to the stream; over a
 * kept-alive connection, or with `newConnection` over one of its own, as a new caller's request comes.
 */
export function speak(
  target: SpeakTarget,
  stream: string,
  text: string | { tokens: string[]; gapMs: number },
  query = '',
  onSent?: () => void,
  options: { newConnection?: boolean } = {},
): Promise<SpeakResult> {
  const url = new URL(`/v1/streams/${stream}/speak${query ? `?${query}` : ''}`, target.url);
  const whole = typeof text === 'string' ? Buffer.from(text) : null;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: options.newConnection ? false : agent,
        headers: {
          authorization: `Bearer ${target.key}`,
          'content-type': 'text/plain; charset=utf-8',
          ...(whole ? { 'content-length': String(whole.byteLength) } : { 'transfer-encoding': 'chunked' }),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed as it went idle, just as this request took it: send it again on
      // a fresh one (Node's documented remedy; only a whole text, which nothing has consumed yet).
      if (whole && req.reusedSocket && error.code === 'ECONNRESET') speak(target, stream, text, query, onSent).then(resolve, reject);
      else reject(error);
    });
    if (whole) {
      onSent?.();
      req.end(whole);
      return;
    }
    const { tokens, gapMs } = text as { tokens: string[]; gapMs: number };
    let index = 0;
    const next = () => {
      if (index === 0) onSent?.();
      if (index >= tokens.length) {
        req.end();
        return;
      }
      req.write(tokens[index++]!);
      setTimeout(next, gapMs);
    };
    next();
  });
}

export function closeSpeakClients(): void {
  agent.destroy();
}
