/**
 * `GET /` and `/player/*`: the browser player page and its client module, as static files. No credential: the page
 * holds none until the user gives it a token, which stays in the URL fragment and never reaches the server.
 */
import { readFile } from 'node:fs/promises';
import { Hono } from 'hono';

/** Where the page's files sit; read through node:fs, which Bun and Deno implement as well (Deno with --allow-read). */
const PUBLIC_DIR = new URL('./public/', import.meta.url);

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/player/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/player/client.js': { file: 'client.js', type: 'text/javascript; charset=utf-8' },
  '/player/client-wire.js': { file: 'client-wire.js', type: 'text/javascript; charset=utf-8' },
  '/player/client-clock.js': { file: 'client-clock.js', type: 'text/javascript; charset=utf-8' },
  '/player/worklet.js': { file: 'worklet.js', type: 'text/javascript; charset=utf-8' },
  '/player/worklet-ring.js': { file: 'worklet-ring.js', type: 'text/javascript; charset=utf-8' },
  '/player/player.css': { file: 'player.css', type: 'text/css; charset=utf-8' },
  // The clock estimator the agent runs too; client.js imports it as ../../../shared/, which resolves here.
  '/shared/clock-estimator.js': { file: '../../../shared/clock-estimator.js', type: 'text/javascript; charset=utf-8' },
};

/** Scripts, styles and sockets from this origin only; nothing inline, nothing framed, no forms posted elsewhere. */
export const PLAYER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function playerRoutes(): Hono {
  const app = new Hono();
  const cache = new Map<string, Promise<Uint8Array>>();
  const load = (file: string) => {
    let bytes = cache.get(file);
    if (!bytes) {
      bytes = readFile(new URL(file, PUBLIC_DIR)).then((buffer) => new Uint8Array(buffer));
      // A failed read is retried on the next request rather than cached.
      bytes.catch(() => cache.delete(file));
      cache.set(file, bytes);
    }
    return bytes;
  };
  for (const [path, { file, type }] of Object.entries(ASSETS)) {
    app.get(path, async (c) => {
      const body = await load(file);
      return c.body(body as Uint8Array<ArrayBuffer>, 200, {
        'content-type': type,
        'content-security-policy': PLAYER_CSP,
        // Revalidated each load, so a relay upgrade never leaves a stale page talking to a newer relay.
        'cache-control': 'no-cache',
      });
    });
  }
  return app;
}
