#!/usr/bin/env node
// kubectl-pyheap: the command line. Parses flags into a config (Complete), checks it
// (Validate), runs the pipeline (Run) and prints; the only place that prints errors and exits.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { Cleanup, onInterrupt } from './cleanup.js';
import { parseDuration } from './duration.js';
import { EXIT, EXIT_CODES_HELP, PyheapError, usageError } from './errors.js';
import { Printer } from './printer.js';
import { createProgress } from './progress.js';
import { censusTable } from './report.js';
import { runLocal, type RunConfig, type RunResult } from './run.js';
import { parseTarget, targetLabel } from './target.js';

interface Flags {
  target?: string;
  script?: string;
  exec?: string;
  output: string;
  top: number;
  largest: number;
  timeout: string;
  'safepoint-wait': string;
  'out-dir'?: string;
  verbose: boolean;
}

function parser(argv: string[]) {
  return yargs(argv)
    .scriptName('kubectl pyheap')
    .usage('Usage: $0 TARGET [flags]\n\nLook inside the heap of a live Python process without restarting it.\nTARGET is pid/<PID> for a process on this machine.')
    .command('$0 [target]', false)
    .positional('target', { type: 'string', describe: 'what to inspect: pid/<PID>' })
    .option('script', { type: 'string', describe: 'run this Python file inside the target (files it writes to PYHEAP_OUT come back)' })
    .option('exec', { type: 'string', describe: 'run this Python code inside the target' })
    .option('output', { alias: 'o', type: 'string', default: 'table', describe: 'table or json' })
    .option('top', { type: 'number', default: 25, describe: 'rows of the type table' })
    .option('largest', { type: 'number', default: 20, describe: 'how many of the largest objects to report' })
    .option('timeout', { type: 'string', default: '30s', describe: 'bound for the whole injection and payload (30s, 2m)' })
    .option('safepoint-wait', { type: 'string', default: '2s', describe: 'how long to wait for a busy target to reach a safe point' })
    .option('out-dir', { type: 'string', describe: 'where to save results (default ./pyheap-<target>-<time>/)' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'show the gdb transcript and stack traces' })
    .example('$0 pid/4242', 'heap summary of process 4242')
    .example('$0 pid/4242 -o json --top 50', 'the same as one JSON document')
    .example('$0 pid/4242 --script leak.py', 'run leak.py inside the process')
    .epilogue(`Exit codes:\n${EXIT_CODES_HELP}`)
    .strictOptions()
    .help()
    .alias('help', 'h')
    .version(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => { throw err ?? usageError(msg.replace(/\n/g, ' '), 'see kubectl pyheap --help'); });
}

/** Validate: pure checks of the flags, one sentence each. */
export function validate(f: Flags): void {
  if (!f.target) throw usageError('no TARGET given', 'write kubectl pyheap pid/<PID>');
  if (f.script !== undefined && f.exec !== undefined) throw usageError('--script and --exec cannot be used together', 'pick one');
  if (f.output !== 'table' && f.output !== 'json') throw usageError(`-o ${f.output} is not an output format`, 'use -o table or -o json');
  for (const k of ['top', 'largest'] as const) {
    if (!Number.isInteger(f[k]) || f[k] < 1 || f[k] > 100000) throw usageError(`--${k} must be a whole number from 1 to 100000`);
  }
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

function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
}

export async function main(argv: string[], printer: Printer): Promise<number> {
  let flags: Flags;
  try {
    const y = parser(argv);
    const parsed = (await y.parseAsync()) as unknown as Flags & { help?: boolean };
    if (parsed.help || argv.includes('--help') || argv.includes('-h')) return EXIT.ok;
    flags = parsed;
    validate(flags);
  } catch (e) {
    printer.error(e);
    return e instanceof PyheapError ? e.exitCode : EXIT.usage;
  }
  const verbose = flags.verbose;
  const json = flags.output === 'json';
  const progress = createProgress(json ? 'silent' : printer.streams.errIsTTY ? 'spinner' : 'plain', printer);
  const cleanup = new Cleanup();
  let interrupted: NodeJS.Signals | undefined;
  let wakeInterrupt: () => void = () => {};
  const interruptedP = new Promise<void>((r) => { wakeInterrupt = r; });
  const uninstall = onInterrupt((sig) => { interrupted = sig; wakeInterrupt(); });
  try {
    const target = parseTarget(flags.target!);
    const timeoutMs = parseDuration(flags.timeout, '--timeout');
    const safepointMs = parseDuration(flags['safepoint-wait'], '--safepoint-wait');
    const script = await scriptFile(flags, cleanup);
    const userDir = flags['out-dir'] ? path.resolve(flags['out-dir']) : undefined;
    const ownsOutDir = userDir === undefined || !(await fs.stat(userDir).then(() => true, () => false));
    const cfg: RunConfig = {
      target,
      mode: script.file ? 'script' : 'census',
      ...(script.file ? { scriptFile: script.file, scriptName: script.name } : {}),
      timeoutMs,
      largest: flags.largest,
      safepointWaitSeconds: Math.max(1, Math.ceil(safepointMs / 1000)),
      outDir: userDir ?? await freshDir(`pyheap-${targetLabel(target)}-${stamp()}`),
      ownsOutDir,
      maxResultBytes: 4 * 1024 ** 3,
      verbose,
    };
    const work = runLocal(cfg, { progress, cleanup, transcript: (l) => { if (verbose) printer.log(l); } });
    const result = await Promise.race([work, interruptedP.then(() => undefined)]);
    if (result === undefined) {
      await cleanup.run();
      await work.catch(() => undefined);
      throw new PyheapError('cleanup', `interrupted by ${interrupted}; the target was left running and untouched`, { exitCode: EXIT.interrupted });
    }
    progress.stop(true);
    return report(result, cfg, flags, printer);
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

function report(r: RunResult, cfg: RunConfig, f: Flags, printer: Printer): number {
  const label = `pid/${cfg.target.pid}`;
  const raised = r.status.status !== 'ok';
  if (f.output === 'json') {
    printer.json({
      target: label,
      run_id: r.status.run_id,
      python: r.status.python ? { ...r.status.python, pid: cfg.target.pid, namespace_pid: r.status.python.pid } : null,
      status: r.status.status,
      ...(r.census ? { total: r.census.total, types: r.census.types, largest: r.census.largest, gc: r.census.gc, census_seconds: r.census.census_seconds, notes: r.census.notes } : {}),
      ...(cfg.mode === 'script' ? { stdout: r.stdout, stderr: r.stderr, files: r.files } : {}),
      ...(r.status.exception ? { exception: r.status.exception } : {}),
      out_dir: r.outDir,
      elapsed_seconds: Number((r.elapsedMs / 1000).toFixed(3)),
    });
    return r.status.status === 'timeout' ? EXIT.timeout : raised ? EXIT.payloadRaised : EXIT.ok;
  }
  if (r.census) {
    printer.result(censusTable(r.census, r.status.python, label, f.top));
    printer.note(`full results saved in ${r.outDir}`);
  }
  if (cfg.mode === 'script') {
    if (r.stdout) printer.result(r.stdout);
    if (r.stderr) printer.log(r.stderr.replace(/\n$/, ''));
    if (r.files.length) printer.note(`${r.files.length} file(s) from PYHEAP_OUT saved in ${r.outDir}: ${r.files.slice(0, 10).join(', ')}${r.files.length > 10 ? ', ...' : ''}`);
  }
  if (r.status.status === 'timeout') {
    printer.error(new PyheapError('payload', r.status.exception?.message ?? 'the payload reached --timeout', {
      hint: cfg.mode === 'census' ? 'raise --timeout' : 'raise --timeout, or make the code do less', exitCode: EXIT.timeout }));
    return EXIT.timeout;
  }
  if (raised) {
    const ex = r.status.exception;
    if (ex) printer.log(ex.traceback);
    printer.error(new PyheapError('payload', `the injected code raised ${ex?.type ?? 'an exception'}${ex?.message ? `: ${ex.message.split('\n')[0]}` : ''}`, {
      hint: cfg.mode === 'census' ? 'run again with -v and report it' : 'the target is unharmed; fix the code and run again', exitCode: EXIT.payloadRaised }));
    return EXIT.payloadRaised;
  }
  return EXIT.ok;
}

const printer = new Printer({
  out: process.stdout,
  err: process.stderr,
  errIsTTY: Boolean(process.stderr.isTTY),
  color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
});
main(hideBin(process.argv), printer).then((code) => { process.exitCode = code; });
