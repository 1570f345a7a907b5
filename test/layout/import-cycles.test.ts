import { fileURLToPath } from 'node:url';
import { parseCircular, parseDependencyTree } from 'dpdm';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('module graph', () => {
  // Type-only imports count: a contract that imports its implementers back is a cycle however it is spelled.
  it('has no import cycle in worker/, agent/ or shared/, type-only imports included', async () => {
    const tree = await parseDependencyTree(['worker/**/*.ts', 'agent/**/*.ts', 'shared/**/*.ts'], {
      cwd: ROOT,
      context: ROOT,
      transform: false,
      exclude: /node_modules/,
    });
    expect(Object.keys(tree).length).toBeGreaterThan(100);
    expect(parseCircular(tree).map((cycle) => cycle.join(' -> '))).toEqual([]);
  }, 60_000);
});
