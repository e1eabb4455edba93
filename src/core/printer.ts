// The one printer: owns every user-facing prefix ("error:", "warning:"), colour, and where
// output goes. Everything else hands it values; nothing else writes to stdout or stderr.
import type { Writable } from 'node:stream';
import { PyheapError } from './errors.js';

export interface Streams {
  out: Writable;
  err: Writable;
  errIsTTY: boolean;
  color: boolean;
}

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

export class Printer {
  constructor(readonly streams: Streams) {}

  /** One line: what happened and how to fix it. The stage and the stack only with -v. */
  error(e: unknown, verbose = false): void {
    const c = this.streams.color;
    if (e instanceof PyheapError) {
      const hint = e.hint ? `; ${e.hint}` : '';
      this.streams.err.write(`${paint(c, '31;1', 'error:')} ${e.message}${hint}\n`);
      if (verbose) {
        this.streams.err.write(`stage: ${e.stage}${e.reason ? ` (${e.reason})` : ''}\n`);
        this.detail(e);
      }
      return;
    }
    const message = e instanceof Error ? e.message : String(e);
    this.streams.err.write(`${paint(c, '31;1', 'error:')} ${oneLine(message)}; this is a bug in kubectl-pyheap, please report it with -v output\n`);
    if (verbose) this.detail(e);
  }

  warning(message: string): void {
    this.streams.err.write(`${paint(this.streams.color, '33;1', 'warning:')} ${message}\n`);
  }

  note(message: string): void {
    this.streams.err.write(`${paint(this.streams.color, '2', message)}\n`);
  }

  /** Progress and transcripts: stderr, never stdout (stdout is the result). */
  log(message: string): void {
    this.streams.err.write(`${message}\n`);
  }

  result(text: string): void {
    this.streams.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  json(value: unknown): void {
    this.streams.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  private detail(e: unknown): void {
    let cur: unknown = e;
    while (cur instanceof Error) {
      this.streams.err.write(`${cur.stack ?? cur.message}\n`);
      cur = cur.cause;
      if (cur !== undefined) this.streams.err.write('caused by: ');
    }
    if (cur !== undefined && !(cur instanceof Error)) this.streams.err.write(`${String(cur)}\n`);
  }
}

function oneLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
