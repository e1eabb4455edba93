// The Node.js this program needs (package.json's engines), checked before anything that needs it
// is imported: @kubernetes/client-node 2.x (its undici) fails on older ones with a stack trace.
// This module imports nothing, so that it loads on any Node.

export const MIN_NODE = [22, 19] as const;

/** Why this Node cannot run kubectl-pyheap, or undefined when it can. */
export function nodeTooOld(version = process.versions.node): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])) return undefined;
  return `kubectl-pyheap needs Node.js ${MIN_NODE.join('.')} or newer, and this is Node.js ${version}`;
}

export const NODE_HINT = 'install a newer Node.js, or use the standalone executable from the release (it needs no Node.js)';
