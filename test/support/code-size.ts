/** Measures source files and the functions in them with the TypeScript compiler, for the size limits test. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface FunctionSize {
  file: string;
  name: string;
  line: number;
  lines: number;
}

/** Hand-written source: TypeScript and the plain JavaScript served as is (the player page, the estimator, bin scripts). */
const SOURCE = /\.(ts|js|mjs)$/;

/** Every source file below `dir` (relative to `root`; `.d.ts` declarations aside), sorted. */
export function listSources(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string): void => {
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = join(abs, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(relative(root, path));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

/** Number of lines of a file, as `wc -l` counts them for a file ending in a newline. */
export function countLines(text: string): number {
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** The lines each function, method, constructor, accessor and arrow function spans, nested ones included. */
export function measureFunctions(file: string, text: string): FunctionSize[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const sizes: FunctionSize[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      sizes.push({ file, name: nameOf(node, source), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sizes;
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  return '(anonymous)';
}

/** Reads and measures one file. */
export function measureFile(root: string, file: string): { lines: number; functions: FunctionSize[] } {
  const text = readFileSync(join(root, file), 'utf8');
  return { lines: countLines(text), functions: measureFunctions(file, text) };
}
