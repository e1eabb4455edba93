// The fleet page of the report: three replicas of one service on the emulated cluster
// (test/fixtures/fleet_replica.py), one of which keeps orders it should have dropped. `--all-pods`
// writes the fleet's report.html, whose first view must name that replica and that type; each
// replica's directory has its own page. `--all-processes` on a pre-fork server (test/fixtures/
// forking_workers.py) puts its processes side by side the same way. Opened from the file in
// Debian's chromium.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startCluster, withFixtures } from '../tools/cluster/index.js';
import { ptraceSkip } from './support/ptrace.js';
import { call, waitFor } from './support/kube.js';
import { browserSkip, launchBrowser, openReport, shoot, view } from './support/browser.js';
import { assertNoAgentPods, fixture, pyheap, settleZombies, type KubeFixture } from './kube-support.js';

const skip = ptraceSkip() || browserSkip();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pyheap-report-fleet-'));
const LEAKY = 'shop-b';
const replica = (name: string, orders: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { app: 'shop' } },
  spec: withFixtures({
    restartPolicy: 'Never',
    containers: [{ name: 'app', image: 'python:3.12', command: ['python', '/app/fleet_replica.py', String(orders)], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }],
  }),
});

// a pre-fork server: the parent holds 1000 Jobs, its two workers 1100 and 1200 (inherited + own)
const workers = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'prefork', namespace: 'default' },
  spec: withFixtures({
    restartPolicy: 'Never',
    containers: [{ name: 'app', image: 'python:3.12', command: ['python', '/app/forking_workers.py', '2'], securityContext: { runAsUser: 1000, runAsGroup: 1000 } }],
  }),
};

let f: KubeFixture;
let browser: Browser;
before(async () => {
  if (skip) return;
  const cluster = await startCluster({
    cgroupLayout: 'cgroupfs',
    nodes: ['emulated-node-1', 'emulated-node-2'],
    switches: { agentStartDelayMs: 50 },
    objects: [replica('shop-a', 50), replica(LEAKY, 20_000), replica('shop-c', 50), workers],
  });
  f = fixture(cluster, scratch);
  // a census of a replica that has not finished building its caches would compare nothing
  for (const name of ['shop-a', LEAKY, 'shop-c', 'prefork']) {
    await waitFor(`${name} ready`, async () => (await call(f.k, 'GET', `/api/v1/namespaces/default/pods/${name}/log`)).text.includes('ready'), 60_000);
  }
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await f?.cluster.stop();
  await settleZombies();
  rmSync(scratch, { recursive: true, force: true });
});

describe('report page of a fleet (--all-pods), in chromium', { skip, timeout: 300_000 }, () => {
  it('names the replica that leaks, and what, first', async () => {
    const out = f.out();
    const r = await pyheap(f, ['-l', 'app=shop', '--all-pods', '--out-dir', out]);
    assert.equal(r.code, 0, r.stderr);
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.match(last, /^report: file:\/\/\S+\/report\.html$/);
    assert.equal(fileURLToPath(last.slice('report: '.length)), path.join(out, 'report.html'));
    for (const name of ['shop-a', LEAKY, 'shop-c']) assert.ok(existsSync(path.join(out, name, 'report.html')), `${name} has its own page`);
    await assertNoAgentPods(f);

    const p = await openReport(browser, last.slice('report: '.length));
    // the first thing on the page: the outlier
    const hero = p.page.locator('[data-view=outliers]');
    assert.match(await hero.innerText(), new RegExp(`^OUTLIER\\s+${LEAKY} holds [\\d.]+ [KM]iB of __main__\\.Order`, 'i'));
    const first = p.page.locator('li.outlier').first();
    assert.equal(await first.getAttribute('data-replica'), LEAKY);
    assert.equal(await first.getAttribute('data-type'), '__main__.Order');
    const flagged = new Set(await p.page.locator('li.outlier').evaluateAll((xs) => xs.map((x) => x.getAttribute('data-replica'))));
    assert.deepEqual([...flagged], [LEAKY], 'no other replica is called an outlier');
    const box = await hero.boundingBox();
    assert.ok(box && box.y < 200, `the outlier is at the top of the page (y=${box?.y})`);
    // side by side: the leaking cell is outlined, in the leaking replica's column
    const header = await p.page.locator('[data-table=fleet] thead th').allInnerTexts();
    const column = header.indexOf(LEAKY);
    assert.ok(column > 1, header.join(' | '));
    const row = p.page.locator('[data-table=fleet] tbody tr', { hasText: '__main__.Order' }).first();
    assert.match((await row.locator('td').nth(column).getAttribute('class')) ?? '', /outlier-cell/);
    await shoot(p, 'fleet');

    // into the replica: its own header and tables
    await p.page.locator('[data-view=outliers] h2 button.replica').click();
    await p.page.waitForFunction(() => location.hash === '#r1');
    assert.match(await p.page.locator('[data-view=header]').innerText(), new RegExp(`pod\\s+${LEAKY}`));
    assert.match(await p.page.locator('[data-view=header]').innerText(), /agent image\s+\S+/);
    assert.match(await p.page.locator('[data-view=header]').innerText(), /gdb\s+\d+\.\d+/, 'the version of the gdb that injected');
    assert.equal(await p.page.locator('.scope.on').innerText(), LEAKY);
    await p.page.fill('input[name=filter]', 'Order');
    assert.deepEqual(await p.page.locator('[data-table=types] tbody tr[data-row] td:first-child').allInnerTexts(), ['__main__.Order']);
    await shoot(p, 'fleet-replica');
    await view(p, '#fleet');
    assert.equal(await p.page.locator('[data-view=outliers]').count(), 1, 'back to the fleet');
    assert.deepEqual(p.errors, []);
    assert.deepEqual(new Set(p.requests), new Set([p.page.url().replace(/#.*$/, '')]));
  });

  it('--all-processes: the processes of one container side by side, each with its page', async () => {
    const out = f.out();
    const r = await pyheap(f, ['prefork', '--all-processes', '--out-dir', out]);
    assert.equal(r.code, 0, r.stderr);
    const last = r.stderr.trim().split('\n').at(-1)!;
    assert.equal(fileURLToPath(last.replace(/^report: /, '')), path.join(out, 'report.html'));
    const dirs = readdirSync(out).filter((d) => /^prefork-pid\d+$/.test(d));
    assert.equal(dirs.length, 3, readdirSync(out).join(' '));
    for (const d of dirs) assert.ok(existsSync(path.join(out, d, 'report.html')), `${d} has its own page`);
    await assertNoAgentPods(f);

    const p = await openReport(browser, last.slice('report: '.length));
    assert.match(await p.page.locator('[data-view=outliers]').innerText(), /^NO OUTLIER\s+No type in any of the 3 processes/i);
    const headings = await p.page.locator('section h2').allInnerTexts();
    assert.ok(headings.includes('3 processes of pod/prefork'), `the columns are processes: ${headings.join(' | ')}`);
    const header = await p.page.locator('[data-table=fleet] thead th').allInnerTexts();
    const columns = header.slice(2);
    assert.equal(columns.length, 3, header.join(' | '));
    for (const c of columns) assert.match(c, /^prefork pid \d+$/);
    // each process's own count of Jobs, in the cells' titles: the parent's and its workers'
    const row = p.page.locator('[data-table=fleet] tbody tr', { hasText: '__main__.Job' }).first();
    const counts = await row.locator('td.num').evaluateAll((tds) => tds.slice(1).map((td) => td.getAttribute('title')));
    assert.deepEqual(counts.sort(), ['1,000 objects', '1,100 objects', '1,200 objects']);
    assert.equal(await p.page.title(), 'pyheap: pod/prefork: 3 processes');
    await shoot(p, 'fleet-processes');
    assert.deepEqual(p.errors, []);
    assert.deepEqual(new Set(p.requests), new Set([p.page.url().replace(/#.*$/, '')]));
  });
});
