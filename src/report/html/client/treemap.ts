// A treemap that drills down and back: sizes by module (each dotted level a group, the types
// its leaves) or by type. Layout by d3-hierarchy (squarified); drawn as positioned boxes, two
// levels at a time; a click on a group goes into it, the breadcrumb (or Escape) comes back.
import { hierarchy, treemap, treemapSquarify, type HierarchyNode, type HierarchyRectangularNode } from 'd3-hierarchy';
import type { DominatorTreeDoc } from '../document.js';
import { clear, count, h, moduleOf, pct, shortName, size } from './dom.js';

export interface Item {
  name: string;
  value: number;
  count: number;
}
/** value: a leaf's size, or what a group holds beyond its children (d3 adds the children). */
export interface Node {
  name: string;
  path: string;
  value?: number;
  count?: number;
  type?: string;
  detail?: string;
  rest?: boolean;
  children?: Node[];
}

/** Modules nest by their dots ("app" > "app.models"), each type a leaf of its module. */
export function byModule(items: Item[]): Node {
  const root: Node = { name: 'all', path: '', children: [] };
  const groups = new Map<string, Node>([['', root]]);
  const group = (path: string): Node => {
    const found = groups.get(path);
    if (found) return found;
    const dot = path.lastIndexOf('.');
    const parent = group(dot > 0 ? path.slice(0, dot) : '');
    const g: Node = { name: dot > 0 ? path.slice(dot + 1) : path, path, children: [] };
    parent.children!.push(g);
    groups.set(path, g);
    return g;
  };
  for (const it of items) {
    if (it.value <= 0) continue;
    group(moduleOf(it.name)).children!.push({ name: shortName(it.name), path: `${moduleOf(it.name)}:${it.name}`, value: it.value, count: it.count, type: it.name });
  }
  return root;
}

export const byType = (items: Item[]): Node => ({
  name: 'all',
  path: '',
  children: items.filter((i) => i.value > 0).map((i) => ({ name: i.name, path: `:${i.name}`, value: i.value, count: i.count, type: i.name })),
});

function hue(s: string): number {
  let x = 0;
  for (let i = 0; i < s.length; i++) x = (x * 31 + s.charCodeAt(i)) >>> 0;
  return x % 360;
}

/** The top of the dominator tree: each object's area is its retained size, its children's areas
 * inside it; what its unlisted children and its own size add up to is one grey cell. */
export function byDominator(t: DominatorTreeDoc): Node {
  const nodes: Node[] = t.nodes.map((n, i) => ({
    name: n.root?.startsWith('module ') ? n.root : n.root ? `${shortName(n.type)} (${n.root})` : shortName(n.type),
    path: `d${i}`,
    type: n.type,
    value: n.retained_size,
    detail: `${n.type} id 0x${n.id.toString(16)}${n.root ? ` (${n.root})` : ''}: retains ${size(n.retained_size)}, own ${size(n.size)}, dominates ${count(n.children)} objects directly`,
  }));
  const root: Node = { name: 'all', path: '', children: [] };
  t.nodes.forEach((n, i) => {
    const parent = n.parent >= 0 ? nodes[n.parent]! : root;
    (parent.children ??= []).push(nodes[i]!);
  });
  const retainedOf = new Map<Node, number>(nodes.map((x, i) => [x, t.nodes[i]!.retained_size]));
  /** A group's children are its listed dominator children and one cell for the rest. */
  const settle = (x: Node, total: number, label: string) => {
    if (!x.children?.length) return;
    const held = x.children.reduce((s, c) => s + (retainedOf.get(c) ?? 0), 0);
    const rest = Math.max(0, total - held);
    if (rest > 0) x.children.push({ name: label, path: `${x.path}~`, value: rest, rest: true, detail: `${label}: ${size(rest)}` });
    x.value = 0;
  };
  t.nodes.forEach((n, i) => settle(nodes[i]!, n.retained_size, `own size + ${count(Math.max(0, n.children - (nodes[i]!.children?.length ?? 0)))} smaller`));
  settle(root, t.total_size, 'objects that retain less');
  return root;
}

export interface TreemapHandle {
  el: HTMLElement;
  focus(path: string): void;
  current(): string;
}

export function treemapView(data: Node, o: { name: string; measure: string; total: number; types: number }): TreemapHandle {
  const tree = hierarchy<Node>(data)
    .sum((d) => d.value ?? 0)
    .sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
  const index = new Map<string, HierarchyNode<Node>>();
  tree.each((n) => index.set(n.data.path, n));
  const crumbs = h('nav', { class: 'tm-crumbs', 'aria-label': 'treemap position' });
  const box = h('div', { class: 'tm-box', role: 'group', 'data-treemap': o.name, tabIndex: 0 });
  const info = h('div', { class: 'tm-info muted', text: 'Click a group to go into it; the path above (or Escape) brings you back.' });
  const el = h('div', { class: 'treemap' }, crumbs, box, info);
  let focus = tree;

  function label(n: HierarchyNode<Node>): string {
    return n.data.detail ?? n.data.type ?? (n.data.path || 'everything');
  }

  function draw(): void {
    clear(crumbs);
    const chain = focus.ancestors().reverse();
    chain.forEach((n, i) => {
      if (i) crumbs.append(h('span', { class: 'sep', text: '\u203A' }));
      const last = i === chain.length - 1;
      crumbs.append(
        h(
          'button',
          { class: `crumb${last ? ' here' : ''}`, disabled: last, 'data-path': n.data.path, onclick: () => set(n) },
          i === 0 ? `all (${size(n.value ?? 0)})` : `${n.data.name} (${size(n.value ?? 0)})`,
        ),
      );
    });
    clear(box);
    const W = Math.max(320, box.clientWidth || 960);
    const H = Math.max(240, box.clientHeight || 480);
    const sub = focus
      .copy()
      .sum((d) => d.value ?? 0)
      .sort((a, b) => (b.value ?? 0) - (a.value ?? 0));
    const laid = treemap<Node>()
      .tile(treemapSquarify)
      .size([W, H])
      .paddingInner(2)
      .paddingOuter(2)
      .paddingTop((n) => (n.depth === 1 && n.children ? 18 : 2))
      .round(true)(sub);
    const frag = document.createDocumentFragment();
    for (const n of laid.descendants()) {
      if (n.depth === 0 || n.depth > 2) continue;
      if (n.depth === 2 && n.parent && !n.parent.children) continue;
      frag.append(cell(n));
    }
    box.append(frag);
    info.textContent =
      focus === tree
        ? `${o.measure}: ${size(tree.value ?? 0)}${o.types ? ` in ${count(o.types)} types` : ''}. Click a group to go into it; the path above (or Escape) brings you back.`
        : `${label(focus)}: ${size(focus.value ?? 0)}, ${pct((focus.value ?? 0) / Math.max(1, o.total))} of the whole. Escape goes back up.`;
  }

  function cell(n: HierarchyRectangularNode<Node>): HTMLElement {
    const w = n.x1 - n.x0,
      ht = n.y1 - n.y0;
    const top = n.depth === 1 ? n : n.parent!;
    const group = Boolean(n.children);
    const c = h('div', {
      class: `tm-cell d${n.depth}${group ? ' group' : ' leaf'}${n.data.rest ? ' rest' : ''}`,
      'data-path': n.data.path,
      title: `${label(n)}\n${size(n.value ?? 0)} (${pct((n.value ?? 0) / Math.max(1, o.total))})${n.data.count !== undefined ? `\n${count(n.data.count)} objects` : ''}`,
    });
    Object.assign(c.style, { left: `${n.x0}px`, top: `${n.y0}px`, width: `${w}px`, height: `${ht}px` });
    const light = n.depth === 1 && group ? 93 : group ? 85 : 74;
    c.style.background = n.data.rest ? '#eceef1' : `hsl(${hue(top.data.type ?? top.data.path ?? top.data.name)} 45% ${light}%)`;
    if (w > 44 && ht > 15) {
      c.append(h('span', { class: 'tm-label' }, h('b', { text: n.data.name }), w > 110 ? ` ${size(n.value ?? 0)}` : ''));
    }
    // a group at either level is somewhere to go; a leaf at the top level shows what it is
    const target = n.depth === 1 ? n : n.parent!;
    c.addEventListener('click', (e) => {
      e.stopPropagation();
      const into = target.children ? index.get(target.data.path) : undefined;
      if (into?.children) set(into);
      else info.textContent = `${label(n)}: ${size(n.value ?? 0)}${n.data.count !== undefined ? `, ${count(n.data.count)} objects` : ''}`;
    });
    return c;
  }

  function set(n: HierarchyNode<Node>): void {
    focus = n;
    draw();
  }
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && focus.parent) set(focus.parent);
  });
  // drawn once it is in the document and has a width
  requestAnimationFrame(draw);
  return {
    el,
    focus(path) {
      const n = index.get(path);
      if (n) set(n);
    },
    current: () => focus.data.path,
  };
}
