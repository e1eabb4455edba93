// Building DOM nodes without innerHTML: every string from the target (type names, file names,
// thread names) becomes text, never markup.
export type Child = Node | string | number | null | undefined | false;
type Props = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else if (k in el && k !== 'list' && k !== 'type') (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild) el.firstChild.remove();
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
export function size(n: number): string {
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const s = i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${UNITS[i]}`;
  return n < 0 ? `-${s}` : s;
}
export const count = (n: number) => Math.round(n).toLocaleString('en-US');
export const signed = (n: number, f: (x: number) => string = count) => (n > 0 ? `+${f(n)}` : n < 0 ? `\u2212${f(-n)}` : '0');
export const pct = (x: number) => (x >= 0.1 ? `${(x * 100).toFixed(1)}%` : x > 0 ? `${(x * 100).toFixed(2)}%` : '0%');

/** "app.models.Session" -> "app.models"; a builtin has no module in its name. */
export function moduleOf(name: string): string {
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(0, i) : 'builtins';
}
export const shortName = (name: string) => name.slice(name.lastIndexOf('.') + 1);

/** "N more rows (X) not embedded" for a bounded view. */
export function omittedNote(omitted: number, what: string, extra = ''): HTMLElement | null {
  return omitted > 0 ? h('p', { class: 'omitted', text: `${count(omitted)} more ${what}${extra} not embedded in this page; the JSON document has them all.` }) : null;
}

export function section(title: string, ...children: (Child | Child[])[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', { text: title }), ...children);
}
