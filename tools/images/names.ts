// Which recipe an image name in a manifest stands for: the agent image (any tag), python:3.X
// with any suffix (-slim, -bookworm, a patch version) and any registry, debian:12 and
// debian:bookworm, and robustadev/debug-toolkit:v6.0. Anything else has no recipe: a pull
// of it fails, as for an image that does not exist.

export const AGENT_REPOSITORY = 'ghcr.io/kubectl-pyheap/agent';

/** repository (registry and path, docker.io/library/ dropped) and tag ('latest' if none). */
export function splitImage(image: string): { repo: string; tag: string } {
  const noDigest = image.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const hasTag = colon > slash;
  const repo = (hasTag ? noDigest.slice(0, colon) : noDigest).replace(/^(docker\.io\/)?(library\/)?/, '');
  return { repo, tag: hasTag ? noDigest.slice(colon + 1) : 'latest' };
}

/** The recipe name for an image, or undefined when no recipe makes it. */
export function recipeNameFor(image: string): string | undefined {
  const { repo, tag } = splitImage(image.trim());
  if (repo === AGENT_REPOSITORY) return 'agent';
  if (repo === 'python') {
    const m = /^3\.(\d+)(?:$|[.-])/.exec(tag);
    const minor = m ? Number(m[1]) : NaN;
    return minor >= 8 && minor <= 15 ? `python-3.${minor}` : undefined;
  }
  if (repo === 'debian') return /^(12|bookworm)(?:$|[.-])/.test(tag) ? 'debian-12' : undefined;
  if (repo === 'robustadev/debug-toolkit' && tag === 'v6.0') return 'debug-toolkit-v6.0';
  return undefined;
}
