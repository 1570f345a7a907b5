/**
 * The relay under test, in a process of its own so its CPU time and memory are its own: each runtime's
 * real entry on loopback, configured by the environment the bench gives the child. Under Bun the entry
 * listens on PORT, which the bench picks free beforehand.
 */
import { runtimeName, serveControl } from './control.ts';

async function start(): Promise<{ url: string; adminKey: string }> {
  if (runtimeName() === 'bun') {
    const port = process.env.PORT;
    if (!port || port === '0') throw new Error('the Bun relay child needs PORT set to a free port');
    process.env.HOST = '127.0.0.1';
    const { runBunRelay } = (await import('../../worker/runtime/bun.ts' as string)) as { runBunRelay(): Promise<void> };
    await runBunRelay();
    return { url: `http://127.0.0.1:${port}`, adminKey: process.env.RELAY_ADMIN_KEY ?? '' };
  }
  const { startNodeRelay } = await import('../../worker/runtime/node.ts');
  const relay = await startNodeRelay({ port: 0, host: '127.0.0.1', writeLog: (line) => process.stderr.write(`${line}\n`) });
  return { url: relay.url, adminKey: relay.adminKey };
}

serveControl(await start(), {});
