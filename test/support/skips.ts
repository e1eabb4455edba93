// A node:test reporter that writes one line per skipped test ("file: name: reason") to its
// destination, so that the test command can list what did not run, and fail under CI=true: a
// test that cannot run says so, and CI does not pass without it.
import type { TestEvent } from 'node:test/reporters';

export default async function* skips(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  for await (const e of source) {
    if ((e.type === 'test:pass' || e.type === 'test:fail') && e.data.skip !== undefined && e.data.skip !== false) {
      const why = typeof e.data.skip === 'string' ? e.data.skip : 'skipped';
      yield `${e.data.file ?? '?'}: ${e.data.name}: ${why}\n`;
    }
  }
}
