// The map of the heap: a treemap of retained size (from a snapshot) or of own size (the
// census), by module or by type, and the chains from the roots to the objects that retain most.
import type { RetainerRow } from '../document.js';
import type { RunView } from '../pageData.js';
import { count, h, omittedNote, section, size } from './dom.js';
import { byDominator, byModule, byType, treemapView, type Item, type Node } from './treemap.js';

export function chainEl(steps: string[]): HTMLElement {
  return h(
    'ol',
    { class: 'chain' },
    steps.map((s, i) => h('li', { class: i === 0 ? 'root' : i === steps.length - 1 ? 'last' : '' }, h('code', { text: s }))),
  );
}

function retainersList(rows: RetainerRow[], omitted: number): HTMLElement {
  return h(
    'div',
    { class: 'retainers', 'data-view': 'retainers' },
    rows.map((r, i) =>
      h(
        'details',
        { class: 'retainer', open: i < 5 },
        h(
          'summary',
          {},
          h('span', { class: 'num big', text: size(r.retained_size) }),
          ' ',
          h('code', { text: r.type }),
          h('span', { class: 'muted', text: ` own ${size(r.size)}, id 0x${r.id.toString(16)}` }),
        ),
        chainEl(r.chain),
      ),
    ),
    omittedNote(omitted, 'retainers'),
  );
}

interface Measure {
  key: string;
  label: string;
  total: number;
  types: number;
  note: string;
  tree(mode: 'module' | 'type'): Node;
  modes: boolean;
}

export function mapView(run: RunView): HTMLElement {
  const measures: Measure[] = [];
  const items = (xs: Item[]) => (mode: 'module' | 'type') => (mode === 'module' ? byModule(xs) : byType(xs));
  const r = run.retained;
  if (r?.tree) {
    const t = r.tree;
    measures.push({
      key: 'dominators',
      label: 'what holds what',
      total: t.total_size,
      types: 0,
      modes: false,
      tree: () => byDominator(t),
      note: `The dominator tree: each box is an object, its area what freeing it would free (retained size); inside it, what it alone holds. The ${count(t.nodes.length)} objects that retain the most are drawn; grey is the rest.`,
    });
  }
  if (r) {
    measures.push({
      key: 'retained',
      label: 'retained, by type',
      total: r.snapshot.bytes,
      types: r.byType.rows.length,
      modes: true,
      tree: items(r.byType.rows.map((x) => ({ name: x.name, value: x.retained_size, count: x.count }))),
      note: 'Retained size per type: what freeing every object of the type would free. One type\u2019s objects can hold another\u2019s (a Session holds its bytes), so these areas overlap and can add up to more than the heap.',
    });
  }
  if (run.types) {
    measures.push({
      key: 'own',
      label: 'own size, by type',
      total: run.header.total?.size ?? 0,
      types: run.types.rows.length,
      modes: true,
      tree: items(run.types.rows.map((x) => ({ name: x.name, value: x.size, count: x.count }))),
      note: 'Own size (sys.getsizeof) of every object of each type, from the census: the areas add up to the heap.',
    });
  }
  const holder = h('div', { class: 'tm-holder' });
  const note = h('p', { class: 'muted' });
  let measure = measures[0]!;
  let mode: 'module' | 'type' = 'module';
  const modeSeg = h(
    'span',
    { class: 'seg' },
    (['module', 'type'] as const).map((m) =>
      h(
        'button',
        {
          'data-choice': m,
          onclick: () => {
            mode = m;
            draw();
          },
        },
        `by ${m}`,
      ),
    ),
  );
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    measures.length > 1
      ? h(
          'span',
          { class: 'seg' },
          measures.map((m) =>
            h(
              'button',
              {
                'data-choice': m.key,
                onclick: () => {
                  measure = m;
                  draw();
                },
              },
              m.label,
            ),
          ),
        )
      : h('span', { class: 'muted', text: measure.label }),
    modeSeg,
  );
  function draw(): void {
    holder.replaceChildren(treemapView(measure.tree(mode), { name: measure.modes ? `${measure.key}-${mode}` : measure.key, measure: measure.label, total: measure.total, types: measure.types }).el);
    note.textContent = measure.note;
    modeSeg.hidden = !measure.modes;
    for (const b of toolbar.querySelectorAll<HTMLButtonElement>('button[data-choice]')) b.classList.toggle('on', b.dataset.choice === measure.key || b.dataset.choice === mode);
  }
  draw();
  const out = h('div', { class: 'stack' }, section(r ? 'Retained size' : 'Heap map', toolbar, holder, note));
  if (r) {
    const s = r.snapshot;
    out.append(
      section(
        'What holds the most: chains from the roots',
        h('p', {
          class: 'muted',
          text: `Snapshot of ${count(s.objects)} objects and ${count(s.references)} references (${size(s.bytes)}), ${count(s.roots)} roots, analysed in ${r.analysisSeconds.toFixed(2)} s. Each chain runs down the dominator tree: every step holds all that follows.${s.unrooted_objects ? ` ${count(s.unrooted_objects)} objects are reached from no module or running frame (held by C code, or garbage cycles).` : ''}`,
        }),
        retainersList(r.retainers.rows, r.retainers.omitted),
      ),
    );
  }
  return out;
}
