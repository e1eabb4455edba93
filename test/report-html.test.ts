// The report page (src/report/html), as a user meets it: a real census of a real CPython target
// with every finding (test/fixtures/leak_target.py), its report.html opened from the file in
// Debian's chromium: no console error, no request but the file itself, sorting and filtering
// change the rows, the treemap drills down and back, each view photographed. Also `analyze
// --html`, and the pure parts (outliers, bounds, escaping) on their own.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { FIXTURES, runCli } from './support/cli.js';
import { liveTargets, startContainer, type ContainerTarget } from './support/container.js';
import { findInterpreters } from './support/pythons.js';
import { ptraceSkip } from './support/ptrace.js';
import { localGdbVersion } from './support/proc.js';
import { browserSkip, launchBrowser, openReport, shoot, SHOTS, view, type OpenedPage } from './support/browser.js';
import { findOutliers } from '../src/report/html/fleet.js';
import { embedJson, renderReport } from '../src/report/html/page.js';
import { runView, treeBound } from '../src/report/html/model.js';
import { LIMITS } from '../src/report/html/pageData.js';
import { classify, type RunDoc } from '../src/report/html/document.js';

const MB = 1024 * 1024;
const skip = ptraceSkip() || browserSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-report-'));
const ALLOC_LINE =
  readFileSync(path.join(FIXTURES, 'leak_target.py'), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes('# ALLOC_LINE')) + 1;
after(() => rmSync(scratch, { recursive: true, force: true }));

const run = (types: [string, number][], total = 50 * MB): Pick<RunDoc, 'types' | 'total'> => ({
  types: types.map(([name, size]) => ({ name, size, count: Math.ceil(size / 100) })),
  total: { count: 1, size: total },
});

describe('report page, pure parts', () => {
  it('the outlier is the replica whose type stands far from the median of the others', () => {
    const same: [string, number][] = [
      ['str', 10 * MB],
      ['dict', 8 * MB],
    ];
    const o = findOutliers([run(same), run([...same, ['app.Order', 40 * MB]]), run([...same, ['app.Order', 100_000]]), run(same)]);
    assert.equal(o[0]?.type, 'app.Order');
    assert.equal(o[0]?.replica, 1);
    assert.equal(o.length, 1, JSON.stringify(o));
    assert.deepEqual(
      findOutliers([
        run(same),
        run(same),
        run([
          ['str', 10.2 * MB],
          ['dict', 8 * MB],
        ]),
      ]),
      [],
      'identical replicas have no outlier',
    );
    assert.deepEqual(findOutliers([run([...same, ['app.Order', 40 * MB]])]), [], 'one replica has nothing to compare with');
  });

  it('embedded data cannot end its script element, and type names stay text', () => {
    const evil = '</script><script>alert(1)</script><!--';
    assert.doesNotMatch(embedJson({ evil }), /<|>/);
    const doc: RunDoc = { target: 'pid/1', run_id: 'x', python: null, status: 'ok', types: [{ name: evil, count: 1, size: 1 }], total: { count: 1, size: 1 } };
    const html = renderReport(classify(doc), { generated: new Date(0) });
    assert.equal(html.split('</script>').length - 1, 2, 'only the data and the script elements close');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/);
    assert.doesNotMatch(html, /(src|href)=["']?(https?:)?\/\//, 'nothing is loaded from anywhere');
  });

  it('the header names the agent that injected: its image (none for pid/N) and its gdb; documents of 0.1.0 too', () => {
    const base: RunDoc = { target: 'pid/1', run_id: 'x', python: null, status: 'ok' };
    const where = (d: RunDoc) => Object.fromEntries(runView(d, 'r').header.where.filter(([k]) => /agent|gdb/.test(k)));
    assert.deepEqual(where({ ...base, agent: { image: null, gdb_version: '13.1' } }), { 'agent image': "none: this machine's gdb (pid/N)", gdb: '13.1' });
    assert.deepEqual(where({ ...base, target: 'pod/web', pod: 'web', agent_pod: 'pyheap-agent-1', agent: { image: 'ghcr.io/kubectl-pyheap/agent:0.1.0', gdb_version: '16.3' } }), {
      'agent pod': 'pyheap-agent-1',
      'agent image': 'ghcr.io/kubectl-pyheap/agent:0.1.0',
      gdb: '16.3',
    });
    assert.deepEqual(where({ ...base, pod: 'web', agent_image: 'robustadev/debug-toolkit:v6.0', gdb: '13.1' }), { 'agent image': 'robustadev/debug-toolkit:v6.0', gdb: '13.1' });
  });

  it('bounds what it embeds, and counts what it left out', () => {
    const types = Array.from({ length: 5000 }, (_, i) => ({ name: `m${i % 40}.T${i}`, count: 10, size: 5000 - i }));
    const html = renderReport(classify({ target: 'pid/1', run_id: 'x', python: null, status: 'ok', types, total: { count: 50_000, size: 1e7 } }), { generated: new Date(0) });
    const data = JSON.parse(/<script id="pyheap-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!) as { runs: { types: { rows: unknown[]; omitted: number; omittedCount: number } }[] };
    assert.equal(data.runs[0]!.types.rows.length, LIMITS.types);
    assert.equal(data.runs[0]!.types.omitted, 5000 - LIMITS.types);
    assert.equal(data.runs[0]!.types.omittedCount, (5000 - LIMITS.types) * 10);
    // a dominator tree cut to its largest nodes keeps every kept node's dominator
    const nodes = [
      { parent: -1, r: 100 },
      { parent: 0, r: 60 },
      { parent: 1, r: 5 },
      { parent: 0, r: 30 },
      { parent: 3, r: 20 },
      { parent: -1, r: 10 },
    ].map((n) => ({ parent: n.parent, type: 't', id: 1, size: 1, retained_size: n.r, children: 1 }));
    const cut = treeBound({ total_size: 200, objects: 6, nodes }, 4);
    assert.deepEqual(
      cut.nodes.map((n) => [n.retained_size, n.parent]),
      [
        [100, -1],
        [60, 0],
        [30, 0],
        [20, 2],
      ],
    );
  });
});

describe('report page of a real run, in chromium', { skip, timeout: 300_000 }, () => {
  let browser: Browser;
  let target: ContainerTarget;
  let dir: string;
  let stderr: string;
  const py = findInterpreters()
    .filter((p) => p.label.startsWith('pyenv'))
    .at(-1)!;
  before(async () => {
    if (skip) return;
    browser = await launchBrowser();
    target = await startContainer({ python: py, script: path.join(FIXTURES, 'leak_target.py'), uid: 1000 });
    dir = path.join(scratch, 'run');
    const r = await runCli([`pid/${target.pid}`, '--growth', '2s', '--referrers', '__main__.Retainer', '--stacks', '--trace', '2s', '--snapshot', '--out-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    stderr = r.stderr;
  });
  after(async () => {
    await target?.stop();
    await browser?.close();
    assert.deepEqual(
      liveTargets().map((t) => t.pid),
      [],
    );
  });

  let p: OpenedPage;
  it('the run says where its report is, on its last line', async (t) => {
    const last = stderr.trim().split('\n').at(-1)!;
    assert.match(last, /^report: file:\/\/\/\S+\/report\.html$/);
    const file = fileURLToPath(last.slice('report: '.length));
    assert.equal(file, path.join(dir, 'report.html'));
    assert.ok(statSync(file).size < 2 * MB, `a bounded page: ${statSync(file).size} bytes`);
    p = await openReport(browser, last.slice('report: '.length));
    t.diagnostic(`screenshots in ${SHOTS}`);
  });

  it('header: the target, its Python, totals, memory and notes', async () => {
    const header = await p.page.locator('[data-view=header]').innerText();
    assert.match(header, new RegExp(`pid/${target.pid}`));
    assert.match(header, new RegExp(`Python ${py.version[0]}\\.${py.version[1]}\\.`));
    assert.match(header, /OBJECTS\s+[\d,]+/i);
    assert.match(header, /before[\s\S]*peak[\s\S]*after/);
    assert.match(header, /What the census cannot see \(\d+ notes\)/);
    assert.match(header, new RegExp(`gdb\\s+${localGdbVersion().replace(/\./g, '\\.')}\\b`), "the version of the gdb that injected: this machine's");
    assert.match(header, /agent image\s+none: this machine's gdb \(pid\/N\)/);
    await shoot(p, 'run-types');
  });

  it('types: sorting and filtering change the rows', async () => {
    const names = () => p.page.locator('[data-table=types] tbody tr[data-row] td:first-child').allInnerTexts();
    const bySize = await names();
    assert.equal(bySize[0], 'bytearray', 'the 30 MB bytearray is the largest type');
    await p.page.click('[data-table=types] th[data-sort=count]');
    const byCount = await names();
    assert.notEqual(byCount[0], bySize[0]);
    await p.page.click('[data-table=types] th[data-sort=count]');
    assert.notDeepEqual(await names(), byCount, 'a second click sorts the other way');
    await p.page.fill('input[name=filter]', 'Record');
    assert.deepEqual(await names(), ['__main__.Record']);
    await p.page.fill('input[name=filter]', '');
    await p.page.selectOption('select[name=module]', '__main__');
    const main = await names();
    assert.ok(main.length >= 2 && main.every((n) => n.startsWith('__main__.')), main.join(', '));
    await p.page.click('[data-table=types] th[data-sort=size]');
    assert.equal((await names())[0], '__main__.Record', 'Records outweigh the one Retainer (its 30 MB are a bytearray)');
    await shoot(p, 'run-types-filtered');
    assert.ok((await p.page.locator('[data-table=largest] tbody tr[data-row]').count()) > 5, 'the largest single objects');
  });

  it('retained size: the dominator treemap drills down and back, and the chains name the Retainer', async () => {
    await view(p, '#map');
    const cells = p.page.locator('[data-treemap=dominators] .tm-cell');
    await cells.first().waitFor();
    const top = await cells.count();
    await shoot(p, 'run-retained');
    // the group that holds the Retainer's 30 MB: go into it
    const retainer = p.page.locator('[data-treemap=dominators] .tm-cell', { hasText: 'Retainer' }).first();
    await retainer.click({ position: { x: 12, y: 8 } }); // its header: its children cover the rest
    const crumbs = p.page.locator('.tm-crumbs .crumb');
    assert.ok((await crumbs.count()) >= 2, 'the breadcrumb shows where we are');
    assert.notEqual(await cells.count(), 0);
    await shoot(p, 'run-retained-drilled');
    await crumbs.first().click();
    assert.equal(await crumbs.count(), 1, 'back at the top');
    assert.equal(await cells.count(), top);
    const chains = await p.page.locator('[data-view=retainers] .retainer').allInnerTexts();
    assert.ok(
      chains.some((c) => /30\.0 MiB[\s\S]*__main__\.Retainer/.test(c)),
      chains.slice(0, 3).join('\n'),
    );
    // by module, own size: the builtins drill into their types
    await p.page.click('button[data-choice=own]');
    await p.page.locator('[data-treemap=own-module] .tm-cell[data-path="builtins"]').click({ position: { x: 12, y: 8 } });
    assert.match(await p.page.locator('.tm-crumbs .crumb.here').innerText(), /^builtins \(/);
    assert.equal(await p.page.locator('[data-treemap=own-module] .tm-cell.d1[data-path="builtins:bytearray"]').count(), 1, 'the types of builtins, one level up');
    await p.page.locator('[data-treemap=own-module]').press('Escape');
    assert.equal(await crumbs.count(), 1, 'Escape goes back up');
  });

  it('growth, allocation sites and stacks as readable lists with file:line', async () => {
    await view(p, '#growth');
    const growth = await p.page.locator('[data-table=growth] tbody').innerText();
    assert.match(growth, /__main__\.Record\s+\+[\d.]+ KiB\s+\+\d+/);
    assert.match(await p.page.locator('.holders', { hasText: '__main__.Record' }).innerText(), /module __main__[\s\S]*\.STORE[\s\S]*__main__\.Record/);
    await shoot(p, 'run-growth');
    await view(p, '#trace');
    assert.match(await p.page.locator('[data-table=trace-size] tbody').innerText(), new RegExp(`leak_target\\.py:${ALLOC_LINE}\\s+\\+`));
    await shoot(p, 'run-trace');
    await view(p, '#stacks');
    const stacks = await p.page.locator('.thread').allInnerTexts();
    assert.equal(stacks.filter((s) => /^parker-\d/.test(s) && /leak_target\.py:\d+ in park_here/.test(s)).length, 2);
    await shoot(p, 'run-stacks');
  });

  it('no console error, no request but the file', () => {
    assert.deepEqual(p.errors, []);
    assert.deepEqual(new Set(p.requests), new Set([p.page.url().replace(/#.*$/, '')]));
  });

  it('analyze FILE --html OUT: the same retained views, offline', async () => {
    const out = path.join(scratch, 'offline.html');
    const r = await runCli(['analyze', path.join(dir, 'snapshot.pyheap'), '--html', out, '--top', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr.trim().split('\n').at(-1)!, /^report: file:\/\/\S+offline\.html$/);
    const q = await openReport(browser, `file://${out}`);
    assert.match(await q.page.locator('[data-view=retainers]').innerText(), /__main__\.Retainer/);
    assert.ok((await q.page.locator('[data-treemap=dominators] .tm-cell').count()) > 3);
    await shoot(q, 'analyze');
    assert.deepEqual(q.errors, []);
    const bad = await runCli(['analyze', path.join(dir, 'snapshot.pyheap'), '--html', path.join(scratch, 'no', 'such', 'x.html')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: cannot write --html .*: no directory .*; create it first/m);
  });

  it('-o json still prints one document, and the page is written beside it', async () => {
    const out = path.join(scratch, 'json');
    const r = await runCli([`pid/${target.pid}`, '-o', 'json', '--out-dir', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal((JSON.parse(r.stdout) as RunDoc).target, `pid/${target.pid}`);
    assert.ok(existsSync(path.join(out, 'report.html')));
  });
});
