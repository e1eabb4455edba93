// The agent's protocol (payloads/PROTOCOL.md): every line the agent and find_pids.sh print, read
// by the parsers of src/inject; and the document's error table, agent.sh's `fail CODE NAME` calls
// and the error names kubectl-pyheap knows, which must all be the same list.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EXIT } from '../../src/core/errors.js';
import { parseProcesses } from '../../src/inject/pids.js';
import { AGENT_ERRORS, AgentListener, agentError, parseAgentLine } from '../../src/inject/protocol.js';
import type { ProgressEvent } from '../../src/core/progress.js';
import { PAYLOADS } from '../support/cli.js';

const doc = readFileSync(path.join(PAYLOADS, 'PROTOCOL.md'), 'utf8');
const agentSh = readFileSync(path.join(PAYLOADS, 'shell', 'agent.sh'), 'utf8');

/** The rows of the markdown table under `## heading`. */
function table(heading: string): string[][] {
  const section = doc.split(/^## /m).find((s) => s.startsWith(heading));
  assert.ok(section, `PROTOCOL.md has a section ${heading}`);
  return section
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| ---'))
    .slice(1)
    .map((l) =>
      l
        .replace(/\\\|/g, '/')
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

describe("the agent's lines", () => {
  it('events, the run id, the memory, the result: what each line is read as', () => {
    assert.deepEqual(parseAgentLine('PYHEAP python /usr/lib/libpython3.12.so.1.0'), { kind: 'event', event: { kind: 'python', file: '/usr/lib/libpython3.12.so.1.0' } });
    assert.deepEqual(parseAgentLine('PYHEAP staged /tmp/.pyheap-ab12'), { kind: 'event', event: { kind: 'staged', dir: '/tmp/.pyheap-ab12' } });
    assert.deepEqual(parseAgentLine('PYHEAP injecting 13.1'), { kind: 'event', event: { kind: 'injecting', gdb: '13.1' } });
    assert.deepEqual(parseAgentLine('PYHEAP injecting'), { kind: 'event', event: { kind: 'injecting' } });
    assert.deepEqual(parseAgentLine('PYHEAP injected 4242 232'), { kind: 'event', event: { kind: 'injected', detail: 'borrowed thread 4242, idle in epoll_wait' } });
    assert.deepEqual(parseAgentLine('PYHEAP injected 4242 -1'), { kind: 'event', event: { kind: 'injected', detail: 'borrowed thread 4242 at the entry of PyObject_Malloc' } });
    assert.deepEqual(parseAgentLine('PYHEAP finished'), { kind: 'event', event: { kind: 'running' } });
    assert.deepEqual(parseAgentLine('PYHEAP run k3j2h1g0'), { kind: 'run', id: 'k3j2h1g0' });
    assert.deepEqual(parseAgentLine('PYHEAP memory 1000 2000 3000'), { kind: 'memory', memory: { rssBefore: 1000, rssAfter: 2000, rssPeak: 3000 } });
    assert.deepEqual(parseAgentLine('PYHEAP result 10240 abcdef'), { kind: 'result', bytes: 10240, sha256: 'abcdef' });
    assert.deepEqual(parseAgentLine('gdb: Attaching to process 42'), { kind: 'gdb', text: 'Attaching to process 42' });
    assert.deepEqual(parseAgentLine('tar: something odd'), { kind: 'other', text: 'tar: something odd' });
    assert.deepEqual(parseAgentLine('PYHEAP frobnicated 1'), { kind: 'other', text: 'PYHEAP frobnicated 1' });
    const shared = parseAgentLine('PYHEAP shared-heap 104857600 17');
    assert.equal(shared.kind, 'event');
    assert.match(shared.kind === 'event' && shared.event.kind === 'notice' ? shared.event.text : '', /shares 100 MiB of heap with its parent 17/);
  });

  it('an error line: its name decides the exit code, the stage and the hint; the detail is the message', () => {
    const e = agentError('12 ptrace-refused the kernel refused ptrace access to process 42');
    assert.equal(e.exitCode, EXIT.permission);
    assert.equal(e.stage, 'inject');
    assert.equal(e.message, 'the kernel refused ptrace access to process 42');
    assert.match(e.hint ?? '', /CAP_SYS_PTRACE/);
    const unknown = agentError('20 frobnication-failed it broke');
    assert.equal(unknown.exitCode, EXIT.internal);
    assert.equal(unknown.message, 'it broke');
    assert.equal(agentError('garbage').message, 'garbage');
  });

  it('the listener: events to the hooks, the rest kept for the exit', () => {
    const events: ProgressEvent[] = [];
    const transcript: string[] = [];
    const l = new AgentListener({ onEvent: (e) => events.push(e), onTranscript: (t) => transcript.push(t) });
    for (const line of ['PYHEAP injecting 14.2', 'gdb: attached', 'PYHEAP run r1', 'noise', 'PYHEAP memory 1 2 3', 'PYHEAP result 5 ff', 'PYHEAP error 16 payload-timeout too slow']) l.line(line);
    const exit = l.exit(16);
    assert.deepEqual(events, [{ kind: 'injecting', gdb: '14.2' }]);
    assert.deepEqual(transcript, ['gdb: attached']);
    assert.equal(exit.code, 16);
    assert.equal(exit.gdb, '14.2');
    assert.equal(exit.runId, 'r1');
    assert.deepEqual(exit.memory, { rssBefore: 1, rssAfter: 2, rssPeak: 3 });
    assert.deepEqual(exit.result, { bytes: 5, sha256: 'ff' });
    assert.deepEqual(exit.stray, ['noise']);
    assert.equal(exit.error?.exitCode, EXIT.timeout);
  });

  it('find_pids.sh: the process lines, complete only with the count that ends them', () => {
    const text = 'PYHEAP proc 4242 1 20480 yes python app.py --port 80\nPYHEAP proc 4250 7 1024 no sleep 60\nPYHEAP procs 2\n';
    assert.deepEqual(parseProcesses(text), [
      { hostPid: 4242, pid: 1, rssKiB: 20480, python: true, command: 'python app.py --port 80' },
      { hostPid: 4250, pid: 7, rssKiB: 1024, python: false, command: 'sleep 60' },
    ]);
    assert.equal(parseProcesses(text.replace('PYHEAP procs 2', 'PYHEAP procs 3')), undefined);
    assert.equal(parseProcesses('PYHEAP proc 1 1 1 yes python\n'), undefined);
  });
});

describe('payloads/PROTOCOL.md is the contract', () => {
  const EXIT_NAMES = Object.fromEntries(Object.entries(EXIT).map(([k, v]) => [v, k]));

  it('its error table is exactly the names kubectl-pyheap knows, with their exit codes and stages', () => {
    const rows = table('Errors').map(([code, name, exit, stage]) => ({ code: Number(code), name: name!, exit: Number(exit!.split(' ')[0]), stage: stage! }));
    assert.deepEqual(rows.map((r) => r.name).sort(), Object.keys(AGENT_ERRORS).sort());
    for (const r of rows) {
      const info = AGENT_ERRORS[r.name]!;
      assert.equal(r.exit, info.exit, `${r.name}: exit ${r.exit} in PROTOCOL.md, ${info.exit} (${EXIT_NAMES[info.exit]}) in the code`);
      assert.equal(r.stage, info.stage, `${r.name}: stage`);
    }
  });

  it('every `fail CODE NAME` of agent.sh is in the table with that code, and every name of the table is used', () => {
    const rows = new Map(table('Errors').map(([code, name]) => [name!, Number(code)]));
    const used = [...agentSh.matchAll(/\bfail (\d+) ([a-z-]+)/g)].map((m) => [m[2]!, Number(m[1])] as const);
    assert.ok(used.length > 20, 'agent.sh fails in many places');
    for (const [name, code] of used) assert.equal(rows.get(name), code, `agent.sh: fail ${code} ${name}`);
    const unused = [...rows.keys()].filter((n) => !used.some(([u]) => u === n));
    assert.deepEqual(unused, [], 'names in PROTOCOL.md that agent.sh never uses');
  });

  it('every line word of agent.sh is documented, and every documented word is one the parser reads', () => {
    const words = new Set([...agentSh.matchAll(/^\s*event ([a-z-]+)/gm)].map((m) => m[1]!));
    words.add('error'); // fail() prints it
    const documented = new Set(table('Lines of `agent.sh`').map(([line]) => /^`PYHEAP ([a-z-]+)/.exec(line!)?.[1]));
    assert.deepEqual([...words].sort(), [...documented].sort());
    for (const w of documented) assert.notEqual(parseAgentLine(`PYHEAP ${w} 1 2`).kind, 'other', `PYHEAP ${w} is read`);
  });
});
