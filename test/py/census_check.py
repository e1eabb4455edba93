# Runs the census payload in this process, next to an exact reference walk (every object
# reachable from the GC's tracked set and the running frames, deduplicated with an id set),
# and prints both per-type counts as JSON. Used by test/payload.test.ts on every interpreter.
import gc
import json
import os
import sys
import threading
import time
import _thread

here = os.path.dirname(os.path.abspath(__file__))
payloads = os.path.join(here, '..', '..', 'payloads')
sys.path.insert(0, os.path.join(here, '..', 'fixtures'))

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000


class Record(object):
    def __init__(self, i):
        self.name = 'rec-%d' % i
        self.tags = ('t%d' % i, 'u%d' % i)
        self.blob = b'x' * (i % 50)
        self.nested = {'k': ('v%d' % i, float(i))} if i % 3 else None


records = [Record(i) for i in range(N)]
shared = tuple(records[:100])
gc.collect()
result = {}


def census_thread():
    ns = {'__name__': '__pyheap_census__'}
    exec(compile(open(os.path.join(payloads, 'python', 'pyheap_census.py'), 'rb').read(), 'census', 'exec'), ns)
    gc.disable()
    r = ns['run_census'](time.monotonic() + 600, time.monotonic, _thread.get_ident(), skip=(ns, result))
    ns.clear()
    census = {t['name']: t['count'] for t in r['types']}
    del r
    # the reference, in the same frozen heap
    stack = gc.get_objects()
    seen = set(map(id, stack))
    counts = {}
    seen.update((id(seen), id(counts), id(stack), id(census), id(result)))
    for ident, f in sys._current_frames().items():
        if ident != _thread.get_ident() and not gc.is_tracked(f) and sys.version_info < (3, 11):
            seen.add(id(f))
            stack.append(f)
    while stack:
        o = stack.pop()
        name = type(o).__module__ + '.' + type(o).__qualname__ if type(o).__module__ != 'builtins' else type(o).__qualname__
        counts[name] = counts.get(name, 0) + 1
        for ref in gc.get_referents(o):
            if id(ref) not in seen and not gc.is_tracked(ref):
                seen.add(id(ref))
                stack.append(ref)
    gc.enable()
    result['census'] = census
    result['reference'] = counts


t = threading.Thread(target=census_thread)
t.start()
t.join()
print(json.dumps(result))
