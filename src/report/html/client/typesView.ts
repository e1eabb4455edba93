// The types table (sortable by count, size and share, filtered by name and by module) and the
// largest single objects.
import type { LargestRow, TypeRow } from '../document.js';
import type { Bounded } from '../pageData.js';
import { count, h, moduleOf, omittedNote, pct, section, size } from './dom.js';
import { table } from './table.js';

type Row = TypeRow & { module: string; share: number };

export function typesView(types: Bounded<TypeRow>, largest: Bounded<LargestRow> | null, total: { size: number; count: number } | null): HTMLElement {
  const all = total?.size ?? types.rows.reduce((s, t) => s + t.size, 0) + (types.omittedSize ?? 0);
  const rows: Row[] = types.rows.map((t) => ({ ...t, module: moduleOf(t.name), share: all ? t.size / all : 0 }));
  const max = Math.max(1, ...rows.map((r) => r.share));
  const t = table<Row>({
    name: 'types',
    rows,
    sort: { key: 'size', desc: true },
    columns: [
      { key: 'name', title: 'type', cell: (r) => h('code', { text: r.name }), value: (r) => r.name },
      { key: 'module', title: 'module', cell: (r) => r.module, value: (r) => r.module },
      { key: 'count', title: '# objects', numeric: true, cell: (r) => count(r.count), value: (r) => r.count },
      { key: 'size', title: 'total size', numeric: true, cell: (r) => size(r.size), value: (r) => r.size },
      { key: 'avg', title: 'per object', numeric: true, cell: (r) => size(Math.round(r.size / Math.max(1, r.count))), value: (r) => r.size / Math.max(1, r.count) },
      { key: 'share', title: 'share', numeric: true, cell: (r) => pct(r.share), value: (r) => r.share, bar: (r) => r.share / max },
    ],
  });
  const modules = [...new Set(rows.map((r) => r.module))].sort((a, b) => a.localeCompare(b));
  const name = h('input', { type: 'search', name: 'filter', placeholder: 'filter by name (regex or text)', 'aria-label': 'filter types by name' });
  const mod = h(
    'select',
    { name: 'module', 'aria-label': 'filter by module' },
    h('option', { value: '', text: `every module (${modules.length})` }),
    modules.map((m) => h('option', { value: m, text: m })),
  );
  const counter = h('span', { class: 'muted counter' });
  const apply = () => {
    let re: RegExp | null = null;
    try {
      re = name.value ? new RegExp(name.value, 'i') : null;
    } catch {
      re = null;
    }
    const text = name.value.toLowerCase();
    t.setFilter((r) => (!name.value || (re ? re.test(r.name) : r.name.toLowerCase().includes(text))) && (!mod.value || r.module === mod.value));
    counter.textContent = `${count(t.visible())} of ${count(rows.length)} types`;
  };
  name.addEventListener('input', apply);
  mod.addEventListener('change', apply);
  apply();
  const out = h(
    'div',
    { class: 'stack' },
    section(
      'Types, by total size',
      h('div', { class: 'toolbar' }, name, mod, counter),
      t.el,
      omittedNote(types.omitted, 'types', types.omittedSize ? ` (${size(types.omittedSize)} in ${count(types.omittedCount ?? 0)} objects)` : ''),
    ),
  );
  if (largest?.rows.length) {
    const l = table<LargestRow>({
      name: 'largest',
      rows: largest.rows,
      sort: { key: 'size', desc: true },
      page: 25,
      columns: [
        { key: 'size', title: 'size', numeric: true, cell: (r) => size(r.size), value: (r) => r.size },
        { key: 'type', title: 'type', cell: (r) => h('code', { text: r.type }), value: (r) => r.type },
        { key: 'id', title: 'id', cell: (r) => h('code', { class: 'muted', text: `0x${r.id.toString(16)}` }) },
      ],
    });
    out.append(section('Largest single objects', l.el, omittedNote(largest.omitted, 'objects')));
  }
  return out;
}
