import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listSources, measureFile, measureFunctions } from '../support/code-size.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// A reader holds a file of this size, or a function of this size, in one view.
const MAX_FILE_LINES = 300;
const MAX_FUNCTION_LINES = 60;
/** Where files are held to MAX_FILE_LINES: the relay. */
const FILE_LIMITED = ['worker'];
/** Where functions are held to MAX_FUNCTION_LINES: the product code and the test support it is tested with. */
const FUNCTION_LIMITED = ['worker', 'agent', 'shared', 'test/support'];
/** Files let off, each with why; remove an entry as soon as its file is within the limits (a test below says when). */
const EXEMPT: Record<string, string> = {};

describe('code size', () => {
  it(`keeps every file in ${FILE_LIMITED.join(', ')} within ${MAX_FILE_LINES} lines`, () => {
    const files = FILE_LIMITED.flatMap((dir) => listSources(ROOT, dir));
    // The player's plain JavaScript (served as is) counts like TypeScript.
    expect(files).toContain('worker/player/public/worklet.js');
    const long = files
      .filter((file) => !(file in EXEMPT))
      .map((file) => ({ file, lines: measureFile(ROOT, file).lines }))
      .filter(({ lines }) => lines > MAX_FILE_LINES)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    expect(long).toEqual([]);
  });

  it(`keeps every function in ${FUNCTION_LIMITED.join(', ')} within ${MAX_FUNCTION_LINES} lines`, () => {
    const files = FUNCTION_LIMITED.flatMap((dir) => listSources(ROOT, dir)).filter((file) => !(file in EXEMPT));
    expect(files.length).toBeGreaterThan(100);
    const long = files
      .flatMap((file) => measureFile(ROOT, file).functions)
      .filter((fn) => fn.lines > MAX_FUNCTION_LINES)
      .map((fn) => `${fn.file}:${fn.line} ${fn.name}: ${fn.lines} lines`);
    expect(long).toEqual([]);
  });

  it('lets off only files that are still over the limits', () => {
    const within = Object.keys(EXEMPT).filter((file) => {
      const { lines, functions } = measureFile(ROOT, file);
      const fileLimited = FILE_LIMITED.some((dir) => file.startsWith(`${dir}/`));
      return !(fileLimited && lines > MAX_FILE_LINES) && functions.every((fn) => fn.lines <= MAX_FUNCTION_LINES);
    });
    expect(within).toEqual([]);
  });

  it('measures functions of every kind, nested ones included', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      `export function outer() {\n${body(3)}\n  const inner = () => {\n${body(2)}\n  };\n}`,
      `class C {\n  constructor() {}\n  get x() { return 1; }\n  method() {\n${body(1)}\n  }\n}`,
    ].join('\n');
    const sizes = measureFunctions('sample.ts', text).map(({ name, lines }) => `${name}:${lines}`);
    expect(sizes).toEqual(['outer:9', 'inner:4', 'constructor:1', 'x:1', 'method:3']);
  });
});
