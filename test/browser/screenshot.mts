/**
 * Takes README's screenshot of the player page (headless Chromium, a real relay on the embedded engine, a word
 * being heard): `node --import tsx test/browser/screenshot.mts [out.png]`.
 */
import { startNodeRelay } from '../../worker/runtime/node.ts';
import { launchChromium } from './browser.ts';

const OUT = process.argv[2] ?? 'worker/player/screenshot.png';
const KEY = `screenshot-${crypto.randomUUID()}`;

const relay = await startNodeRelay({ port: 0, host: '127.0.0.1', quiet: true, env: { TTS_PROVIDER: 'espeak', RELAY_ADMIN_KEY: KEY } });
const browser = await launchChromium();
try {
  const admin = { authorization: `Bearer ${KEY}` };
  const minted = await fetch(new URL('/v1/tokens', relay.url), {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ streams: ['hall'], actions: ['listen', 'speak', 'cancel'] }),
  });
  const { token } = (await minted.json()) as { token: string };
  const page = await browser.newPage({ viewport: { width: 760, height: 980 }, deviceScaleFactor: 1 });
  await page.goto(`${relay.url}/#stream=hall&token=${token}`);
  await page.getByRole('button', { name: 'Play' }).click();
  await page.locator('#connection[data-state="open"]').waitFor();
  const speak = (text: string) => fetch(new URL('/v1/streams/hall/speak', relay.url), { method: 'POST', headers: { ...admin, 'content-type': 'text/plain' }, body: text });
  await speak('Good morning. The doors to the main hall open in ten minutes, and the first talk starts at nine thirty.');
  await speak('Coffee is served in the foyer.');
  await speak('Please silence your phones.');
  await page.locator('#text').fill('Welcome to the conference!');
  // Mid-sentence (the seventh word or later being heard), the queue filled and the clock measured. Polled from here:
  // waitForFunction evaluates a string, which the page's CSP refuses.
  const ready = () =>
    page.evaluate(() => {
      const marked = document.querySelector('#captions span[aria-current="true"]');
      const index = marked ? [...marked.parentElement!.querySelectorAll('span')].indexOf(marked as HTMLSpanElement) : -1;
      const queued = [...document.querySelectorAll('#queue li')].some((li) => li.textContent?.startsWith('Queued'));
      return index >= 6 && queued && document.getElementById('sync')!.textContent!.startsWith('relay clock');
    });
  const deadline = Date.now() + 30_000;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error('the page did not reach mid-sentence with a queue within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await page.screenshot({ path: OUT, fullPage: true });
  process.stdout.write(`wrote ${OUT}\n`);
} finally {
  await browser.close();
  await relay.close();
}
