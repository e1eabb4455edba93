# Runs the census payload in this process, next to an exact reference walk (every object
# reachable from the GC's tracked set and the running frames, deduplicated with an id set),
# and prints both per-type counts (and sizes of this file's own types, computed one object at a
# time) as JSON, with the counts of a second census taken as --growth takes it (the first one's
# rows passed as our own data). Used by test/payload.test.ts on every interpreter.
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


class Mixed(object):
    """Instances in every state the census sizes differently: slots and values, only a dict as
    attribute, a __dict__ read on purpose, more attributes than the shared keys hold."""
    __slots__ = ('s', '__dict__')

    def __init__(self, i):
        self.s = i
        if i % 4 == 0:
            self.only = {'k': i}
        else:
            self.a = 'a%d' % i
            self.b = i
        if i % 5 == 0:
            self.__dict__
        if i % 97 == 0:
            for k in range(35):
                setattr(self, 'w%d' % k, k)


records = [Record(i) for i in range(N)]
mixed = [Mixed(i) for i in range(N // 10)]
shared = tuple(records[:100])
gc.collect()
result = {}


def census_thread():
    ns = {'__name__': '__pyheap_census__'}
    for name in ('pyheap_census.py', 'pyheap_sizes.py'):
        exec(compile(open(os.path.join(payloads, 'python', name), 'rb').read(), name, 'exec'), ns)
    gc.disable()
    r = ns['run_census'](time.monotonic() + 600, time.monotonic, _thread.get_ident(), skip=(ns, result))
    # a second census, as --growth takes it: the first one's rows are our data, not the target's
    again = ns['run_census'](time.monotonic() + 600, time.monotonic, _thread.get_ident(), skip=(ns, result), results=(r,))
    ns.clear()
    census = {t['name']: t['count'] for t in r['types']}
    result['again'] = {t['name']: t['count'] for t in again['types']}
    del again
    census_sizes = {t['name']: t['size'] for t in r['types'] if t['name'].startswith('__main__.')}
    del r
    # the reference, in the same frozen heap
    stack = gc.get_objects()
    seen = set(map(id, stack))
    counts = {}
    sizes = {}
    seen.update((id(seen), id(counts), id(sizes), id(stack), id(census), id(census_sizes), id(result)))
    for ident, f in sys._current_frames().items():
        if ident != _thread.get_ident() and not gc.is_tracked(f) and sys.version_info < (3, 11):
            seen.add(id(f))
            stack.append(f)
    while stack:
        o = stack.pop()
        name = type(o).__module__ + '.' + type(o).__qualname__ if type(o).__module__ != 'builtins' else type(o).__qualname__
        counts[name] = counts.get(name, 0) + 1
        if name.startswith('__main__.'):
            sizes[name] = sizes.get(name, 0) + sys.getsizeof(o) + values_extra(o)
        for ref in gc.get_referents(o):
            if id(ref) not in seen and not gc.is_tracked(ref):
                seen.add(id(ref))
                stack.append(ref)
    gc.enable()
    result['census'] = census
    result['reference'] = counts
    result['census_sizes'] = census_sizes
    result['reference_sizes'] = sizes


def values_extra(o):
    """What an instance occupies beyond sys.getsizeof (README, "What size means"), one object
    at a time and plainly: the attribute values array of an instance without a dict (3.11+),
    the header of a split dict's values (the dict counts their slots), unused inline values of an
    instance whose dict outgrew the shared keys (3.13+)."""
    tp = type(o)
    if sys.version_info < (3, 11) or not tp.__flags__ & (1 << 4) or not tp.__flags__ & (1 << 9):
        return 0
    refs = gc.get_referents(o)
    if tp not in refs:
        return 0
    before_type = refs.index(tp)
    slots = sum(len([v for v in vars(k).values() if type(v).__name__ == 'member_descriptor'])
                for k in tp.__mro__ if k.__flags__ & (1 << 9))
    new = sys.version_info >= (3, 13)
    if new:
        has_values = bool(tp.__flags__ & (1 << 2))
    else:
        has_values = [k for k in tp.__mro__ if not k.__flags__ & (1 << 9)][0] is object

    def array(capacity):
        if new:
            return (capacity + 7) // 8 * 8 + 8 * (capacity + 1)
        return (capacity + 2 + 7) // 8 * 8 + 8 * capacity

    held = max(0, before_type - slots)
    if held == 1 and type(refs[slots]) is dict:
        d = refs[slots]
        u, rest = divmod(d.__sizeof__() - 48, 8)
        split = rest == 0 and 1 <= u <= 30 and not (u in (15, 20) and len(d) <= 5) and not (u == 26 and len(d) <= 10)
        if split:
            return array(u) - 8 * u
        if len(d) >= 30:
            return array(30) if has_values and new else 0
    return array(held + 1) if has_values else 0


t = threading.Thread(target=census_thread)
t.start()
t.join()
print(json.dumps(result))
