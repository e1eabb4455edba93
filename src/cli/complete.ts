// Shell completion of `kubectl pyheap`, the pure half. kubectl (>= 1.26) runs
// kubectl_complete-pyheap with the words typed after `kubectl pyheap`, the last one being the
// word under the cursor ('' for a new word), and reads one candidate per line; a last line
// `:<n>` is cobra's ShellCompDirective (kubectl's pkg/cmd/plugin/plugin.go, pluginCompletion and
// getPluginCompletions). analyze() reads the words as the CLI's yargs parser will; plan() says
// what to offer; completeMain.ts fetches the names (cluster, kubeconfig) and render() prints them.
import { HELP_FLAG, KUBE_FLAGS, kubeFlags, RUN_FLAGS, type FlagSpec, type KubeCliFlags, type ValueKind } from './flags.js';
import type { KubeFlags } from '../kube/kubeconfig.js';
import { parseTarget, TARGET_KINDS, type Target, type WorkloadResource } from '../target/target.js';

/** cobra's ShellCompDirective bits. */
export const DIRECTIVE = { default: 0, error: 1, noSpace: 2, noFileComp: 4, filterFileExt: 8, filterDirs: 16, keepOrder: 32 } as const;

/** The subcommands, offered where a TARGET may be typed, with their own flags. */
export const SUBCOMMANDS: Record<string, { describe: string; flags: string[] }> = {
  analyze: { describe: 'retained sizes of a saved snapshot.pyheap, offline', flags: ['output', 'top', 'help'] },
};

export type { ValueKind } from './flags.js';

export interface FlagDef {
  name: string;
  /** One-letter alias (-n). */
  short?: string;
  /** Other long names (yargs also takes camelCase: --outDir). */
  aliases: string[];
  takesValue: boolean;
  /** array flags: repeatable, and greedy like yargs (--as-group a b takes both words). */
  repeatable: boolean;
  describe: string;
  value: ValueKind;
}

function toDef(name: string, s: FlagSpec): FlagDef {
  const repeatable = Boolean(s.array);
  return {
    name,
    ...(s.alias !== undefined ? { short: s.alias } : {}),
    aliases: [],
    takesValue: s.type !== 'boolean' || repeatable,
    repeatable,
    describe: s.describe.replace(/\s+/g, ' '),
    value: s.value ?? 'none',
  };
}

let flagCache: FlagDef[] | undefined;

/** Every flag of `kubectl pyheap`: the CLI's own and the Kubernetes ones, from their table. */
export function completionFlags(): FlagDef[] {
  return (flagCache ??= Object.entries({ ...RUN_FLAGS, ...KUBE_FLAGS, help: HELP_FLAG } as Record<string, FlagSpec>).map(([n, s]) => toDef(n, s)));
}

// ---- reading the words --------------------------------------------------------------------

export type Current =
  | { kind: 'flag-name'; text: string }
  | { kind: 'flag-value'; flag: FlagDef; text: string }
  /** index: of the positional being typed; -1 after `--` (yargs gives those words to none). */
  | { kind: 'positional'; index: number; text: string };

export interface Analysis {
  /** Flag name -> the values given, in order ("true"/"false" for booleans). */
  values: Map<string, string[]>;
  positionals: string[];
  current: Current;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const NUMBER = /^-\d+(\.\d*)?$/;

/** Reads the words typed after `kubectl pyheap` (the last one is being completed) as yargs would. */
export function analyze(words: string[], flags: FlagDef[] = completionFlags()): Analysis {
  const byLong = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  for (const f of flags) {
    for (const n of [f.name, ...f.aliases]) byLong.set(n, f);
    if (f.short) byShort.set(f.short, f);
  }
  const long = (name: string) => byLong.get(name) ?? byLong.get(kebab(name));
  const values = new Map<string, string[]>();
  const add = (f: FlagDef, v: string) => values.set(f.name, [...(values.get(f.name) ?? []), v]);
  const positionals: string[] = [];
  const before = words.slice(0, -1);
  const text = words.at(-1) ?? '';
  let pending: FlagDef | undefined; // a flag whose value is the next word
  let greedy: FlagDef | undefined; // an array flag that takes the words that follow
  let dashdash = false;
  const isFlag = (w: string) => !dashdash && w.startsWith('-') && w.length > 1 && !NUMBER.test(w);

  for (const w of before) {
    if (pending) {
      add(pending, w);
      greedy = pending.repeatable ? pending : undefined;
      pending = undefined;
      continue;
    }
    if (!dashdash && w === '--') {
      dashdash = true;
      greedy = undefined;
      continue;
    }
    if (isFlag(w)) {
      greedy = undefined;
      if (w.startsWith('--')) {
        const eq = w.indexOf('=');
        const name = w.slice(2, eq < 0 ? undefined : eq);
        const f = long(name);
        if (!f && name.startsWith('no-') && long(name.slice(3)) && !long(name.slice(3))!.takesValue) {
          add(long(name.slice(3))!, 'false');
          continue;
        }
        if (!f) continue; // unknown: the CLI will refuse it; read on
        if (eq >= 0) {
          add(f, w.slice(eq + 1));
          greedy = f.repeatable ? f : undefined;
        } else if (f.takesValue) pending = f;
        else add(f, 'true');
        continue;
      }
      // -abc as yargs-parser reads it: letters, one of which takes what follows it only after
      // "=" or another non-word character (-n=shop) or when that is a number; the last letter
      // takes the next word
      const letters = w.slice(1);
      let rest: string | undefined;
      let i = 0;
      for (; i < letters.length - 1; i++) {
        const after = letters.slice(i + 1);
        if (after.startsWith('=')) {
          rest = after.slice(1);
          break;
        }
        if (/^-?\d+(\.\d*)?(e-?\d+)?$/.test(after) || /^\W/.test(after)) {
          rest = after;
          break;
        }
        const f = byShort.get(letters[i]!);
        if (f) add(f, f.takesValue ? '' : 'true');
      }
      const f = byShort.get(letters[i]!);
      if (!f) continue;
      if (rest !== undefined) {
        add(f, rest);
        greedy = f.repeatable ? f : undefined;
      } else if (f.takesValue) pending = f;
      else add(f, 'true');
      continue;
    }
    if (greedy) {
      add(greedy, w);
      continue;
    }
    if (!dashdash) positionals.push(w); // yargs gives the words after -- to no positional
  }

  let current: Current;
  if (pending) current = { kind: 'flag-value', flag: pending, text };
  else if (isFlag(text) || text === '-') {
    const m = /^--([^=]+)=(.*)$/s.exec(text) ?? /^-([A-Za-z])=(.*)$/s.exec(text);
    const f = m ? (m[1]!.length === 1 ? byShort.get(m[1]!) : long(m[1]!)) : undefined;
    current = f?.takesValue ? { kind: 'flag-value', flag: f, text: m![2]! } : { kind: 'flag-name', text };
  } else if (greedy && !dashdash) current = { kind: 'flag-value', flag: greedy, text };
  else current = { kind: 'positional', index: dashdash ? -1 : positionals.length, text };
  return { values, positionals, current };
}

const last = (a: Analysis, name: string) => a.values.get(name)?.at(-1);

/** The connection flags typed so far (--kubeconfig, --context, -n, --server, ...), for the API calls. */
export function connectionFlags(a: Analysis): KubeFlags {
  const f: Partial<KubeCliFlags> = {};
  for (const k of ['kubeconfig', 'context', 'cluster', 'user', 'namespace', 'as', 'token', 'server', 'request-timeout'] as const) {
    const v = last(a, k);
    if (v !== undefined) f[k] = v;
  }
  const groups = a.values.get('as-group');
  if (groups) f['as-group'] = groups;
  if (last(a, 'insecure-skip-tls-verify') === 'true') f['insecure-skip-tls-verify'] = true;
  try {
    return kubeFlags(f as KubeCliFlags);
  } catch {
    const { 'request-timeout': _t, ...rest } = f; // a bad --request-timeout: the default bound then
    return kubeFlags(rest as KubeCliFlags);
  }
}

// ---- what to offer ------------------------------------------------------------------------

export type Source =
  | { kind: 'static'; values: string[] }
  /** Pod names and deploy/, sts/, ds/ NAME of the namespace. */
  | { kind: 'targets' }
  /** NAMEs of one resource, written after the kind the user typed (pod/, deployment/, rs/...). */
  | { kind: 'objects'; resource: 'pods' | WorkloadResource; typed: string }
  | { kind: 'containers'; target: Exclude<Target, { kind: 'pid' }> }
  | { kind: 'namespaces' | 'contexts' | 'clusters' | 'users' | 'labels' | 'image' };

export interface Plan {
  source: Source;
  /** Only candidates starting with this are offered. */
  prefix: string;
  /** Prepended to every fetched name (the kind of pod/NAME, the earlier terms of a selector). */
  head: string;
  /** Offered whatever the cluster says (subcommands). */
  extra: string[];
  directive: number;
  /** The candidates are not names but file extensions (FilterFileExt): no prefix filter. */
  raw?: boolean;
}

const none = (prefix = '', directive: number = DIRECTIVE.noFileComp): Plan => ({ source: { kind: 'static', values: [] }, prefix, head: '', extra: [], directive });
const fixed = (values: string[], prefix: string, directive: number = DIRECTIVE.noFileComp): Plan => ({ source: { kind: 'static', values }, prefix, head: '', extra: [], directive });
const fetch = (source: Source, prefix: string, head = '', extra: string[] = []): Plan => ({ source, prefix, head, extra, directive: DIRECTIVE.noFileComp });

/** The Kubernetes target typed so far (TARGET or -l), for -c. */
function typedTarget(a: Analysis): Exclude<Target, { kind: 'pid' }> | undefined {
  const sel = last(a, 'selector');
  if (sel?.trim()) return { kind: 'selector', selector: sel.trim() };
  const t = a.positionals[0];
  if (t === undefined || t in SUBCOMMANDS) return undefined;
  try {
    const parsed = parseTarget(t);
    return parsed.kind === 'pid' ? undefined : parsed;
  } catch {
    return undefined;
  }
}

export function plan(a: Analysis, flags: FlagDef[] = completionFlags()): Plan {
  const c = a.current;
  const sub = a.positionals[0] !== undefined && a.positionals[0] in SUBCOMMANDS ? a.positionals[0] : undefined;
  if (c.kind === 'flag-name') {
    const allowed = sub ? flags.filter((f) => SUBCOMMANDS[sub]!.flags.includes(f.name)) : flags;
    // like cobra: a flag already given is not offered again, unless it is repeatable
    const lines: string[] = [];
    for (const f of allowed) {
      if (a.values.has(f.name) && !f.repeatable) continue;
      const desc = f.describe ? `\t${f.describe}` : '';
      lines.push(`--${f.name}${desc}`);
      if (f.short) lines.push(`-${f.short}${desc}`);
    }
    return fixed(lines, c.text);
  }
  if (c.kind === 'flag-value') {
    const t = c.text;
    switch (c.flag.value) {
      case 'namespace':
        return fetch({ kind: 'namespaces' }, t);
      case 'context':
        return fetch({ kind: 'contexts' }, t);
      case 'cluster':
        return fetch({ kind: 'clusters' }, t);
      case 'user':
        return fetch({ kind: 'users' }, t);
      case 'image':
        return fetch({ kind: 'image' }, t);
      case 'output':
        return fixed(['table', 'json'], t);
      case 'python-file':
        return { ...fixed(['py'], t, DIRECTIVE.filterFileExt), raw: true };
      case 'file':
        return none(t, DIRECTIVE.default);
      case 'dir':
        return none(t, DIRECTIVE.filterDirs);
      case 'container': {
        const target = typedTarget(a);
        return target ? fetch({ kind: 'containers', target }, t) : none(t);
      }
      case 'selector': {
        // app=web,tier=fr<TAB>: complete the last term, keep the ones before
        const comma = t.lastIndexOf(',');
        return fetch({ kind: 'labels' }, t, t.slice(0, comma + 1));
      }
      default:
        return none(t);
    }
  }
  const t = c.text;
  if (sub) return c.index === 1 ? { ...fixed(['pyheap'], t, DIRECTIVE.filterFileExt), raw: true } : none(t);
  // one TARGET, and none with -l or --cleanup
  if (c.index !== 0 || a.values.has('selector') || last(a, 'cleanup') === 'true') return none(t);
  const slash = t.indexOf('/');
  if (slash >= 0) {
    const typed = t.slice(0, slash);
    const resource = TARGET_KINDS[typed.toLowerCase().replace(/\.apps$/, '')];
    return resource ? fetch({ kind: 'objects', resource, typed }, t, `${typed}/`) : none(t);
  }
  return fetch({ kind: 'targets' }, t, '', Object.keys(SUBCOMMANDS));
}

/** What kubectl reads: the candidates that fit, one a line, then `:<directive>`. */
export function render(p: Plan, names: string[] = p.source.kind === 'static' ? p.source.values : []): string {
  const all = p.raw ? names : [...names.map((n) => p.head + n), ...p.extra];
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const l of all) {
    const word = l.split('\t')[0]!;
    if (!word || /[\n\r]/.test(l) || seen.has(word) || (!p.raw && !word.startsWith(p.prefix))) continue;
    seen.add(word);
    lines.push(l);
  }
  return `${lines.map((l) => `${l}\n`).join('')}:${p.directive}\n`;
}

/** The plan for these words: analyze() then plan(). */
export function planFor(words: string[]): { analysis: Analysis; plan: Plan } {
  const flags = completionFlags();
  const analysis = analyze(words.length ? words : [''], flags);
  return { analysis, plan: plan(analysis, flags) };
}
