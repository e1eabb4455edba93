// Progress events of a run, and their rendering: an ora spinner on a TTY, plain lines
// otherwise, nothing at all with -o json. The pipeline only emits events; it never formats.
import ora, { type Ora } from 'ora';
import type { Printer } from './printer.js';

export type ProgressEvent =
  | { kind: 'resolving'; target: string }
  | { kind: 'resolved'; pod: string; container: string; node: string }
  | { kind: 'agent-starting'; pod: string; node: string; image: string }
  | { kind: 'agent-waiting'; pod: string; reason: string; message?: string }
  | { kind: 'agent-ready'; pod: string; node: string }
  | { kind: 'finding-process'; pod: string; container: string }
  | { kind: 'python'; file: string }
  | { kind: 'staged'; dir: string }
  | { kind: 'injecting'; gdb?: string }
  | { kind: 'injected'; detail: string }
  | { kind: 'running' }
  | { kind: 'copying'; bytes: number }
  | { kind: 'analysing'; file: string }
  | { kind: 'deleting-agent'; pod: string }
  /** Something the user must see even when all goes well (which pod or process was picked). */
  | { kind: 'notice'; text: string }
  | { kind: 'done'; summary: string };

export type ProgressMode = 'spinner' | 'plain' | 'silent';

export interface Progress {
  /** `scope` names the run an event belongs to when several run at once (--all-pods). */
  emit(event: ProgressEvent, scope?: string): void;
  stop(ok: boolean): void;
}

const WAITING: Record<string, string> = {
  ContainerCreating: 'pulling the image and creating the container',
  PodInitializing: 'initializing',
  Pending: 'waiting to be scheduled',
};

const TEXT: { [K in ProgressEvent['kind']]: (e: Extract<ProgressEvent, { kind: K }>) => string } = {
  resolving: (e) => `resolving target ${e.target}`,
  resolved: (e) => `target: pod ${e.pod}, container ${e.container}, node ${e.node}`,
  'agent-starting': (e) => `starting agent pod ${e.pod} on node ${e.node} (${e.image})`,
  'agent-waiting': (e) => `agent pod ${e.pod}: ${WAITING[e.reason] ?? e.reason}${e.message ? ` (${e.message})` : ''}`,
  'agent-ready': (e) => `agent pod ${e.pod} is running on node ${e.node}`,
  'finding-process': (e) => `finding the Python process of container ${e.container} in pod ${e.pod}`,
  python: (e) => `found CPython (${e.file})`,
  staged: (e) => `payload staged in the target at ${e.dir}`,
  injecting: (e) => `injecting with gdb${e.gdb ? ` ${e.gdb}` : ''}`,
  injected: (e) => `payload thread started (${e.detail})`,
  running: () => 'payload running in the target',
  copying: (e) => `copying results (${e.bytes} bytes)`,
  analysing: (e) => `computing retained sizes from ${e.file}`,
  'deleting-agent': (e) => `deleting agent pod ${e.pod}`,
  notice: (e) => e.text,
  done: (e) => e.summary,
};

export function render(event: ProgressEvent, scope?: string): string {
  const text = (TEXT[event.kind] as (e: ProgressEvent) => string)(event);
  return scope ? `[${scope}] ${text}` : text;
}

/** The same progress, every event labelled with the run it belongs to. */
export function scoped(p: Progress, scope: string | undefined): Progress {
  return scope === undefined ? p : { emit: (e, inner) => p.emit(e, inner ?? scope), stop: (ok) => p.stop(ok) };
}

export function createProgress(mode: ProgressMode, printer: Printer): Progress {
  if (mode === 'silent') return { emit: () => {}, stop: () => {} };
  if (mode === 'plain') {
    return {
      emit: (e, scope) => {
        if (e.kind !== 'copying') printer.log(render(e, scope));
      },
      stop: () => {},
    };
  }
  let spinner: Ora | undefined;
  // stdin is left alone: ora's discarding puts the terminal in raw mode, and restoring it throws
  // (EIO) once the terminal is gone (a closed ssh session), in the middle of our cleanup
  const start = (text: string) => ora({ text, stream: printer.streams.err, discardStdin: false }).start();
  return {
    emit(e, scope) {
      const text = render(e, scope);
      if (e.kind === 'done') {
        spinner?.succeed(text);
        spinner = undefined;
        return;
      }
      if (e.kind === 'notice') {
        // a notice stays on screen; the spinner goes on below it
        if (spinner) {
          const current = spinner.text;
          spinner.stopAndPersist({ symbol: 'ℹ', text });
          spinner = start(current);
        } else printer.log(text);
        return;
      }
      if (!spinner) spinner = start(text);
      else spinner.text = text;
    },
    stop(ok) {
      if (!spinner) return;
      if (ok) spinner.stop();
      else spinner.fail();
      spinner = undefined;
    },
  };
}
