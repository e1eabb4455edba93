// `analyze FILE --html OUT`: where the page goes, checked before the (long) analysis, and the
// writing of it; bad paths are one usage error that names the flag.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { usageError } from '../../errors.js';
import { REPORT_FILE, reportUrl, writeReportFile } from './write.js';

/** OUT, or OUT/report.html when OUT is a directory; its directory must exist. */
export async function htmlTarget(out: string): Promise<string> {
  if (!out.trim()) throw usageError('--html needs a file name', 'e.g. --html report.html');
  const file = path.resolve(out);
  const st = await fs.stat(file).catch(() => null);
  if (st?.isDirectory()) return path.join(file, REPORT_FILE);
  const dir = await fs.stat(path.dirname(file)).catch(() => null);
  if (!dir?.isDirectory()) throw usageError(`cannot write --html ${out}: no directory ${path.dirname(file)}`, 'create it first, or give another path');
  return file;
}

export function writeHtml(file: string, doc: unknown): string {
  try {
    return reportUrl(writeReportFile(file, doc));
  } catch (e) {
    throw usageError(`cannot write --html ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'give a path you may write');
  }
}
