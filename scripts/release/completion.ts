// Shell completion in the archives. kubectl (>= 1.26) completes `kubectl pyheap ...` by running
// kubectl_complete-pyheap from PATH; the executable answers under that name (src/entry.ts).
// Unix archives carry it as a small script that runs the kubectl-pyheap next to it: a second
// copy of the 150 MB executable would double the download, and krew refuses archives holding
// hard or symbolic links (its tar extraction takes regular files and directories only). The
// Windows archive carries a copy named kubectl_complete-pyheap.exe (no sh there).

export const COMPLETION_SCRIPT = `#!/bin/sh
# kubectl_complete-pyheap: shell completion of \`kubectl pyheap\` (kubectl >= 1.26 runs this
# program with the words typed after \`kubectl pyheap\`). The kubectl-pyheap executable next to
# this file answers; links to this file are followed to find it.
self=$0
while [ -h "$self" ]; do
  link=$(readlink "$self") || break
  case $link in
    /*) self=$link ;;
    *) self=$(dirname "$self")/$link ;;
  esac
done
exec "$(dirname "$self")/kubectl-pyheap" __complete "$@"
`;
