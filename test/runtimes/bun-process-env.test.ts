/** Every way the relay starts on Bun starts it with the same process environment (worker/runtime/bun-process-env.ts). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUN_RELAY_ENV } from '../../worker/runtime/bun-process-env.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const settings = Object.entries(BUN_RELAY_ENV).map(([name, value]) => `${name}=${value}`);

describe('the Bun relay process environment', () => {
  it('is set by npm start', () => {
    const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.start!;
    for (const setting of settings) expect(start.split(' ')).toContain(setting);
  });

  it('is set by the Dockerfile and the systemd unit in the README', () => {
    const dockerEnv = read('worker/Dockerfile').split('\n').filter((line) => line.startsWith('ENV '));
    const unit = read('README.md').split('\n').filter((line) => line.startsWith('Environment='));
    for (const setting of settings) {
      expect(dockerEnv.join(' ').split(' ')).toContain(setting);
      expect(unit).toContain(`Environment=${setting}`);
    }
  });
});
