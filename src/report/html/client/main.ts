// The page's script: reads the embedded data, draws the header and the views of the run (or of
// every replica, the fleet's outliers first), one tab at a time, and follows the address's
// #fragment so that a view can be linked and the back button works.
import type { PageData, RunView } from '../pageData.js';
import { clear, h } from './dom.js';
import { headerView } from './header.js';
import { fleetView } from './fleetView.js';
import { growthView, stacksView, traceView } from './findingsView.js';
import { mapView } from './retainedView.js';
import { typesView } from './typesView.js';

interface Tab {
  key: string;
  title: string;
  draw(): HTMLElement;
}

function runTabs(run: RunView): Tab[] {
  const tabs: Tab[] = [];
  if (run.types) tabs.push({ key: 'types', title: 'Types', draw: () => typesView(run.types!, run.largest, run.header.total) });
  if (run.retained || run.types) tabs.push({ key: 'map', title: run.retained ? 'Retained size' : 'Heap map', draw: () => mapView(run) });
  if (run.growth) tabs.push({ key: 'growth', title: 'Growth', draw: () => growthView(run.growth!) });
  if (run.trace) tabs.push({ key: 'trace', title: 'Allocation sites', draw: () => traceView(run.trace!) });
  if (run.threads) tabs.push({ key: 'stacks', title: 'Stacks', draw: () => stacksView(run.threads!) });
  return tabs;
}

function start(data: PageData): void {
  const app = document.getElementById('app')!;
  const top = h('div', { class: 'topbar' }, h('span', { class: 'brand', text: 'kubectl-pyheap' }), h('span', { class: 'title', text: data.title }));
  const scopes = h('nav', { class: 'scopes', 'aria-label': 'replicas' });
  const page = h('main', { class: 'page' });
  app.append(top, data.fleet ? scopes : '', page);
  const cache = new Map<string, HTMLElement>();
  const cached = (key: string, make: () => HTMLElement) => {
    let el = cache.get(key);
    if (!el) {
      el = make();
      cache.set(key, el);
    }
    return el;
  };

  /** "#fleet", "#r1/growth", "#types" (a single run). */
  function route(hash: string): void {
    const parts = hash.replace(/^#/, '').split('/');
    const fleet = data.fleet;
    let runIndex = 0;
    let tabKey = parts[0] ?? '';
    if (fleet) {
      const m = /^r(\d+)$/.exec(parts[0] ?? '');
      if (!m) {
        show('fleet');
        return;
      }
      runIndex = Math.min(Number(m[1]), data.runs.length - 1);
      tabKey = parts[1] ?? '';
    }
    show(runIndex, tabKey);
  }

  function scopeButtons(active: string): void {
    if (!data.fleet) return;
    clear(scopes);
    const flagged = new Set(data.fleet.outliers.rows.map((o) => o.replica));
    scopes.append(
      h('a', { class: `scope${active === 'fleet' ? ' on' : ''}`, href: '#fleet', 'data-scope': 'fleet', text: 'Fleet' }),
      ...data.runs.map((r, i) => h('a', { class: `scope${active === `r${i}` ? ' on' : ''}${flagged.has(i) ? ' flagged' : ''}`, href: `#r${i}`, 'data-scope': `r${i}`, text: r.label })),
    );
  }

  function show(run: number | 'fleet', tabKey = ''): void {
    clear(page);
    if (run === 'fleet') {
      scopeButtons('fleet');
      page.append(
        cached('fleet', () =>
          fleetView(data.fleet!, (i) => {
            location.hash = `#r${i}`;
          }),
        ),
      );
      return;
    }
    scopeButtons(`r${run}`);
    const r = data.runs[run]!;
    const tabs = runTabs(r);
    const tab = tabs.find((t) => t.key === tabKey) ?? tabs[0];
    const prefix = data.fleet ? `#r${run}/` : '#';
    page.append(cached(`h${run}`, () => headerView(r.header, data.generated)));
    page.append(
      h(
        'nav',
        { class: 'tabs', role: 'tablist' },
        tabs.map((t) =>
          h('a', {
            class: `tab${t === tab ? ' on' : ''}`,
            href: `${prefix}${t.key}`,
            role: 'tab',
            'aria-selected': t === tab ? 'true' : 'false',
            'data-tab': t.key,
            text: t.title,
          }),
        ),
      ),
    );
    if (tab) page.append(cached(`${run}/${tab.key}`, tab.draw));
    else page.append(h('section', { class: 'card' }, h('p', { text: r.header.status === 'ok' ? 'This run has no census.' : 'The run did not finish; see the error above.' })));
  }

  window.addEventListener('hashchange', () => route(location.hash));
  route(location.hash);
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      document.documentElement.dataset.drawn = performance.now().toFixed(1);
    }),
  );
}

const el = document.getElementById('pyheap-data');
try {
  start(JSON.parse(el?.textContent ?? 'null') as PageData);
} catch (e) {
  document.body.append(h('pre', { class: 'error', text: `This report could not be drawn: ${(e as Error).message}` }));
  throw e;
}
