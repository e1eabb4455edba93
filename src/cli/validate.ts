// Validate: pure checks of the parsed command line, one sentence each, naming the flags
// involved. Returns the target (none for --cleanup); nothing here touches a process or a cluster.
import { usageError } from '../core/errors.js';
import { parseTarget, type Target } from '../target/target.js';
import type { Flags, KubeCliFlags } from './flags.js';

/** Validate: pure checks of the flags, one sentence each; returns the target (none for --cleanup). */
export function validate(f: Flags): Target | undefined {
  if (f.target !== undefined && f.selector !== undefined) throw usageError('give either a TARGET or -l SELECTOR, not both', 'drop one');
  if (!f.target && f.selector === undefined && !f.cleanup) throw usageError('no TARGET given', 'write kubectl pyheap pid/<PID> or kubectl pyheap POD');
  if (f.script !== undefined && f.exec !== undefined) throw usageError('--script and --exec cannot be used together', 'pick one');
  if (f.output !== 'table' && f.output !== 'json') throw usageError(`-o ${f.output} is not an output format`, 'use -o table or -o json');
  for (const k of ['top', 'largest'] as const) {
    if (!Number.isInteger(f[k]) || f[k] < 1 || f[k] > 100000) throw usageError(`--${k} must be a whole number from 1 to 100000`);
  }
  if (f.selector !== undefined && !f.selector.trim()) throw usageError('-l needs a selector', 'e.g. -l app=web');
  const finding = [f.growth !== undefined && '--growth', f.trace !== undefined && '--trace', f.referrers !== undefined && '--referrers', f.stacks && '--stacks', f.snapshot && '--snapshot'].filter(
    Boolean,
  );
  if (finding.length && (f.script !== undefined || f.exec !== undefined)) throw usageError(`${finding[0]} goes with a census, not with --script or --exec`, 'run them separately');
  if (!Number.isInteger(f.samples) || f.samples < 1 || f.samples > 100) throw usageError('--samples must be a whole number from 1 to 100');
  for (const t of f.referrers ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(t)) throw usageError(`--referrers ${JSON.stringify(t)} is not a type name`, 'write it as the census shows it, e.g. str or app.models.Session');
  }
  const target: Target | undefined = f.selector !== undefined ? { kind: 'selector', selector: f.selector.trim() } : f.target ? parseTarget(f.target) : undefined;
  validateKubeFlags(f, target);
  return target;
}

/** Validate: one sentence per rule, naming the flags. */
export function validateKubeFlags(f: KubeCliFlags, target: Target | undefined): void {
  const local = target?.kind === 'pid';
  if (f.cleanup && target) throw usageError('--cleanup takes no TARGET', 'run kubectl pyheap --cleanup alone');
  if (f.pid !== undefined && (!Number.isInteger(f.pid) || f.pid < 1)) throw usageError('--pid must be a positive whole number (a PID inside the container)');
  if (f.pid !== undefined && f['all-processes']) throw usageError('--pid and --all-processes cannot be used together', 'pick one');
  if (f['all-pods'] && target && target.kind !== 'workload' && target.kind !== 'selector') {
    throw usageError('--all-pods needs a workload or a selector', 'write deploy/NAME, sts/NAME, ds/NAME or -l SELECTOR');
  }
  if (local) {
    for (const k of ['container', 'pid'] as const) if (f[k] !== undefined) throw usageError(`--${k} applies to pods, not to pid/N`, 'drop it');
    for (const k of ['all-pods', 'all-processes', 'dry-run'] as const) if (f[k]) throw usageError(`--${k} applies to pods, not to pid/N`, 'drop it');
  }
}
