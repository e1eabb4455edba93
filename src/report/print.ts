// What a run shows: the census table (report/tables.ts), the findings and the script's output for
// people, or the one JSON document for programs (report/document.ts); several runs are compared
// side by side (report/compare.ts). Returns the exit code.
import { EXIT, PyheapError, type ExitCode } from '../core/errors.js';
import type { Printer } from '../core/printer.js';
import { censusTable } from './tables.js';
import { humanSize } from '../core/units.js';
import type { Memory } from '../inject/protocol.js';
import { findingsText } from './findings.js';
import { renderAnalysis } from '../analysis/command.js';
import type { RunResult } from '../collect/collect.js';
import { comparisonTable } from './compare.js';
import type { KubeRunOutcome } from '../run/pod.js';
import path from 'node:path';
import { reportUrl, saveReport } from './html/write.js';
import { podSubject, runDocument, type Subject } from './document.js';

export interface ReportOptions {
  mode: 'census' | 'script';
  json: boolean;
  top: number;
}

/** What the run cost the target, in resident memory (sampled by the agent every 50 ms). */
export function memoryLine(m: Memory): string {
  const extra = Math.max(0, m.rssPeak - m.rssBefore);
  return `target memory: RSS ${humanSize(m.rssBefore)} before, ${humanSize(m.rssAfter)} after; peak ${humanSize(m.rssPeak)} (+${humanSize(extra)}) while the payload ran`;
}

function exitOf(r: RunResult): ExitCode {
  return r.status.status === 'timeout' ? EXIT.timeout : r.status.status !== 'ok' ? EXIT.payloadRaised : EXIT.ok;
}

/** One run: the table (or the script's output) and its errors; returns the exit code. */
export function reportRun(r: RunResult, s: Subject, o: ReportOptions, printer: Printer): number {
  const page = r.census ? saveReport(r.outDir, runDocument(r, s, o.mode), (m) => printer.warning(m)) : undefined;
  if (o.json) {
    printer.json(runDocument(r, s, o.mode));
    return exitOf(r);
  }
  if (r.census) {
    printer.result(censusTable(r.census, r.status.python, s.label, o.top));
    const more = findingsText(r.census, o.top);
    if (more) printer.result(`\n${more}`);
    if (r.retained) printer.result(`\n${renderAnalysis(r.retained, o.top)}`);
    if (r.memory) printer.note(memoryLine(r.memory));
    printer.note(`full results saved in ${r.outDir}`);
  }
  if (o.mode === 'script') {
    if (r.stdout) printer.result(r.stdout);
    if (r.stderr) printer.log(r.stderr.replace(/\n$/, ''));
    if (r.files.length) printer.note(`${r.files.length} file(s) from PYHEAP_OUT saved in ${r.outDir}: ${r.files.slice(0, 10).join(', ')}${r.files.length > 10 ? ', ...' : ''}`);
  }
  if (r.status.status === 'timeout') {
    printer.error(
      new PyheapError('payload', r.status.exception?.message ?? 'the payload reached --timeout', {
        hint: o.mode === 'census' ? 'raise --timeout' : 'raise --timeout, or make the code do less',
        exitCode: EXIT.timeout,
      }),
    );
    return EXIT.timeout;
  }
  if (r.status.status !== 'ok') {
    const ex = r.status.exception;
    if (ex) printer.log(ex.traceback);
    printer.error(
      new PyheapError('payload', `the injected code raised ${ex?.type ?? 'an exception'}${ex?.message ? `: ${ex.message.split('\n')[0]}` : ''}`, {
        hint: o.mode === 'census' ? 'run again with -v and report it' : scriptHint(ex?.type),
        exitCode: EXIT.payloadRaised,
      }),
    );
    return EXIT.payloadRaised;
  }
  if (page) printer.note(`report: ${reportUrl(page)}`);
  return EXIT.ok;
}

/** What to do when injected code raised: a NameError is most often a global of the application,
 * which injected code does not see (it runs in a namespace of its own, and leaves no name behind). */
function scriptHint(type: string | undefined): string {
  if (type === 'NameError')
    return 'the target is unharmed; injected code runs in a namespace of its own, not in __main__\'s: reach the application\'s globals with import __main__ (__main__.NAME) or sys.modules["app.module"].NAME';
  return 'the target is unharmed; fix the code and run again';
}

const failureCode = (e: unknown) => (e instanceof PyheapError ? e.exitCode : EXIT.internal);

/** Several runs: the comparison (or each script's output), then every failure. */
export function reportRuns(out: KubeRunOutcome, target: string, o: ReportOptions, printer: Printer, verbose: boolean): number {
  const results = [...out.results].sort((a, b) => `${a.pod.name} ${a.process.pid}`.localeCompare(`${b.pod.name} ${b.process.pid}`, 'en', { numeric: true }));
  const codes = [...results.map(exitOf), ...out.failures.map((f) => failureCode(f.error))];
  const code = out.failures.length ? failureCode(out.failures[0]!.error) : (codes.find((c) => c !== EXIT.ok) ?? EXIT.ok);
  const doc = {
    target,
    runs: results.map((r) => runDocument(r, podSubject(r, target), o.mode)),
    failures: out.failures.map((f) => ({
      target: f.label,
      error: f.error instanceof Error ? f.error.message : String(f.error),
      exit_code: failureCode(f.error),
      stage: f.error instanceof PyheapError ? f.error.stage : null,
    })),
  };
  // each replica's page in its directory, the fleet's beside them
  const warn = (m: string) => printer.warning(m);
  if (o.mode === 'census')
    results.forEach((r, i) => {
      if (r.census) saveReport(r.outDir, doc.runs[i], warn);
    });
  const page = o.mode === 'census' && results.length ? saveReport(path.dirname(results[0]!.outDir), doc, warn) : undefined;
  if (o.json) {
    printer.json(doc);
    return code;
  }
  if (o.mode === 'census') {
    printer.result(
      comparisonTable(
        results.map((r) => ({
          label: `${r.pod.namespace}/${r.pod.name}${results.some((x) => x !== r && x.pod.name === r.pod.name) ? ` pid ${r.process.pid}` : ''}`,
          detail: `node ${r.pod.node}, pid ${r.process.pid}${r.status.python ? `, Python ${r.status.python.version}` : ''}${r.status.status !== 'ok' ? `, ${r.status.status}` : ''}`,
          ...(r.census ? { census: r.census } : {}),
        })),
        o.top,
      ),
    );
  } else {
    for (const r of results) {
      printer.result(`=== pod ${r.pod.namespace}/${r.pod.name} pid ${r.process.pid}: ${r.status.status}`);
      if (r.stdout) printer.result(r.stdout);
      if (r.stderr) printer.log(r.stderr.replace(/\n$/, ''));
    }
  }
  if (results.length) printer.note(`full results saved in ${results.map((r) => r.outDir).join(', ')}`);
  for (const f of out.failures) {
    if (f.error instanceof PyheapError)
      printer.error(new PyheapError(f.error.stage, `${f.label}: ${f.error.message}`, { ...(f.error.hint ? { hint: f.error.hint } : {}), exitCode: f.error.exitCode, cause: f.error }), verbose);
    else printer.error(f.error, verbose);
  }
  if (page) printer.note(`report: ${reportUrl(page)}`);
  return code;
}
