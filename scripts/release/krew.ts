// The krew manifest: rendered from the one template, .krew.yaml (krew-release-bot's syntax:
// `{{ .TagName }}` and `{{addURIAndSha "URL" .TagName }}`), with the sha256 of local archives;
// checked with krew's own rules (krew's pkg/index/validation and cmd/validate-krew-manifest).
import { load } from 'js-yaml';

export const KREW_TEMPLATE = '.krew.yaml';
export const KREW_MANIFEST = 'krew/pyheap.yaml';

const CALL = /\{\{\s*addURIAndSha\s+"([^"]+)"\s+\.TagName\s*\}\}/;
const TAG = /\{\{\s*\.TagName\s*\}\}/g;

export interface Rendered {
  text: string;
  /** URIs of platforms left out because their archive was not built here. */
  omitted: string[];
  uris: string[];
}

/**
 * Renders the template for `tag` (v1.2.3). `sha256(uri)` gives the archive's digest, or
 * undefined to leave that platform out of the manifest (its archive was not built here).
 */
export function renderTemplate(template: string, tag: string, sha256: (uri: string) => string | undefined): Rendered {
  const lines = template.split('\n');
  const start = lines.indexOf('  platforms:');
  if (start < 0) throw new Error(`${KREW_TEMPLATE}: no "  platforms:" line`);
  // the platform list items, each from its "  - " line to the next one
  const head = lines.slice(0, start + 1);
  const items: string[][] = [];
  let tail: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('  - ')) items.push([l]);
    else if (l === '' || l.startsWith('    ')) (items.at(-1) ?? head).push(l);
    else {
      tail = lines.slice(lines.indexOf(l));
      break;
    }
  }
  const omitted: string[] = [];
  const uris: string[] = [];
  const kept: string[] = [];
  for (const item of items) {
    const out: string[] = [];
    let skip = false;
    for (const l of item) {
      const m = CALL.exec(l);
      if (!m) {
        out.push(l);
        continue;
      }
      // krew-release-bot writes "uri: X\n    sha256: Y": the call must sit at 4 spaces
      if (!l.startsWith('    {{')) throw new Error(`${KREW_TEMPLATE}: addURIAndSha must start its line, indented by 4 spaces: ${l.trim()}`);
      const uri = m[1]!.replace(TAG, tag);
      const sha = sha256(uri);
      if (sha === undefined) {
        skip = true;
        omitted.push(uri);
        break;
      }
      uris.push(uri);
      out.push(l.replace(CALL, `uri: ${uri}\n    sha256: ${sha}`));
    }
    if (!skip) kept.push(...out);
  }
  const text = [...head, ...kept, ...tail].join('\n').replace(TAG, tag);
  const left = /\{\{[^}]*\}\}/.exec(text);
  if (left) throw new Error(`${KREW_TEMPLATE}: unsupported template action ${left[0]}`);
  return { text, omitted, uris };
}

// ---- krew's rules ------------------------------------------------------------------------

interface Selector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key: string; operator: string; values?: string[] }[] | null;
}
export interface KrewPlatform {
  selector?: Selector | null;
  uri?: string;
  sha256?: string;
  bin?: string;
  files?: { from: string; to: string }[];
}
export interface KrewPlugin {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: {
    version?: string;
    homepage?: string;
    shortDescription?: string;
    description?: string;
    caveats?: string;
    platforms?: KrewPlatform[];
  };
}

/** Every <os, arch> krew installs on (validate-krew-manifest's allPlatforms). */
export const KREW_OS_ARCH: [string, string][] = [
  ['windows', '386'],
  ['windows', 'amd64'],
  ['windows', 'arm64'],
  ['linux', '386'],
  ['linux', 'amd64'],
  ['linux', 'arm'],
  ['linux', 'arm64'],
  ['linux', 'ppc64le'],
  ['darwin', '386'],
  ['darwin', 'amd64'],
  ['darwin', 'arm64'],
];

export function selectorMatches(sel: Selector, os: string, arch: string): boolean {
  const labels: Record<string, string> = { os, arch };
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    const ok = e.operator === 'In' ? inValues : e.operator === 'NotIn' ? !inValues : e.operator === 'Exists' ? has : e.operator === 'DoesNotExist' ? !has : false;
    if (!ok) return false;
  }
  return true;
}

const SEMVER = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const WINDOWS_FORBIDDEN = ['con', 'prn', 'aux', 'nul', ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => [`com${i}`, `lpt${i}`])];

/** Lines may exceed max only if they are one word (validate-krew-manifest's validateLineLength). */
function lineTooLong(s: string, max: number): string | undefined {
  return s.split('\n').find((l) => l.length > max && l.trim().includes(' '));
}

function cleanPath(p: string): boolean {
  if (p === '.') return true;
  return p !== '' && !p.startsWith('/') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** The reasons krew (or krew-index review) would refuse this manifest; [] when none. */
export function validateManifest(fileName: string, doc: unknown): string[] {
  const errors: string[] = [];
  const p = doc as KrewPlugin;
  if (!fileName.endsWith('.yaml')) errors.push(`the file must end in .yaml, not ${fileName}`);
  const name = fileName.replace(/^.*\//, '').replace(/\.yaml$/, '');
  if (p?.apiVersion !== 'krew.googlecontainertools.github.com/v1alpha2') errors.push(`apiVersion is ${p?.apiVersion}`);
  if (p?.kind !== 'Plugin') errors.push(`kind is ${p?.kind}, not Plugin`);
  if (!/^[\w-]+$/.test(name) || WINDOWS_FORBIDDEN.includes(name.toLowerCase())) errors.push(`the plugin name ${name} is not allowed`);
  if (p?.metadata?.name !== name) errors.push(`metadata.name is ${p?.metadata?.name}, the file name says ${name}`);
  const s = p?.spec ?? {};
  if (!s.version || !SEMVER.test(s.version)) errors.push(`spec.version ${s.version} is not semver with a leading v`);
  if (!s.shortDescription) errors.push('spec.shortDescription is missing');
  else if (s.shortDescription.trim().includes('\n') || s.shortDescription.length > 70) errors.push('spec.shortDescription must be one line of at most 70 characters');
  if (!s.description?.trim()) errors.push('spec.description is missing');
  else if (lineTooLong(s.description, 80)) errors.push(`spec.description has a line over 80 characters: ${lineTooLong(s.description, 80)}`);
  if (s.caveats && lineTooLong(s.caveats, 80)) errors.push(`spec.caveats has a line over 80 characters: ${lineTooLong(s.caveats, 80)}`);
  const platforms = s.platforms ?? [];
  if (platforms.length === 0) errors.push('spec.platforms is empty');
  platforms.forEach((pl, i) => {
    const at = `spec.platforms[${i}]`;
    if (!pl.uri) errors.push(`${at}.uri is missing`);
    else if (!/\.(tar\.gz|zip)$/.test(pl.uri)) errors.push(`${at}.uri ${pl.uri} is neither .tar.gz nor .zip`);
    if (!pl.sha256 || !/^[a-f0-9]{64}$/.test(pl.sha256)) errors.push(`${at}.sha256 ${pl.sha256} is not 64 lowercase hex digits`);
    if (!pl.bin) errors.push(`${at}.bin is missing`);
    if (!pl.files?.length) errors.push(`${at}.files is empty`);
    for (const f of pl.files ?? []) if (!f.from || !cleanPath(f.to ?? '')) errors.push(`${at}.files entry ${JSON.stringify(f)} needs a from and a clean relative to`);
    const sel = pl.selector;
    if (!sel) {
      errors.push(`${at}.selector is missing`);
      return;
    }
    if (!sel.matchLabels && !sel.matchExpressions?.length) errors.push(`${at}.selector is empty`);
    if (sel.matchLabels && Object.keys(sel.matchLabels).length === 0) errors.push(`${at}.selector.matchLabels is empty`);
    const keys = [...Object.keys(sel.matchLabels ?? {}), ...(sel.matchExpressions ?? []).map((e) => e.key)];
    for (const k of keys) if (k !== 'os' && k !== 'arch') errors.push(`${at}.selector key ${k} is not supported`);
    const matched = KREW_OS_ARCH.filter(([os, arch]) => selectorMatches(sel, os, arch));
    if (matched.length === 0) errors.push(`${at}.selector matches no platform krew supports`);
    if (matched.some(([os]) => os === 'windows') && !pl.bin?.endsWith('.exe')) errors.push(`${at}.bin ${pl.bin} must end in .exe on Windows`);
  });
  for (const [os, arch] of KREW_OS_ARCH) {
    const hits = platforms.map((pl, i) => (pl.selector && selectorMatches(pl.selector, os, arch) ? i : -1)).filter((i) => i >= 0);
    if (hits.length > 1) errors.push(`spec.platforms ${hits.join(', ')} all select ${os}/${arch}`);
  }
  return errors;
}

export function parseManifest(text: string): KrewPlugin {
  return load(text) as KrewPlugin;
}
