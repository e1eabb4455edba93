// Writes report.html into a run's output directory (or where --html says) and returns its path,
// for the run's last line: `report: file://...`. Synchronous: a page is bounded (LIMITS) to a
// few hundred KiB, and the run's printing stays one straight sequence.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { classify } from './document.js';
import { renderReport } from './page.js';

export const REPORT_FILE = 'report.html';

/** Renders `doc` (any document `-o json` prints) to `file`: written whole or not at all. */
export function writeReportFile(file: string, doc: unknown, now = new Date()): string {
  const html = renderReport(classify(doc), { generated: now });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, html, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return path.resolve(file);
}

/** report.html in `outDir`. */
export function writeReport(outDir: string, doc: unknown, now = new Date()): string {
  return writeReportFile(path.join(outDir, REPORT_FILE), doc, now);
}

export const reportUrl = (file: string) => pathToFileURL(file).href;

/** report.html for a run: its path, or undefined (and a warning) if it could not be written;
 * a page that fails must not fail a run whose results are safe on disk. */
export function saveReport(outDir: string, doc: unknown, warn: (message: string) => void): string | undefined {
  try {
    return writeReport(outDir, doc);
  } catch (e) {
    warn(`could not write ${path.join(outDir, REPORT_FILE)}: ${(e as Error).message}; the results are in ${outDir}`);
    return undefined;
  }
}
