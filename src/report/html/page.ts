// One self-contained HTML page from a run's JSON document: the data, the script and the styles
// inline, and a Content-Security-Policy that lets the page reach no host at all (nothing to
// load, nothing to send), so it opens offline from the file in any current browser.
import { createHash } from 'node:crypto';
import { SCRIPT, STYLE } from './asset.js';
import type { ReportInput } from './document.js';
import { pageData, type BuildOptions } from './model.js';

/** JSON that is safe inside <script>: no "</script>", no HTML comment openers, no U+2028. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

export function renderReport(input: ReportInput, o: BuildOptions): string {
  const data = pageData(input, o);
  const script = SCRIPT.replace(/<\/script/gi, '<\\/script');
  const csp = `default-src 'none'; script-src ${sha256(script)}; style-src ${sha256(STYLE)}; img-src data:; base-uri 'none'; form-action 'none'`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="${escapeHtml(data.tool)}">
<title>${escapeHtml(`pyheap: ${data.title}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<noscript>This report needs JavaScript to draw its views; the data is in census.json next to it.</noscript>
<div id="app"></div>
<script id="pyheap-data" type="application/json">${embedJson(data)}</script>
<script>${script}</script>
</body>
</html>
`;
}
