// The page's script and styles, bundled from client/ by scripts/report-asset.ts at build time
// into build/src/report/html/asset.js (generated, not in git).
export declare const SCRIPT: string;
export declare const STYLE: string;
