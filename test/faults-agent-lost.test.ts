// The fault matrix, rows where the agent is lost mid-run: its pod evicted or deleted, or the
// agent frozen (gone silent) until the run's own bound hits (pod and pid/N). Each waits about a
// minute (the run's bound), so they share one clock.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { startCluster, withFixtures } from '../tools/cluster/index.js';
import { FIXTURES } from './support/cli.js';
import { startContainer } from './support/container.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { call } from './support/kube.js';
import { assertNoAgentPods, containerPid, fixture, settleZombies, type KubeFixture } from './kube-support.js';
import { procState } from './support/proc.js';
import { assertAftermath, descendant, printMatrix, sleep, startCli, stopRuns, threadsOf, tracerOf, until, type Aftermath } from './faults-support.js';

const skip = ptraceSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-faults-lost-'));
const agentTmp = path.join(scratch, 'agent-tmp');
const pidTmp = path.join(scratch, 'pid-agent-tmp'); // TMPDIR of a pid/N run, and so of its agent
let f: KubeFixture;
const pod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: withFixtures({ restartPolicy: 'Never', containers: [{ name: 'py', image: 'python:3.13', command: ['python', '/app/census_target.py', '10', '1'], securityContext: { runAsUser: 1000 } }] }),
});
// one thread looping without allocating (gdb waits for a safe point), and a SIGUSR1 handler
// that allocates: what the target does next, after the run
const SPIN = 'import signal\nseen = []\nsignal.signal(signal.SIGUSR1, lambda *a: seen.append([object() for _ in range(99)] + [bytearray(99999)]))\nwhile True:\n    pass';
const spinner = { ...pod('spinner'), spec: { restartPolicy: 'Never', containers: [{ name: 'py', image: 'python:3.13', command: ['python', '-c', SPIN], securityContext: { runAsUser: 1000 } }] } };
/** Checks still waiting for the payload to clean up after itself (--timeout + 60 s). */
const deferred: Promise<void>[] = [];
// how long a target may take to be clean: its agent cleans up in the pod's grace period, and a
// payload whose agent never came back would remove its files itself after --timeout + 61 s
const LINGER_MS = 20_000 + 61_000 + 15_000;

/** A run against a pod. A payload that must still be at work when its agent is lost gets a
 * --timeout with room for a slow machine (20s); a frozen agent's run keeps 1s (its bound,
 * --timeout + --safepoint-wait + 60 s, is what the row waits for). */
function run(target: string, args: string[], timeout = '20s') {
  const outDir = f.out();
  return { outDir, cli: startCli(['--kubeconfig', f.cluster.kubeconfigPath, target, '--out-dir', outDir, '--timeout', timeout, ...args]) };
}
async function target(name: string): Promise<{ pid: number; threads: number }> {
  const pid = await containerPid(f, name);
  await until(`pod ${name} to be ready`, () => threadsOf(pid) === 2);
  return { pid, threads: 2 };
}

before(async () => {
  if (skip) return;
  mkdirSync(agentTmp);
  mkdirSync(pidTmp);
  const cluster = await startCluster({ switches: { agentStartDelayMs: 50, agentTmpDir: agentTmp }, objects: [pod('evictee'), pod('orphan'), pod('mute'), spinner] });
  f = fixture(cluster, scratch);
});
afterEach(stopRuns);
after(async () => {
  await f?.cluster.stop();
  await settleZombies();
  printMatrix('fault matrix, agent lost (faults-agent-lost.test.ts)');
  rmSync(scratch, { recursive: true, force: true });
});

describe('fault matrix: the agent lost mid-run', { skip, timeout: 240_000 }, () => {
  /** A /tmp of the row's own for the agents started from now on: a row checked later (its
   * check deferred) must not see the work directory of the agent of a row running meanwhile. */
  async function rowTmp(row: string): Promise<string> {
    const dir = path.join(scratch, `agent-tmp-${row}`);
    mkdirSync(dir);
    await f.cluster.setSwitches({ agentTmpDir: dir });
    return dir;
  }

  /** What can be checked at once is; the target's directories and threads once they are clean
   * (within LINGER_MS), checked by the last test so that the waits overlap. */
  async function lost(a: Aftermath): Promise<void> {
    await assertNoAgentPods(f);
    const check = assertAftermath({ ...a, target: { ...a.target!, waitMs: LINGER_MS } });
    check.catch(() => undefined); // reported by the last test, which awaits it
    deferred.push(check);
  }

  it("pid/N: the agent gone silent (frozen) until the run's bound (checked last)", async () => {
    const t = await startContainer({ python: findInterpreters().at(-1)!, script: path.join(FIXTURES, 'census_target.py'), args: ['10', '1'], uid: 1000 });
    const outDir = f.out();
    const cli = startCli([`pid/${t.pid}`, '--out-dir', outDir, '--exec', 'import time; time.sleep(0.5)', '--timeout', '1s', '--safepoint-wait', '1s'], { TMPDIR: pidTmp }, { outlivesTest: true });
    const frozen = (async () => {
      await cli.line(/^payload thread started/);
      const agent = descendant([cli.child.pid!], (argv) => argv[0] === 'sh' && /\/agent\.sh$/.test(argv[1] ?? ''));
      assert.ok(agent, 'agent.sh');
      process.kill(agent, 'SIGSTOP');
      // at the bound the run asks its agent to stop, and to go on (SIGCONT after SIGTERM)
      const result = await cli.done.finally(() => {
        try {
          process.kill(agent, 'SIGCONT');
        } catch {
          /* gone */
        }
      });
      await assertAftermath({
        fault: 'agent gone silent (SIGSTOP)',
        stage: 'payload running (pid/N)',
        result,
        code: 6,
        error: /the agent gave no result within 62s and was stopped/,
        target: { pid: t.pid, threads: 2 },
        agentTmp: pidTmp,
        outDir,
        note: 'resumed and stopped gently',
      });
    })().finally(() => t.stop());
    frozen.catch(() => undefined); // reported by the last test, which awaits it
    deferred.push(frozen);
  });

  it('the agent pod evicted while the payload runs', async () => {
    const t = await target('evictee');
    const agentTmp = await rowTmp('evicted');
    await f.cluster.setSwitches({ execStderrFault: { text: 'PYHEAP injected', action: 'evict' } });
    try {
      const { cli, outDir } = run('evictee', ['--exec', 'import time; time.sleep(1)']);
      await lost({
        fault: 'agent pod evicted',
        stage: 'payload running',
        result: await cli.done,
        code: 9,
        error: /the agent pod pyheap-agent-\w+ was evicted from its node while the agent was at work \(Evicted: The node was low on resource: memory/,
        target: t,
        agentTmp,
        outDir,
        note: 'the agent cleaned up in its grace period',
      });
    } finally {
      await f.cluster.setSwitches({ execStderrFault: null });
    }
  });

  it('the agent pod deleted while the payload runs', async () => {
    const t = await target('orphan');
    const agentTmp = await rowTmp('deleted');
    const { cli, outDir } = run('orphan', ['--exec', 'import time; time.sleep(1)']);
    await cli.line(/^payload thread started/);
    const name = (await f.cluster.containers()).find((c) => c.agent)?.pod;
    assert.ok(name, 'the agent pod');
    assert.equal((await call(f.k, 'DELETE', `/api/v1/namespaces/default/pods/${name}`)).code, 200);
    await lost({
      fault: 'agent pod deleted',
      stage: 'payload running',
      result: await cli.done,
      code: 9,
      error: /the agent pod pyheap-agent-\w+ was deleted while the agent was at work/,
      target: t,
      agentTmp,
      outDir,
      note: 'the agent cleaned up in its grace period',
    });
  });

  it("the node's agent gone silent (frozen) until the run's bound", async () => {
    const t = await target('mute');
    const agentTmp = await rowTmp('mute');
    const { cli, outDir } = run('mute', ['--exec', 'import time; time.sleep(0.5)', '--safepoint-wait', '1s'], '1s');
    await cli.line(/^payload thread started/);
    const execs = (await f.cluster.containers()).filter((c) => c.agent).flatMap((c) => c.execPids);
    const agent = descendant(execs, (argv) => argv[0] === 'sh' && /\/agent\.sh$/.test(argv[1] ?? ''));
    assert.ok(agent, 'agent.sh in the agent pod');
    process.kill(agent, 'SIGSTOP');
    // the bound (--timeout + --safepoint-wait + 60 s) hits: the run asks the agent to stop (and
    // to go on: SIGCONT after SIGTERM), which it does, the gentle way
    const result = await cli.done.finally(() => {
      try {
        process.kill(agent, 'SIGCONT');
      } catch {
        /* gone */
      }
    });
    await assertAftermath({
      fault: 'agent gone silent (SIGSTOP)',
      stage: 'payload running',
      result,
      code: 6,
      error: /the agent gave no result within 62s and was stopped/,
      target: t,
      agentTmp,
      kube: f,
      outDir,
      note: 'resumed and stopped gently',
    });
  });

  /** A run on the spinner, its agent pod deleted (forced, grace 0) while gdb waits with its
   * breakpoint in the target for a safe point; then the target allocates (its SIGUSR1 handler). */
  async function deleteWhileWaiting(): Promise<{ pid: number; result: Awaited<ReturnType<typeof startCli>['done']>; outDir: string }> {
    const pid = await containerPid(f, 'spinner');
    await until('the spinner to be ready', () => threadsOf(pid) === 1);
    const { cli, outDir } = run('spinner', ['--safepoint-wait', '10s']);
    await cli.line(/^injecting with gdb/);
    await until('gdb to attach and wait', () => tracerOf(pid) !== 0 && procState(pid)?.state === 'R');
    const name = (await f.cluster.containers()).find((c) => c.agent)?.pod;
    assert.equal((await call(f.k, 'DELETE', `/api/v1/namespaces/default/pods/${name}?gracePeriodSeconds=0`)).code, 200);
    const result = await cli.done;
    process.kill(pid, 'SIGUSR1'); // the target goes on: its handler allocates
    await sleep(500);
    return { pid, result, outDir };
  }

  it('the agent pod deleted (forced, grace 0) while gdb waits for a safe point', async () => {
    const agentTmp = await rowTmp('forced');
    const { pid, result, outDir } = await deleteWhileWaiting();
    // the kubelet's SIGTERM (it gives even a forced delete 2 s) reaches the agent through the
    // container's own process: gdb takes its breakpoint out and detaches
    await assertAftermath({
      fault: 'agent pod deleted (forced)',
      stage: 'gdb attached',
      result,
      code: 9,
      error: /the agent pod pyheap-agent-\w+ was deleted while the agent was at work/,
      target: { pid, threads: 1 },
      agentTmp,
      kube: f,
      outDir,
      note: 'gdb detached within the 2 s grace',
    });
  });

  it('the agent SIGKILLed with no grace (OOM killer, old kubelet hard eviction) while gdb waits for a safe point', {
    todo: 'nothing can clean up after a SIGKILL: the breakpoint gdb left in the target turns its next allocation into a SIGTRAP (documented in the README, Safety: known limits)',
  }, async () => {
    const killedTmp = await rowTmp('killed');
    await f.cluster.setSwitches({ hardKill: true });
    try {
      const { pid, result, outDir } = await deleteWhileWaiting();
      await assertAftermath({
        fault: 'agent pod SIGKILLed',
        stage: 'gdb attached',
        result,
        code: 9,
        error: /was deleted while the agent was at work/,
        target: { pid, threads: 1 },
        agentTmp: killedTmp,
        agentKilled: true,
        kube: f,
        outDir,
      });
    } finally {
      await f.cluster.setSwitches({ hardKill: false });
    }
  });

  it('nothing of the lost agents stays in their targets', async () => {
    await Promise.all(deferred);
  });
});
