// A fleet at a glance: the outliers first (which replica holds far more of which type than its
// siblings), then every replica side by side, each cell shaded by how far it is from the median.
import type { FleetView } from '../pageData.js';
import { count, h, section, size } from './dom.js';

export function fleetView(f: FleetView, open: (replica: number) => void): HTMLElement {
  const reps = f.replicas;
  const unit = f.unit; // replicas, or processes
  const top = f.outliers.rows[0];
  const flagged = new Set(f.outliers.rows.map((o) => `${o.replica}\u0000${o.type}`));
  const hero = top
    ? h(
        'section',
        { class: 'card hero bad', 'data-view': 'outliers' },
        h('div', { class: 'hero-kicker', text: 'Outlier' }),
        h(
          'h2',
          {},
          h('button', { class: 'link replica', 'data-replica': reps[top.replica]!.label, onclick: () => open(top.replica), text: reps[top.replica]!.label }),
          ' holds ',
          h('b', { text: size(top.size) }),
          ' of ',
          h('code', { text: top.type }),
        ),
        h('p', {
          class: 'lead',
          text: `${count(top.count)} objects, where the other ${unit}' median is ${count(top.medianCount)} (${size(top.median)}). In all, ${reps[top.replica]!.label} holds +${size(f.outliers.rows.filter((o) => o.replica === top.replica).reduce((s, o) => s + o.excess, 0))} more than its siblings in these types:`,
        }),
        h(
          'ol',
          { class: 'outliers' },
          f.outliers.rows
            .slice(0, 12)
            .map((o) =>
              h(
                'li',
                { class: 'outlier', 'data-replica': reps[o.replica]!.label, 'data-type': o.type },
                h('span', { class: 'num', text: `+${size(o.excess)}` }),
                ' ',
                h('code', { text: o.type }),
                ' in ',
                h('button', { class: 'link', onclick: () => open(o.replica), text: reps[o.replica]!.label }),
                h('span', { class: 'muted', text: ` (${size(o.size)} vs median ${size(o.median)})` }),
              ),
            ),
        ),
        f.outliers.omitted ? h('p', { class: 'omitted', text: `${f.outliers.omitted} more outliers not shown.` }) : null,
      )
    : h(
        'section',
        { class: 'card hero ok', 'data-view': 'outliers' },
        h('div', { class: 'hero-kicker', text: 'No outlier' }),
        h('p', {
          class: 'lead',
          text:
            reps.length < 2
              ? 'One replica only: nothing to compare it with.'
              : `No type in any of the ${reps.length} ${unit} stands far from the others' median (twice the median and at least 256 KiB more).`,
        }),
      );

  const cards = h(
    'div',
    { class: 'replicas' },
    reps.map((r, i) =>
      h(
        'button',
        { class: `replica-card${f.outliers.rows.some((o) => o.replica === i) ? ' flagged' : ''}`, onclick: () => open(i), 'data-replica': r.label },
        h('b', { text: r.label }),
        h('span', { class: 'muted', text: r.detail }),
        h('span', { class: 'big', text: r.total ? size(r.total.size) : r.status }),
        r.total ? h('span', { class: 'muted', text: `${count(r.total.count)} objects` }) : null,
      ),
    ),
  );

  const m = f.matrix;
  const body = m.types.map((type, t) =>
    h(
      'tr',
      { 'data-row': '', hidden: t >= 30 },
      h('td', {}, h('code', { text: type })),
      h('td', { class: 'num muted', text: size(m.medians[t]!) }),
      reps.map((_, i) => {
        const v = m.sizes[t]![i]!;
        const med = m.medians[t]!;
        const td = h('td', { class: `num${flagged.has(`${i}\u0000${type}`) ? ' outlier-cell' : ''}`, title: `${count(m.counts[t]![i]!)} objects`, text: v ? size(v) : '\u2013' });
        const r = med > 0 ? v / med : v > 0 ? 4 : 1;
        if (r > 1.05) td.style.background = `hsl(4 80% ${Math.max(74, 97 - Math.min(1, Math.log2(r) / 3) * 23)}%)`;
        else if (r < 0.95) td.style.background = `hsl(210 60% ${Math.max(80, 97 - Math.min(1, Math.log2(1 / Math.max(r, 0.01)) / 3) * 17)}%)`;
        return td;
      }),
    ),
  );
  const grid = h(
    'div',
    { class: 'table-wrap', 'data-table': 'fleet' },
    h(
      'table',
      { class: 'grid fleet' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { text: 'type' }),
          h('th', { class: 'num', text: 'median' }),
          reps.map((r, i) => h('th', { class: 'num' }, h('button', { class: 'link', onclick: () => open(i), text: r.label }))),
        ),
      ),
      h('tbody', {}, body),
    ),
  );
  if (body.length > 30) {
    const more = h(
      'button',
      {
        class: 'link',
        onclick: () => {
          for (const tr of body) tr.hidden = false;
          more.remove();
        },
      },
      `show all ${body.length} types`,
    );
    grid.append(h('div', { class: 'table-foot' }, more));
  }

  return h(
    'div',
    { class: 'stack' },
    hero,
    section(`${reps.length} ${unit} of ${f.target}`, cards),
    f.failures.length
      ? section(
          'Runs that failed',
          h(
            'ul',
            {},
            f.failures.map((x) => h('li', {}, h('b', { text: x.target }), `: ${x.error} (exit ${x.exitCode})`)),
          ),
        )
      : null,
    section(
      'Side by side: total size of each type',
      h('p', { class: 'muted', text: `Red: more than the median of the ${unit}, blue: less; outlined: an outlier.` }),
      grid,
      m.omitted ? h('p', { class: 'omitted', text: `${count(m.omitted)} smaller types not shown.` }) : null,
    ),
  );
}
