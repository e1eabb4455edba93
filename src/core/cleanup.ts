// Cleanup as a stage: every resource registers how to undo itself the moment it exists, and
// the steps run exactly once, newest first, whether the run returns, throws or is interrupted.

export class Cleanup {
  private readonly steps: { name: string; fn: () => Promise<void> | void }[] = [];
  private running: Promise<Error[]> | undefined;

  add(name: string, fn: () => Promise<void> | void): void {
    if (this.running) throw new Error(`cleanup already ran; cannot register ${name}`);
    this.steps.push({ name, fn });
  }

  /** Runs every step once; later calls return the same promise. Errors are collected. */
  run(): Promise<Error[]> {
    this.running ??= (async () => {
      const errors: Error[] = [];
      for (const step of [...this.steps].reverse()) {
        try {
          await step.fn();
        } catch (e) {
          errors.push(new Error(`cleanup step "${step.name}" failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
        }
      }
      return errors;
    })();
    return this.running;
  }
}

/** The signals that stop a run the gentle way: Ctrl-C, kill, a closed terminal or ssh session
 * (SIGHUP), Ctrl-\\ (SIGQUIT). Node's default for SIGHUP would exit at once, cleanup unrun. */
export const INTERRUPTS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/** Calls `handler` once on the first of INTERRUPTS; returns a function that uninstalls it. */
export function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  let fired = false;
  const listener = (signal: NodeJS.Signals) => {
    if (fired) return;
    fired = true;
    handler(signal);
  };
  for (const s of INTERRUPTS) process.on(s, listener);
  return () => {
    for (const s of INTERRUPTS) process.off(s, listener);
  };
}
