// kubectl-pyheap: the command line. Parses flags into a config (Complete: cli/flags.ts), checks
// it (Validate: cli/validate.ts), runs the pipeline (Run) and prints; the only place that prints
// errors and exits.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { Cleanup, onInterrupt } from '../core/cleanup.js';
import { parseDuration } from '../core/duration.js';
import { EXIT, EXIT_CODES_HELP, PyheapError, usageError } from '../core/errors.js';
import { Printer } from '../core/printer.js';
import { createProgress } from '../core/progress.js';
import { runLocal, type RunConfig } from '../run/local.js';
import type { RunSettings, Tasks } from '../inject/request.js';
import { targetLabel, type Target } from '../target/target.js';
import { addFlags, ANALYZE_FLAGS, KUBE_FLAGS, kubeFlags, RUN_FLAGS, type AnalyzeFlags, type Flags } from './flags.js';
import { validate } from './validate.js';
import { reportRun } from '../report/print.js';

function parser(argv: string[]) {
  return addFlags(
    addFlags(
      yargs(argv)
        .scriptName('kubectl pyheap')
        .usage(
          'Usage: $0 TARGET [flags]\n\nLook inside the heap of a live Python process without restarting it.\nTARGET is a pod (POD, pod/NAME), a workload (deploy/NAME, sts/NAME, ds/NAME), -l SELECTOR,\nor pid/<PID> for a process on this machine.',
        )
        .command('$0 [target]', false)
        .positional('target', { type: 'string', describe: 'what to inspect: POD, pod/NAME, deploy/NAME, sts/NAME, ds/NAME or pid/<PID>' }),
      KUBE_FLAGS,
    ),
    RUN_FLAGS,
  )
    .command('analyze <file>', 'retained sizes of a saved snapshot.pyheap, offline (-o json, --top)')
    .example('$0 web-7d9f-x2x4k -n shop', 'heap summary of the Python process of a pod')
    .example('$0 deploy/web --all-pods', 'every pod of a deployment, side by side')
    .example('$0 --cleanup', 'delete agent pods left behind by killed runs')
    .example('$0 pid/4242', 'heap summary of process 4242')
    .example('$0 pid/4242 -o json --top 50', 'the same as one JSON document')
    .example('$0 pid/4242 --script leak.py', 'run leak.py inside the process')
    .example('$0 deploy/web --growth 60s', 'what grew in a minute, and what holds it')
    .example('$0 analyze pyheap-pod-web-1-.../snapshot.pyheap', 'retained sizes of a saved snapshot')
    .epilogue(`Exit codes:\n${EXIT_CODES_HELP}`)
    .strictOptions()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? usageError(msg.replace(/\n/g, ' '), 'see kubectl pyheap --help');
    });
}

async function scriptFile(f: Flags, cleanup: Cleanup): Promise<{ file?: string; name?: string }> {
  if (f.exec !== undefined) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pyheap-exec-'));
    cleanup.add('remove the --exec file', () => fs.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'exec.py');
    await fs.writeFile(file, f.exec, { mode: 0o600 });
    return { file, name: 'exec' };
  }
  if (f.script === undefined) return {};
  const file = path.resolve(f.script);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw usageError(`cannot read --script ${f.script} (${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code})`, 'give the path of a Python file');
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw usageError(`--script ${f.script} is not UTF-8 text`, 'save it as UTF-8');
  }
  return { file, name: path.basename(file) };
}

/** A new directory named `base`, or base-2, base-3, ... if that one exists. */
async function freshDir(base: string): Promise<string> {
  for (let i = 1; ; i++) {
    const dir = path.resolve(i === 1 ? base : `${base}-${i}`);
    try {
      await fs.mkdir(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i > 1000) throw e;
    }
  }
}

/** --out-dir DIR: a new directory, or an empty one; one that holds files (an earlier run's
 * results, say) is refused before anything touches the target: nothing is overwritten or mixed.
 * Returns whether DIR exists already. */
async function usableOutDir(given: string, dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    if (e.code === 'ENOTDIR') throw usageError(`--out-dir ${given} is a file, not a directory`, 'give a new or empty directory');
    throw usageError(`cannot use --out-dir ${given} (${e.code})`, 'give a new or empty directory that you can write to');
  });
  if (entries === undefined) return false;
  if (entries.length) {
    const shown = entries.sort().slice(0, 3).join(', ') + (entries.length > 3 ? ', ...' : '');
    throw usageError(
      `--out-dir ${given} already holds files (${shown}), from an earlier run perhaps`,
      'give a new or empty directory, or leave --out-dir out to save in a fresh ./pyheap-<target>-<time>/',
    );
  }
  return true;
}

function stamp(d = new Date()): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '');
}

/** kubectl pyheap analyze FILE [-o json] [--top N]: offline, no target. */
async function analyzeMain(argv: string[], printer: Printer): Promise<number> {
  try {
    const a = (await addFlags(yargs(argv).scriptName('kubectl pyheap analyze').usage('Usage: $0 FILE [-o json] [--top N] [--html OUT]'), ANALYZE_FLAGS)
      .strictOptions()
      .help()
      .version(false)
      .exitProcess(false)
      .fail((msg, err) => {
        throw err ?? usageError(msg, 'see kubectl pyheap analyze --help');
      })
      .parseAsync()) as unknown as AnalyzeFlags;
    if (argv.includes('--help') || argv.includes('-h')) return EXIT.ok;
    const file = a._.length === 1 ? String(a._[0]) : undefined;
    if (!file) throw usageError('analyze needs one snapshot file', 'write kubectl pyheap analyze DIR/snapshot.pyheap');
    if (a.output !== 'table' && a.output !== 'json') throw usageError(`-o ${a.output} is not an output format`, 'use -o table or -o json');
    if (!Number.isInteger(a.top) || a.top < 1) throw usageError('--top must be a positive whole number');
    const html = a.html === undefined ? undefined : await (await import('../report/html/cli.js')).htmlTarget(a.html);
    const { analyzeFile, renderAnalysis } = await import('../analysis/command.js');
    const { DOMINATOR_NODES } = await import('../analysis/dominatorView.js');
    const result = await analyzeFile(file, { top: a.top, dominatorNodes: DOMINATOR_NODES });
    if (a.output === 'json') printer.json(result);
    else printer.result(renderAnalysis(result, a.top));
    if (html) printer.note(`report: ${(await import('../report/html/cli.js')).writeHtml(html, result)}`);
    return EXIT.ok;
  } catch (e) {
    printer.error(e);
    return e instanceof PyheapError ? e.exitCode : EXIT.internal;
  }
}

export async function main(argv: string[], printer: Printer): Promise<number> {
  if (argv[0] === 'analyze') return analyzeMain(argv.slice(1), printer);
  let flags: Flags;
  let target: Target | undefined;
  try {
    const y = parser(argv);
    const parsed = (await y.parseAsync()) as unknown as Flags & { help?: boolean };
    if (parsed.help || argv.includes('--help') || argv.includes('-h')) return EXIT.ok;
    flags = parsed;
    target = validate(flags);
  } catch (e) {
    printer.error(e);
    return e instanceof PyheapError ? e.exitCode : EXIT.usage;
  }
  const verbose = flags.verbose;
  const json = flags.output === 'json';
  // plain lines on a terminal of 0 columns (a pty nobody sized: script(1), some CI runners), where
  // a spinner cannot measure its lines (ora then clears lines without end), and on TERM=dumb,
  // where ora would show the first step only (as it does wherever CI is set: is-interactive)
  const spins = printer.streams.errIsTTY && (process.stderr.columns ?? 0) > 0 && process.env.TERM !== 'dumb' && !('CI' in process.env);
  const progress = createProgress(json ? 'silent' : spins ? 'spinner' : 'plain', printer);
  const cleanup = new Cleanup();
  let interrupted: NodeJS.Signals | undefined;
  let wakeInterrupt: () => void = () => {};
  const interruptedP = new Promise<void>((r) => {
    wakeInterrupt = r;
  });
  const uninstall = onInterrupt((sig) => {
    interrupted = sig;
    wakeInterrupt();
  });
  const transcript = (l: string) => {
    if (verbose) printer.log(l);
  };
  // a question must not be drawn over by the spinner: stop it first (the next event restarts it)
  const asking = (q: string, choices: string[]) => {
    progress.stop(true);
    return ask(q, choices);
  };
  const kube = { printer, progress, cleanup, json, top: flags.top, verbose, ...(interactive(flags, printer) ? { ask: asking } : {}) };
  try {
    const work = (async (): Promise<number> => {
      if (!target) return (await import('./kube.js')).cleanupCommand(kubeFlags(flags), kube);
      const settings = await runSettings(flags, cleanup);
      const userDir = flags['out-dir'] ? path.resolve(flags['out-dir']) : undefined;
      const ownsOutDir = userDir === undefined || !(await usableOutDir(flags['out-dir']!, userDir));
      const outDir = async () => userDir ?? (await freshDir(`pyheap-${targetLabel(target)}-${stamp()}`));
      if (target.kind !== 'pid') {
        const cmd = await import('./kube.js');
        const { defaultAgentImage } = await import('../agentpod/manifest.js');
        const input = {
          target,
          allPods: flags['all-pods'],
          allProcesses: flags['all-processes'],
          ...(flags.container !== undefined ? { container: flags.container } : {}),
          ...(flags.pid !== undefined ? { pid: flags.pid } : {}),
          image: flags.image ?? defaultAgentImage(),
          ...(flags['agent-namespace'] !== undefined ? { agentNamespace: flags['agent-namespace'] } : {}),
          ...(flags['image-pull-secret'] !== undefined ? { imagePullSecret: flags['image-pull-secret'] } : {}),
          startTimeoutMs: parseDuration(flags['start-timeout'], '--start-timeout'),
          outDir: '',
          ownsOutDir,
          ...settings,
        };
        if (flags['dry-run']) return cmd.dryRunCommand(kubeFlags(flags), input, kube);
        const dir = await outDir();
        // a run that fails before any results arrive (no cluster, RBAC, no such pod...) leaves no
        // directory: the name was only reserved; one that holds results stays
        if (ownsOutDir) cleanup.add('remove the output directory if nothing arrived', () => fs.rmdir(dir).catch(() => undefined));
        return await cmd.runCommand(kubeFlags(flags), { ...input, outDir: dir }, kube, transcript);
      }
      const cfg: RunConfig = { ...settings, target, outDir: await outDir(), ownsOutDir };
      const result = await runLocal(cfg, { progress, cleanup, transcript });
      progress.stop(true);
      const label = `pid/${target.pid}`;
      return reportRun(result, { label, target: label, hostPid: target.pid }, { mode: cfg.mode, json, top: flags.top }, printer);
    })();
    const code = await Promise.race([work, interruptedP.then(() => undefined)]);
    if (code === undefined) {
      await cleanup.run();
      await work.catch(() => undefined);
      throw new PyheapError('cleanup', `interrupted by ${interrupted}${interrupted === 'SIGHUP' ? ' (the terminal closed)' : ''}; the target was left running and untouched`, {
        exitCode: EXIT.interrupted,
      });
    }
    return code;
  } catch (e) {
    progress.stop(false);
    printer.error(e, verbose);
    return e instanceof PyheapError ? e.exitCode : EXIT.internal;
  } finally {
    const errors = await cleanup.run();
    for (const err of errors) printer.warning(err.message);
    uninstall();
  }
}

async function runSettings(flags: Flags, cleanup: Cleanup): Promise<RunSettings> {
  const timeoutMs = parseDuration(flags.timeout, '--timeout');
  const safepointMs = parseDuration(flags['safepoint-wait'], '--safepoint-wait');
  const script = await scriptFile(flags, cleanup);
  const seconds = (v: string | undefined, flag: string) => (v === undefined ? undefined : Math.max(1, Math.round(parseDuration(v, flag) / 1000)));
  const tasks: Tasks = {
    ...(flags.growth !== undefined ? { growthSeconds: seconds(flags.growth, '--growth')! } : {}),
    ...(flags.trace !== undefined ? { traceSeconds: seconds(flags.trace, '--trace')! } : {}),
    ...(flags.referrers?.length ? { referrers: flags.referrers } : {}),
    ...(flags.referrers?.length || flags.growth !== undefined ? { samples: flags.samples } : {}),
    ...(flags.stacks ? { stacks: true } : {}),
    ...(flags.snapshot ? { snapshot: true } : {}),
  };
  return {
    mode: script.file ? 'script' : 'census',
    ...(script.file ? { scriptFile: script.file, scriptName: script.name } : {}),
    ...(Object.keys(tasks).length ? { tasks } : {}),
    top: flags.top,
    ...(flags['allow-shared'] ? { allowShared: true } : {}),
    timeoutMs,
    largest: flags.largest,
    safepointWaitSeconds: Math.max(1, Math.ceil(safepointMs / 1000)),
    maxResultBytes: 4 * 1024 ** 3,
    verbose: flags.verbose,
  };
}

/** A person at a terminal can be asked (which container?); anything else gets an error. */
function interactive(f: Flags, printer: Printer): boolean {
  return f.output !== 'json' && Boolean(process.stdin.isTTY) && printer.streams.errIsTTY;
}

async function ask(question: string, choices: string[]): Promise<string | undefined> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} ${choices.map((c, i) => `${i + 1}) ${c}`).join('  ')}: `)).trim();
    return choices[Number(answer) - 1] ?? (choices.includes(answer) ? answer : undefined);
  } finally {
    rl.close();
  }
}

/** The program: the process's own streams, and its exit code. */
export async function cliMain(argv: string[]): Promise<void> {
  // a closed terminal (EIO) or a reader that went away (EPIPE, `| head`) must not crash the run
  // before its cleanup: what cannot be shown is dropped
  for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
  const printer = new Printer({
    out: process.stdout,
    err: process.stderr,
    errIsTTY: Boolean(process.stderr.isTTY),
    color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
  });
  process.exitCode = await main(argv, printer);
}
