// Shell completion, the pure half (src/cli/complete.ts): the words typed after `kubectl pyheap`
// read as the CLI's yargs reads them, what each position offers, what kubectl is sent. In-process;
// the executable and the flags against --help are in test/complete.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import yargs from 'yargs';
import { analyze, completionFlags, connectionFlags, DIRECTIVE, plan, planFor, render, type Plan } from '../../src/cli/complete.js';

const planOf = (...words: string[]) => planFor(words).plan;
const lines = (p: Plan, names?: string[]) => render(p, names).split('\n').filter(Boolean);
const words = (p: Plan, names?: string[]) => lines(p, names).map((l) => l.split('\t')[0]);

describe('completion: reading the words', () => {
  it('a new word where TARGET goes: pods and workloads of the cluster, and the subcommands', () => {
    const p = planOf('');
    assert.deepEqual(p.source, { kind: 'targets' });
    assert.equal(p.directive, DIRECTIVE.noFileComp);
    assert.deepEqual(words(p, ['census', 'web-1', 'deploy/web']), ['census', 'web-1', 'deploy/web', 'analyze', ':4']);
    assert.deepEqual(words(planOf('we'), ['census', 'web-1', 'deploy/web']), ['web-1', ':4']);
    assert.deepEqual(words(planOf('de'), ['census', 'web-1', 'deploy/web']), ['deploy/web', ':4']);
  });

  it('KIND/ completes the names of that kind, written with the kind as typed', () => {
    assert.deepEqual(planOf('deploy/').source, { kind: 'objects', resource: 'deployments', typed: 'deploy' });
    assert.deepEqual(words(planOf('deploy/w'), ['web', 'api']), ['deploy/web', ':4']);
    assert.deepEqual(words(planOf('deployment/'), ['web']), ['deployment/web', ':4']);
    assert.deepEqual(planOf('pod/c').source, { kind: 'objects', resource: 'pods', typed: 'pod' });
    assert.deepEqual(planOf('sts/').source, { kind: 'objects', resource: 'statefulsets', typed: 'sts' });
    assert.deepEqual(planOf('ds/').source, { kind: 'objects', resource: 'daemonsets', typed: 'ds' });
    assert.deepEqual(planOf('rs/').source, { kind: 'objects', resource: 'replicasets', typed: 'rs' });
    assert.deepEqual(planOf('svc/').source, { kind: 'static', values: [] });
    assert.deepEqual(planOf('pid/').source, { kind: 'static', values: [] });
  });

  it('one TARGET only, and none with -l or --cleanup', () => {
    for (const w of [
      ['web-1', ''],
      ['-l', 'app=web', ''],
      ['--cleanup', ''],
      ['pid/4', '-o', 'json', ''],
      ['--', ''],
    ]) {
      const p = planOf(...w);
      assert.deepEqual([p.source, p.extra, p.directive], [{ kind: 'static', values: [] }, [], DIRECTIVE.noFileComp], w.join(' '));
    }
    assert.deepEqual(planOf('--cleanup=false', '').source, { kind: 'targets' });
  });

  it('a word starting with - completes flag names with their descriptions, like cobra', () => {
    const all = lines(planOf('-'));
    assert.ok(all.includes("--namespace\tnamespace of the target (default: the context's, else default)"), all.join('\n'));
    for (const w of ['--namespace', '-n', '--container', '-c', '--selector', '-l', '--kubeconfig', '--context', '--script', '--output', '-o', '--help', '-h', '--all-pods', '--dry-run']) {
      assert.ok(
        all.some((l) => l.split('\t')[0] === w),
        `${w} is not offered`,
      );
    }
    assert.equal(all.at(-1), ':4');
    assert.deepEqual(words(planOf('--na')), ['--namespace', ':4']);
    assert.deepEqual(words(planOf('--all-p')), ['--all-pods', '--all-processes', ':4']);
    // -- offers the long names only
    assert.ok(words(planOf('--')).every((w) => w!.startsWith('--') || w === ':4'));
  });

  it('a flag already given is not offered again, unless it is repeatable', () => {
    const w = words(planOf('-n', 'shop', '--as-group', 'devs', '--top', '5', '--'));
    assert.ok(!w.includes('--namespace') && !w.includes('--top'));
    assert.ok(w.includes('--as-group') && w.includes('--context'));
  });

  it('flag values: namespaces, contexts, clusters, users, containers, labels, output formats', () => {
    assert.deepEqual(planOf('-n', '').source, { kind: 'namespaces' });
    assert.deepEqual(planOf('--namespace', 'ku').prefix, 'ku');
    assert.deepEqual(planOf('--agent-namespace', '').source, { kind: 'namespaces' });
    assert.deepEqual(planOf('--context', '').source, { kind: 'contexts' });
    assert.deepEqual(planOf('--cluster', '').source, { kind: 'clusters' });
    assert.deepEqual(planOf('--user', '').source, { kind: 'users' });
    assert.deepEqual(planOf('--image', '').source, { kind: 'image' });
    assert.deepEqual(words(planOf('-o', '')), ['table', 'json', ':4']);
    assert.deepEqual(words(planOf('--output', 'j')), ['json', ':4']);
    const l = planOf('-l', 'app=web,ti');
    assert.deepEqual([l.source, l.head, l.prefix], [{ kind: 'labels' }, 'app=web,', 'app=web,ti']);
    assert.deepEqual(words(l, ['app=web', 'tier=front', 'team=a']), ['app=web,tier=front', ':4']);
  });

  it('--flag=VALUE and -f=VALUE complete the value alone, as cobra does (the shells strip the flag)', () => {
    const p = planOf('--namespace=ku');
    assert.deepEqual([p.source, p.prefix], [{ kind: 'namespaces' }, 'ku']);
    assert.deepEqual(planOf('-n=ku').source, { kind: 'namespaces' });
    assert.deepEqual(words(planOf('--output=t')), ['table', ':4']);
    assert.deepEqual(planOf('--context=').source, { kind: 'contexts' });
  });

  it('-c completes the containers of the target typed before it: pod, workload or selector', () => {
    assert.deepEqual(planOf('web-1', '-c', '').source, { kind: 'containers', target: { kind: 'pod', name: 'web-1' } });
    assert.deepEqual(planOf('pod/web-1', '--container', 'a').source, { kind: 'containers', target: { kind: 'pod', name: 'web-1' } });
    assert.deepEqual(planOf('deploy/web', '--container=').source, { kind: 'containers', target: { kind: 'workload', resource: 'deployments', name: 'web' } });
    assert.deepEqual(planOf('-l', 'app=web', '-c', '').source, { kind: 'containers', target: { kind: 'selector', selector: 'app=web' } });
    for (const w of [
      ['-c', ''],
      ['pid/12', '-c', ''],
      ['Not_A_Pod', '-c', ''],
    ])
      assert.deepEqual(planOf(...w).source, { kind: 'static', values: [] }, w.join(' '));
  });

  it('files: --script offers *.py, --out-dir directories, --kubeconfig any file; analyze a .pyheap', () => {
    const s = planOf('--script', '');
    assert.deepEqual(lines(s), ['py', `:${DIRECTIVE.filterFileExt}`]);
    assert.deepEqual(lines(planOf('--out-dir', 'x')), [`:${DIRECTIVE.filterDirs}`]);
    assert.deepEqual(lines(planOf('--kubeconfig', '')), [`:${DIRECTIVE.default}`]);
    assert.deepEqual(lines(planOf('analyze', '')), ['pyheap', `:${DIRECTIVE.filterFileExt}`]);
    assert.deepEqual(words(planOf('analyze', 'x.pyheap', '-')), ['--output', '-o', '--top', '--help', '-h', ':4']);
  });

  it('values that are not names offer nothing and no files (--top, --timeout, --token, ...)', () => {
    for (const f of ['--top', '--timeout', '--token', '--exec', '--pid', '--image-pull-secret', '--request-timeout', '-s']) {
      assert.deepEqual(lines(planOf(f, '')), [':4'], f);
    }
  });

  it("reads the words as the CLI's yargs parser does (greedy arrays, short groups, --no-, camelCase, --)", async () => {
    const flags = completionFlags();
    const cases: string[][] = [
      ['-vn', 'shop', 'web-1'],
      ['--as-group', 'a', 'web-1', '--top', '3'],
      ['--as-group=a', 'b', '-n', 'x'],
      ['--referrers', 'str', 'dict', '--', 'web-1'],
      ['-n=kube-system', 'pod/x', '--no-verbose'],
      ['--outDir', '/tmp/o', '--allPods', 'deploy/web'],
      ['-l=app=web', '-vc', 'main'],
      ['-vo', 'json', '-n5'],
      ['--kubeconfig', 'kc', '--context=c1', 'web-1', '--insecure-skip-tls-verify'],
    ];
    for (const c of cases) {
      let y = yargs(c).command('$0 [target]', false).exitProcess(false).strictOptions(false);
      for (const f of flags) {
        y = y.option(f.name, { ...(f.short ? { alias: f.short } : {}), type: f.repeatable ? 'string' : f.takesValue ? 'string' : 'boolean', ...(f.repeatable ? { array: true } : {}) });
      }
      const parsed = (await y.parseAsync()) as Record<string, unknown>;
      const a = analyze([...c, '']);
      const target = a.positionals[0] ?? (parsed._ as string[])[0];
      assert.equal(a.positionals[0], parsed.target, `target of ${c.join(' ')}`);
      assert.equal(target, parsed.target ?? target);
      for (const [name, vals] of a.values) {
        const f = flags.find((x) => x.name === name)!;
        const want = f.repeatable ? vals : f.takesValue ? vals.at(-1) : vals.at(-1) === 'true';
        assert.deepEqual(parsed[name], want, `--${name} of ${c.join(' ')}`);
      }
    }
  });

  it('after an array flag, the next word is one more of its values (yargs is greedy)', () => {
    const a = analyze(['--as-group', 'a', '']);
    assert.equal(a.current.kind, 'flag-value');
    assert.deepEqual(plan(a).source, { kind: 'static', values: [] });
    assert.deepEqual(planOf('--as-group', 'a', '-n', 'x', '').source, { kind: 'targets' });
  });

  it('the connection flags typed so far are the ones the API calls use', () => {
    const a = analyze([
      '--kubeconfig',
      '/k',
      '--context',
      'c',
      '--cluster',
      'cl',
      '--user',
      'u',
      '-n',
      'ns',
      '-s',
      'https://h:6443',
      '--token',
      't',
      '--as',
      'me',
      '--as-group',
      'g1',
      '--as-group',
      'g2',
      '--insecure-skip-tls-verify',
      '--request-timeout',
      '2s',
      '',
    ]);
    assert.deepEqual(connectionFlags(a), {
      kubeconfig: '/k',
      context: 'c',
      cluster: 'cl',
      user: 'u',
      namespace: 'ns',
      as: 'me',
      asGroup: ['g1', 'g2'],
      token: 't',
      server: 'https://h:6443',
      insecureSkipTlsVerify: true,
      requestTimeoutMs: 2000,
    });
    assert.deepEqual(connectionFlags(analyze(['-n', 'a', '--namespace', 'b', '--request-timeout', 'soon', ''])), { namespace: 'b' });
  });

  it('render: one candidate a line, filtered by the word typed, no duplicates, then the directive', () => {
    const p: Plan = { source: { kind: 'targets' }, prefix: 'a', head: '', extra: ['analyze'], directive: 4 };
    assert.equal(render(p, ['api-1', 'api-1', 'web', 'a\nb']), 'api-1\nanalyze\n:4\n');
    assert.equal(render({ ...p, prefix: 'zz' }, ['api-1']), ':4\n');
  });
});
