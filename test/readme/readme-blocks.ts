/**
 * The shell blocks README shows a newcomer: its first screen (before the first `##`), "Speaking" and
 * "Listening". A block whose first line is `# terminal N…` belongs to terminal N; the others to terminal 3,
 * where the quick start speaks.
 */

export interface ShellBlock {
  section: string;
  terminal: 1 | 2 | 3;
  /** 1-based line of the opening fence, for messages. */
  line: number;
  text: string;
}

export const CHECKED_SECTIONS = ['', 'Speaking', 'Listening'];

export function readmeShellBlocks(markdown: string): ShellBlock[] {
  const blocks: ShellBlock[] = [];
  let section = '';
  let open: { line: number; lines: string[] } | null = null;
  markdown.split('\n').forEach((line, index) => {
    if (open) {
      if (line.startsWith('```')) {
        const text = open.lines.join('\n');
        if (CHECKED_SECTIONS.includes(section)) blocks.push({ section, terminal: terminalOf(text), line: open.line, text });
        open = null;
      } else {
        open.lines.push(line);
      }
      return;
    }
    if (line.startsWith('## ')) section = line.slice(3).trim();
    else if (line === '```sh') open = { line: index + 1, lines: [] };
  });
  return blocks;
}

function terminalOf(text: string): 1 | 2 | 3 {
  const match = /^# terminal ([123])\b/.exec(text);
  return match ? (Number(match[1]) as 1 | 2 | 3) : 3;
}

/** The block's commands one per entry: comments and blank lines dropped, `\` continuations joined. */
export function commandLines(text: string): string[] {
  const commands: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = pending === '' ? raw.trimStart() : raw;
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    commands.push(`${pending}${line}`);
    pending = '';
  }
  return commands;
}

/** What a command is without its trailing `# comment` (a `#` after whitespace, outside quotes is rare enough here). */
export function withoutComment(command: string): string {
  return command.replace(/\s+#\s.*$/, '').trim();
}
