// The flags of a run (the Kubernetes ones are in kube/flags.ts): defined once, for the CLI's
// parser and for shell completion (complete.ts reads them without yargs).
import type { Argv } from 'yargs';

export function addRunOptions<T>(y: Argv<T>) {
  return y
    .option('script', { type: 'string', describe: 'run this Python file inside the target (files it writes to PYHEAP_OUT come back); it runs in a namespace of its own: reach the application\'s globals with import __main__ (or sys.modules[...])' })
    .option('exec', { type: 'string', describe: 'run this Python code inside the target, in a namespace of its own (import __main__ for the application\'s globals)' })
    .option('output', { alias: 'o', type: 'string', default: 'table', describe: 'table or json' })
    .option('top', { type: 'number', default: 25, describe: 'rows of the type table' })
    .option('largest', { type: 'number', default: 20, describe: 'how many of the largest objects to report' })
    .option('timeout', { type: 'string', default: '30s', describe: 'bound for the whole injection and payload (30s, 2m)' })
    .option('safepoint-wait', { type: 'string', default: '2s', describe: 'how long to wait for a busy target to reach a safe point' })
    .option('out-dir', { type: 'string', describe: 'where to save results (default ./pyheap-<target>-<time>/)' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show the gdb transcript and stack traces' })
    .option('allow-shared', { type: 'boolean', default: false, describe: 'count a forked worker (gunicorn, celery) even though that copies the heap pages it shares with its parent' })
    .option('growth', { type: 'string', group: 'Finding the leak:', describe: 'two censuses this far apart (30s, 2m): what grew, and what holds the top growers' })
    .option('referrers', { type: 'string', array: true, group: 'Finding the leak:', describe: 'shortest chains from a module global or a running frame to a few objects of TYPE (repeatable)' })
    .option('samples', { type: 'number', default: 3, group: 'Finding the leak:', describe: 'objects per type for --referrers' })
    .option('stacks', { type: 'boolean', default: false, group: 'Finding the leak:', describe: "every thread's Python stack" })
    .option('trace', { type: 'string', group: 'Finding the leak:', describe: 'tracemalloc for this long: the allocation sites that grew (only allocations after the start are seen)' })
    .option('snapshot', { type: 'boolean', default: false, group: 'Finding the leak:', describe: 'stream the object graph out and compute retained sizes (dominator tree); saved as snapshot.pyheap' });
}
