/** The TLS server: Cartesia's REST routes, and the WebSocket upgrade with its checks (path, key, version) and injected refusals. */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { authenticate } from './auth.ts';
import { handleRest } from './rest.ts';
import { accept } from './session.ts';
import type { EmulatorState } from './state.ts';
import type { UpgradeRecord } from './types.ts';

export const EMULATOR_CERT_FILE = fileURLToPath(new URL('../certs/cert.pem', import.meta.url));
const EMULATOR_KEY_FILE = fileURLToPath(new URL('../certs/key.pem', import.meta.url));

type Refuse = (status: number, title: string, message: string, headers?: Record<string, string>) => void;

export interface EmulatorServer {
  server: Server;
  wss: WebSocketServer;
  /** PEM of the test certificate the server presents. */
  cert: string;
}

/** An HTTPS server (not yet listening) that answers REST requests and upgrades /tts/websocket into sessions. */
export function createEmulatorServer(state: EmulatorState): EmulatorServer {
  const cert = readFileSync(EMULATOR_CERT_FILE, 'utf8');
  const key = readFileSync(EMULATOR_KEY_FILE, 'utf8');
  const server = createServer({ cert, key }, (req, res) => handleRest(state, req, res));
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(state, wss, req, socket, head));
  return { server, wss, cert };
}

function upgrade(state: EmulatorState, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const auth = authenticate(req, url, state.settings.apiKeys, state.settings.tokens);
  const version = (req.headers['cartesia-version'] as string | undefined) ?? url.searchParams.get('cartesia_version');
  const record: UpgradeRecord = { at: performance.now(), url: req.url ?? '', headers: req.headers, status: 101, auth: auth.form, version };
  state.stats.upgrades.push(record);
  const refuse: Refuse = (status, title, message, headers = {}) => {
    record.status = status;
    refuseUpgrade(socket, status, title, message, headers);
  };
  if (refuseInjected(state, refuse)) return;
  if (url.pathname !== '/tts/websocket') return refuse(404, 'Not Found', `No WebSocket at ${url.pathname}.`);
  if (!auth.ok) return refuse(401, 'Unauthorized', auth.message);
  if (!version) return refuse(400, 'Bad Request', 'The Cartesia-Version header (or cartesia_version query parameter) is required.');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(version)) return refuse(400, 'Bad Request', `Invalid Cartesia-Version ${version}.`);
  wss.handleUpgrade(req, socket, head, (ws) => accept(state, ws, version));
}

/** The rejectUpgrades fault: refuses this upgrade while its count lasts; true when it did. */
function refuseInjected(state: EmulatorState, refuse: Refuse): boolean {
  const reject = state.faults.rejectUpgrades;
  if (!reject || reject.times <= 0) return false;
  reject.times -= 1;
  const headers: Record<string, string> = reject.retryAfterSeconds !== undefined ? { 'Retry-After': String(reject.retryAfterSeconds) } : {};
  refuse(reject.status, reject.status === 429 ? 'Too Many Requests' : 'Service Unavailable', 'Injected refusal.', headers);
  return true;
}

/** Answers an upgrade with a plain HTTP error in Cartesia's shape and closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, title: string, message: string, headers: Record<string, string>): void {
  const body = JSON.stringify({ error_code: null, title, message, request_id: crypto.randomUUID() });
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
      `Connection: close\r\n\r\n${body}`,
  );
}
