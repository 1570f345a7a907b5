/**
 * The Node relay pins V8's old-generation growth: a process whose measured GC speeds would have set a low factor (stood
 * in for by --heap-growing-percent=10, the floor a busy machine drives V8 towards) runs far fewer mark-compacts once it
 * is pinned. Counted from V8's own GC trace over a fixed amount of work, not timed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './relay-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'tts-relay-node-heap-'));
const script = join(dir, 'churn.mjs');
// ~20 MB that stays, and a ring of objects that outlive two scavenges and so reach the old generation.
writeFileSync(
  script,
  `import { setFlagsFromString } from 'node:v8';
setFlagsFromString('--heap-growing-percent=10');
if (process.argv[2] === 'pinned') (await import(${JSON.stringify(pathToFileURL(join(ROOT, 'worker/runtime/node-heap.ts')).href)})).pinHeapGrowth();
const live = Array.from({ length: 200_000 }, (_, i) => ({ i, s: 'x' + i }));
const ring = new Array(400_000);
for (let k = 0; k < 6_000_000; k++) ring[k % ring.length] = [k, k + 1, k + 2];
console.log(live.length + ring.length);
`,
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const markCompacts = (mode: 'pinned' | 'unpinned') =>
  execFileSync(process.execPath, ['--import', 'tsx', '--trace-gc', script, mode], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes('Mark-Compact')).length;

describe('Node heap growth', () => {
  it('keeps room under the old-generation limit that a low growing factor would take away', () => {
    const unpinned = markCompacts('unpinned');
    const pinned = markCompacts('pinned');
    expect(unpinned).toBeGreaterThan(2 * pinned);
  }, 60_000);
});
