// The top of a run's page: what was inspected and where, the totals, what the run cost the
// target in memory, and what the census cannot see.
import type { Header } from '../pageData.js';
import { count, h, section, size } from './dom.js';

function tile(label: string, value: string, sub?: string): HTMLElement {
  return h('div', { class: 'tile' }, h('div', { class: 'tile-label', text: label }), h('div', { class: 'tile-value', text: value }), sub ? h('div', { class: 'tile-sub', text: sub }) : null);
}

/** Before, after and peak RSS on one scale. */
function memoryBar(m: NonNullable<Header['memory']>): HTMLElement {
  const max = Math.max(m.rss_before, m.rss_after, m.rss_peak, 1);
  const row = (label: string, v: number, cls: string) => {
    const fill = h('span', { class: `mem-fill ${cls}` });
    fill.style.width = `${((v / max) * 100).toFixed(1)}%`;
    return h('div', { class: 'mem-row' }, h('span', { class: 'mem-label', text: label }), h('span', { class: 'mem-track' }, fill), h('span', { class: 'mem-value', text: size(v) }));
  };
  return h(
    'div',
    { class: 'mem', 'data-view': 'memory' },
    row('before', m.rss_before, 'before'),
    row('peak', m.rss_peak, 'peak'),
    row('after', m.rss_after, 'after'),
    h('p', { class: 'muted', text: `The payload cost the target +${size(m.extra_peak)} of resident memory at its peak (RSS, sampled every 50 ms by the agent).` }),
  );
}

export function headerView(x: Header, generated: string): HTMLElement {
  const tiles = [
    x.total && tile('objects', count(x.total.count), x.gc ? `${count(x.gc.tracked)} tracked by the GC${x.gc.frozen ? `, ${count(x.gc.frozen)} frozen` : ''}` : undefined),
    x.total && tile('total size', size(x.total.size), 'sys.getsizeof, summed'),
    x.memory && tile('RSS', size(x.memory.rss_after), `before ${size(x.memory.rss_before)}, peak ${size(x.memory.rss_peak)}`),
    x.censusSeconds !== null && tile('census', `${x.censusSeconds.toFixed(2)} s`, x.elapsedSeconds !== null ? `whole run ${x.elapsedSeconds.toFixed(1)} s` : undefined),
  ].filter((t): t is HTMLElement => Boolean(t));
  const when = new Date(generated);
  return h(
    'header',
    { class: 'run-header', 'data-view': 'header' },
    h(
      'div',
      { class: 'run-title' },
      h('h1', { text: x.target }),
      x.python ? h('span', { class: 'pill', text: x.python }) : null,
      x.status !== 'ok' ? h('span', { class: 'pill bad', text: x.status }) : null,
      h('span', { class: 'when', title: generated, text: `report of ${when.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium', timeZone: 'UTC' })} UTC` }),
    ),
    x.exception ? h('p', { class: 'error', text: x.exception }) : null,
    h(
      'div',
      { class: 'header-grid' },
      h(
        'div',
        {},
        h(
          'dl',
          { class: 'where' },
          x.where.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v, title: v })]),
        ),
        x.memory ? memoryBar(x.memory) : null,
      ),
      h('div', { class: 'tiles' }, tiles),
    ),
    x.notes.length
      ? h(
          'details',
          { class: 'notes' },
          h('summary', { text: `What the census cannot see (${x.notes.length} notes)` }),
          h(
            'ul',
            {},
            x.notes.map((n) => h('li', { text: n })),
          ),
        )
      : null,
  );
}

export { section };
