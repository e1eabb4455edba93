// Growth between the two censuses (by size and by count, with the referrer chains of the top
// growers), thread stacks, and tracemalloc's allocation sites, as readable lists with file:line.
import type { GrowthRow, SiteRow } from '../document.js';
import type { Bounded, RunView } from '../pageData.js';
import { count, h, omittedNote, section, signed, size } from './dom.js';
import { chainEl } from './retainedView.js';
import { table } from './table.js';

const signedSize = (n: number) => signed(n, size);

export function growthView(g: NonNullable<RunView['growth']>): HTMLElement {
  const maxSize = Math.max(1, ...g.rows.rows.map((r) => Math.abs(r.size_delta)));
  const t = table<GrowthRow>({
    name: 'growth',
    rows: g.rows.rows,
    sort: { key: 'size_delta', desc: true },
    page: 100,
    empty: 'nothing grew or shrank between the two censuses',
    rowClass: (r) => (r.size_delta > 0 ? 'up' : r.size_delta < 0 ? 'down' : undefined),
    columns: [
      { key: 'name', title: 'type', cell: (r) => h('code', { text: r.name }), value: (r) => r.name },
      { key: 'size_delta', title: 'size +/-', numeric: true, cell: (r) => signedSize(r.size_delta), value: (r) => r.size_delta, bar: (r) => Math.max(0, r.size_delta) / maxSize },
      { key: 'count_delta', title: 'count +/-', numeric: true, cell: (r) => signed(r.count_delta), value: (r) => r.count_delta },
      { key: 'count', title: '# objects now', numeric: true, cell: (r) => count(r.count), value: (r) => r.count },
      { key: 'size', title: 'size now', numeric: true, cell: (r) => size(r.size), value: (r) => r.size },
    ],
  });
  const sortBy = (key: string) => () => t.el.querySelector<HTMLElement>(`th[data-sort="${key}"]`)?.click();
  const total = g.total;
  const out = h(
    'div',
    { class: 'stack' },
    section(
      `What grew${g.seconds !== null ? ` in ${g.seconds} s` : ''}`,
      total ? h('p', { class: 'lead' }, h('b', { text: signedSize(total.size_delta) }), ` and ${signed(total.count_delta)} objects between the two censuses`) : null,
      h(
        'div',
        { class: 'toolbar' },
        h('span', { class: 'muted', text: 'sort by' }),
        h('span', { class: 'seg' }, h('button', { onclick: sortBy('size_delta') }, 'size'), h('button', { onclick: sortBy('count_delta') }, 'count')),
      ),
      t.el,
      omittedNote(g.rows.omitted, 'types'),
    ),
  );
  if (g.referrers.rows.length) {
    out.append(
      section(
        'What holds the top growers',
        h('p', { class: 'muted', text: 'Shortest chains from a module global or a running frame to a few of the youngest objects of each type.' }),
        g.referrers.rows.map((r) =>
          h(
            'div',
            { class: 'holders' },
            h('h3', {}, h('code', { text: r.type })),
            r.chains.rows.length ? r.chains.rows.map(chainEl) : h('p', { class: 'muted', text: 'No sample is reached from a module global or a running frame: held by C code, or a garbage cycle.' }),
            omittedNote(r.chains.omitted, 'chains'),
          ),
        ),
        omittedNote(g.referrers.omitted, 'types'),
      ),
    );
  }
  return out;
}

export function stacksView(threads: NonNullable<RunView['threads']>): HTMLElement {
  return section(
    `Threads (${count(threads.rows.length + threads.omitted)})`,
    h('p', { class: 'muted', text: 'Innermost call last, as in a traceback.' }),
    threads.rows.map((t) =>
      h(
        'details',
        { class: 'thread', open: true },
        h(
          'summary',
          {},
          h('b', { text: t.name }),
          t.daemon ? h('span', { class: 'pill', text: 'daemon' }) : null,
          h('span', { class: 'muted', text: ` ${t.frames.rows.length + t.frames.omitted} frames` }),
        ),
        h(
          'ol',
          { class: 'frames' },
          t.frames.rows.map((f) => h('li', {}, h('code', { class: 'loc', text: `${f.file}:${f.line}` }), ' in ', h('code', { class: 'fn', text: f.function }))),
        ),
        omittedNote(t.frames.omitted, 'frames'),
      ),
    ),
    omittedNote(threads.omitted, 'threads'),
  );
}

function sites(name: string, b: Bounded<SiteRow>, key: 'size_delta' | 'count_delta'): HTMLElement {
  const max = Math.max(1, ...b.rows.map((r) => Math.abs(r[key])));
  const t = table<SiteRow>({
    name,
    rows: b.rows,
    sort: { key, desc: true },
    page: 50,
    empty: 'no allocation site grew',
    columns: [
      { key: 'loc', title: 'file:line', cell: (r) => h('code', { class: 'loc', text: `${r.file}:${r.line}` }), value: (r) => `${r.file}:${String(r.line).padStart(8)}` },
      {
        key: 'size_delta',
        title: 'size +/-',
        numeric: true,
        cell: (r) => signedSize(r.size_delta),
        value: (r) => r.size_delta,
        ...(key === 'size_delta' ? { bar: (r: SiteRow) => Math.max(0, r.size_delta) / max } : {}),
      },
      {
        key: 'count_delta',
        title: 'blocks +/-',
        numeric: true,
        cell: (r) => signed(r.count_delta),
        value: (r) => r.count_delta,
        ...(key === 'count_delta' ? { bar: (r: SiteRow) => Math.max(0, r.count_delta) / max } : {}),
      },
      { key: 'size', title: 'live size', numeric: true, cell: (r) => size(r.size), value: (r) => r.size },
      { key: 'count', title: 'live blocks', numeric: true, cell: (r) => count(r.count), value: (r) => r.count },
    ],
  });
  return h('div', {}, t.el, omittedNote(b.omitted, 'sites'));
}

export function traceView(tr: NonNullable<RunView['trace']>): HTMLElement {
  return h(
    'div',
    { class: 'stack' },
    section(`Allocation sites that grew in ${tr.seconds} s, by size`, sites('trace-size', tr.bySize, 'size_delta')),
    section('... and by number of blocks', sites('trace-count', tr.byCount, 'count_delta')),
    h('p', { class: 'muted note', text: tr.note }),
  );
}
