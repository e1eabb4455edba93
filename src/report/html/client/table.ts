// A sortable, filterable table: columns say how to show and how to compare a row; clicking a
// header sorts by it (again: the other way); filters narrow the rows as the user types.
import { clear, h, type Child } from './dom.js';

export interface Column<T> {
  key: string;
  title: string;
  /** Text or node of a cell. */
  cell(row: T): Child;
  /** What sorts; absent: not sortable. */
  value?(row: T): number | string;
  numeric?: boolean;
  /** A bar drawn behind the cell, 0..1. */
  bar?(row: T): number;
  title_?: (row: T) => string;
}

export interface TableOptions<T> {
  name: string;
  columns: Column<T>[];
  rows: T[];
  sort: { key: string; desc: boolean };
  /** How many rows to draw at first; "show all" draws the rest. */
  page?: number;
  empty?: string;
  rowClass?(row: T): string | undefined;
}

export interface TableHandle<T> {
  el: HTMLElement;
  setFilter(f: (row: T) => boolean): void;
  visible(): number;
}

export function table<T>(o: TableOptions<T>): TableHandle<T> {
  let sort = { ...o.sort };
  let filter: (row: T) => boolean = () => true;
  let limit = o.page ?? 100;
  const thead = h('thead');
  const tbody = h('tbody');
  const foot = h('div', { class: 'table-foot' });
  const el = h('div', { class: 'table-wrap', 'data-table': o.name }, h('table', { class: 'grid' }, thead, tbody), foot);
  let shown: T[] = [];

  function head(): void {
    clear(thead);
    thead.append(
      h(
        'tr',
        {},
        o.columns.map((c) => {
          const active = sort.key === c.key;
          const th = h(
            'th',
            {
              class: `${c.numeric ? 'num' : ''}${c.value ? ' sortable' : ''}${active ? ' sorted' : ''}`,
              'data-sort': c.key,
              'aria-sort': active ? (sort.desc ? 'descending' : 'ascending') : undefined,
              title: c.value ? `sort by ${c.title}` : undefined,
            },
            c.title,
            active ? h('span', { class: 'arrow', text: sort.desc ? ' \u25BE' : ' \u25B4' }) : null,
          );
          if (c.value)
            th.addEventListener('click', () => {
              sort = sort.key === c.key ? { key: c.key, desc: !sort.desc } : { key: c.key, desc: Boolean(c.numeric) };
              draw();
            });
          return th;
        }),
      ),
    );
  }

  function draw(): void {
    head();
    const col = o.columns.find((c) => c.key === sort.key);
    const rows = o.rows.filter(filter);
    if (col?.value) {
      const v = col.value;
      rows.sort((a, b) => {
        const x = v(a),
          y = v(b);
        const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return sort.desc ? -r : r;
      });
    }
    shown = rows;
    clear(tbody);
    const frag = document.createDocumentFragment();
    for (const row of rows.slice(0, limit)) {
      frag.append(
        h(
          'tr',
          { 'data-row': '', class: o.rowClass?.(row) },
          o.columns.map((c) => {
            const b = c.bar?.(row);
            const td = h('td', { class: c.numeric ? 'num' : '', title: c.title_?.(row) }, b !== undefined ? h('span', { class: 'over-bar' }, c.cell(row)) : c.cell(row));
            if (b !== undefined && b > 0) td.prepend(barEl(b));
            return td;
          }),
        ),
      );
    }
    if (rows.length === 0) frag.append(h('tr', {}, h('td', { class: 'empty', colSpan: o.columns.length, text: o.empty ?? 'no rows match' })));
    tbody.append(frag);
    clear(foot);
    if (rows.length > limit) {
      foot.append(
        h(
          'button',
          {
            class: 'link',
            onclick: () => {
              limit = Infinity;
              draw();
            },
          },
          `show all ${rows.length.toLocaleString('en-US')} rows`,
        ),
      );
    }
  }
  draw();
  return {
    el,
    setFilter(f) {
      filter = f;
      draw();
    },
    visible: () => shown.length,
  };
}

function barEl(x: number): HTMLElement {
  const b = h('span', { class: 'bar' });
  b.style.width = `${Math.max(0.5, Math.min(100, x * 100)).toFixed(1)}%`;
  return b;
}
