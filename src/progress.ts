// Progress events of a run, and their rendering: an ora spinner on a TTY, plain lines
// otherwise, nothing at all with -o json. The pipeline only emits events; it never formats.
import ora, { type Ora } from 'ora';
import type { Printer } from './printer.js';

export type ProgressEvent =
  | { kind: 'resolving'; target: string }
  | { kind: 'python'; file: string }
  | { kind: 'staged'; dir: string }
  | { kind: 'injecting' }
  | { kind: 'injected'; detail: string }
  | { kind: 'running' }
  | { kind: 'copying'; bytes: number }
  | { kind: 'done'; summary: string };

export type ProgressMode = 'spinner' | 'plain' | 'silent';

export interface Progress {
  emit(event: ProgressEvent): void;
  stop(ok: boolean): void;
}

const TEXT: { [K in ProgressEvent['kind']]: (e: Extract<ProgressEvent, { kind: K }>) => string } = {
  resolving: (e) => `resolving target ${e.target}`,
  python: (e) => `found CPython (${e.file})`,
  staged: (e) => `payload staged in the target at ${e.dir}`,
  injecting: () => 'injecting with gdb',
  injected: (e) => `payload thread started (${e.detail})`,
  running: () => 'payload running in the target',
  copying: (e) => `copying results (${e.bytes} bytes)`,
  done: (e) => e.summary,
};

export function render(event: ProgressEvent): string {
  return (TEXT[event.kind] as (e: ProgressEvent) => string)(event);
}

export function createProgress(mode: ProgressMode, printer: Printer): Progress {
  if (mode === 'silent') return { emit: () => {}, stop: () => {} };
  if (mode === 'plain') {
    return {
      emit: (e) => { if (e.kind !== 'copying') printer.log(render(e)); },
      stop: () => {},
    };
  }
  let spinner: Ora | undefined;
  return {
    emit(e) {
      const text = render(e);
      if (e.kind === 'done') { spinner?.succeed(text); spinner = undefined; return; }
      if (!spinner) spinner = ora({ text, stream: printer.streams.err }).start();
      else spinner.text = text;
    },
    stop(ok) {
      if (!spinner) return;
      if (ok) spinner.stop(); else spinner.fail();
      spinner = undefined;
    },
  };
}
