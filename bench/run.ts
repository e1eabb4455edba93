// npm run bench: every speed and memory claim, measured as a ratio against a baseline that runs
// in the same process of the same run. Not part of npm test (no wall-clock limit is asserted).
import { execFileSync, spawnSync } from 'node:child_process';
import { findInterpreters } from '../test/support/pythons.js';
import { whyNoPtrace } from '../test/support/ptrace.js';
import { runCensusBench } from './census.js';
import { runPauseBench } from './pause.js';
import { runSoakBench } from './soak.js';
import { runFindingsBench } from './findings.js';
import { runDominatorBench } from './dominators.js';
import { runArm64Bench } from './arm64.js';
import { runReportBench } from './report.js';

const why = whyNoPtrace();
if (why) {
  process.stderr.write(`bench: cannot run: ${why}\n`);
  process.exit(1);
}
const pythons = findInterpreters();
const py311 = pythons.find((p) => p.label.startsWith('pyenv-3.11')) ?? pythons.filter((p) => p.label.startsWith('pyenv')).at(-1) ?? pythons[0]!;
const debian = pythons.find((p) => p.label.startsWith('debian'));

function objgraphAvailable(): boolean {
  const has = () => spawnSync('/usr/bin/python3', ['-c', 'import objgraph'], { stdio: 'ignore' }).status === 0;
  if (has()) return true;
  try {
    // a baseline worth having: install it when we can (root, Debian archive reachable)
    execFileSync('apt-get', ['install', '-y', '-qq', 'python3-objgraph'], { stdio: 'ignore', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch {
    /* stays unavailable */
  }
  return has();
}

const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.includes(name);
// the emulated arm64 machine takes minutes to boot: only when asked for by name
const wantExplicit = (name: string) => only.includes(name);
const sections: string[] = [`kubectl-pyheap benchmarks, ${new Date().toISOString()}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores`];
const print = (s: string) => {
  sections.push(s);
  process.stdout.write(`${s}\n\n`);
};
process.stdout.write(`${sections[0]}\n\n`);

if (want('pause')) print(await runPauseBench(py311));
if (want('census')) print(await runCensusBench(py311, debian, debian ? objgraphAvailable() : false));
if (want('findings')) print(await runFindingsBench(py311));
if (want('dominators')) print(await runDominatorBench());
if (wantExplicit('arm64')) print(await runArm64Bench());
if (want('report')) print(await runReportBench());
if (want('soak')) print(await runSoakBench(pythons.filter((p) => p.label.startsWith('pyenv')).at(-1) ?? py311));
if (want('kube')) {
  try {
    const kube = (await import(['.', 'kube.js'].join('/'))) as { runKubeBench(): Promise<string> }; // written by the Kubernetes work
    print(await kube.runKubeBench());
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    print('kube: not available yet');
  }
}
