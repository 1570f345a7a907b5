/** An in-process Node relay on the embedded engine whose JSON log lines a test reads back. */
import { startNodeRelay, type RunningRelay } from '../../worker/runtime/node.ts';

export type LogLine = Record<string, unknown>;

export async function startLoggedRelay(adminKey: string, env: Record<string, string> = {}): Promise<{ relay: RunningRelay; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const relay = await startNodeRelay({
    port: 0,
    host: '127.0.0.1',
    writeLog: (line) => logs.push(JSON.parse(line) as LogLine),
    env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: adminKey, ...env },
  });
  return { relay, logs };
}
