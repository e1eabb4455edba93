# Heap census, run inside the target by pyheap_boot.py: count and size every live object.
#
# Standard library only, CPython 3.6-3.13, and it must not run user code: no repr/str of user
# objects, no Python-level __sizeof__ overrides, no attribute access through metaclasses.
# It defines no classes and builds no reference cycles, so that once the wrapper clears this
# namespace nothing of it survives in the target (not even until the next GC).
#
# Algorithm (linear in the number of objects, a few MB of extra memory per million objects):
# - the GC-tracked objects come from gc.get_objects(); each is counted once, in chunks;
# - untracked objects (str, int, float, bytes, untracked tuples and dicts, ...) are reached
#   through gc.get_referents(*chunk); tracked referents are skipped (already counted);
# - an untracked object whose reference count shows a single owner can only be met once, so
#   only the others are deduplicated by id; untracked containers are walked in turn;
# - loops stay in C (map, filterfalse, compress, list.append driven by any()) and sizes come from
#   the nearest C-level __sizeof__ of each type, summed per type, plus its constant GC header.
# Only modules that any process already has are used (itertools is imported by threading and
# collections): a module imported here and removed again afterwards would linger as garbage.
import gc
import sys
from itertools import compress, filterfalse, repeat  # loaded in practice by threading/collections

_CHUNK = 4096
_TYPE_DICT = type.__dict__
_get_module = _TYPE_DICT['__module__'].__get__
_get_qualname = _TYPE_DICT['__qualname__'].__get__
_get_mro = _TYPE_DICT['__mro__'].__get__
_get_dict = _TYPE_DICT['__dict__'].__get__
_get_flags = _TYPE_DICT['__flags__'].__get__
_get_itemsize = _TYPE_DICT['__itemsize__'].__get__
_object_sizeof = object.__sizeof__
_python_level = (type(lambda: None), staticmethod, classmethod)
_HAVE_GC = 1 << 14
_HEAPTYPE = 1 << 9
_GC_HEAD = sys.getsizeof([]) - [].__sizeof__()

FRAME_NOTE = ('Python 3.11 and 3.12: objects held only by local variables of running functions '
              'are not counted (reading them would change the target).')


def type_name(tp):
    try:
        module = _get_module(tp)
        name = _get_qualname(tp)
    except Exception:
        return '?'
    if not isinstance(module, str) or not isinstance(name, str):
        return '?'
    return name if module == 'builtins' else module + '.' + name


def _c_sizeof(tp):
    """The first __sizeof__ in the MRO implemented in C (never user code), and whether a
    Python-level override was skipped on the way."""
    overridden = False
    for klass in _get_mro(tp) or (tp, object):  # no MRO yet: a class still being created
        f = (_get_dict(klass) or {}).get('__sizeof__')  # a static type never readied: no dict
        if f is None:
            continue
        if isinstance(f, _python_level):
            overridden = True
            continue
        return f, overridden
    return _object_sizeof, overridden


def _class_size(cls):
    """sys.getsizeof of a class object, without looking __sizeof__ up through its metaclass."""
    return type.__sizeof__(cls) + (_GC_HEAD if _get_flags(cls) & _HEAPTYPE else 0)


def _type_info(tp, sample):
    """(sizeof function, header size, constant size or 0, sizes per object via _class_size)."""
    f, overridden = _c_sizeof(tp)
    if isinstance(sample, type):  # static types carry no GC header: size each one
        return (_class_size, 0, 0, True)
    if overridden:  # sys.getsizeof would call the override: derive the header instead
        hdr = _GC_HEAD if _get_flags(tp) & _HAVE_GC else 0
    else:
        hdr = max(0, sys.getsizeof(sample, 0) - f(sample))
    fixed = f is _object_sizeof and _get_itemsize(tp) == 0
    return (f, hdr, f(sample) + hdr if fixed else 0, False)


def _new_state(deadline, clock, largest):
    return {
        'deadline': deadline, 'clock': clock, 'largest_n': largest,
        'acc': {},          # type -> [count, size]
        'info': {},         # type -> _type_info(...)
        'largest': [],      # [(size, id, type)]
        'threshold': 0,     # smallest size that can still enter 'largest'
        'seen': set(),      # ids of shared untracked objects already counted
        'objects': 0,
    }


def _consider(st, group, sizes, tp):
    thr = st['threshold']
    n = st['largest_n']
    cand = [(s, id(o), tp) for s, o in zip(sizes, group) if s > thr]
    if not cand:
        return
    cand.sort(key=_first_desc)
    merged = st['largest'] + cand[:n]
    merged.sort(key=_first_desc)
    del merged[n:]
    st['largest'] = merged
    if len(merged) >= n:
        st['threshold'] = merged[-1][0]


def _first_desc(c):
    return -c[0]


def account(st, objs):
    """Counts `objs` (each exactly once) into the per-type totals."""
    types = list(map(type, objs))
    buckets = dict.fromkeys(types)
    for tp in buckets:
        buckets[tp] = []
    any(map(list.append, map(buckets.__getitem__, types), objs))  # list.append returns None
    del types
    info = st['info']
    acc = st['acc']
    for tp, group in buckets.items():
        e = info.get(tp)
        if e is None:
            e = info[tp] = _type_info(tp, group[0])
        f, hdr, fixed_size, per_class = e
        n = len(group)
        if fixed_size:
            total = fixed_size * n
            if fixed_size > st['threshold']:
                _consider(st, group, repeat(fixed_size, n), tp)
        else:
            sizes = list(map(f, group))
            if hdr:
                sizes = list(map(hdr.__add__, sizes))
            total = sum(sizes)
            if sizes and max(sizes) > st['threshold']:
                _consider(st, group, sizes, tp)
            del sizes
        a = acc.get(tp)
        if a is None:
            acc[tp] = [n, total]
        else:
            a[0] += n
            a[1] += total
    buckets.clear()
    st['objects'] += len(objs)


def walk_untracked(st, work, single_rc):
    """Counts the untracked objects referenced from `work`, then theirs, and so on."""
    get_referents = gc.get_referents
    is_tracked = gc.is_tracked
    getrefcount = sys.getrefcount
    seen = st['seen']
    while work:
        refs = get_referents(*work)
        work = None
        found = list(filterfalse(is_tracked, refs))
        del refs
        if not found:
            return
        rcs = list(map(getrefcount, found))
        single = list(compress(found, map(single_rc.__eq__, rcs)))
        shared = list(compress(found, map(single_rc.__ne__, rcs)))
        del found, rcs
        if shared:
            by_id = dict(zip(map(id, shared), shared))
            del shared
            new_ids = by_id.keys() - seen
            seen.update(new_ids)
            single.extend(map(by_id.__getitem__, new_ids))
            del by_id, new_ids
        if single:
            account(st, single)
        work = single


def visit_roots(st, roots, single_rc):
    """Objects held only outside the GC's view (the locals of running frames): count the
    untracked ones not met yet, then what they reference."""
    is_tracked = gc.is_tracked
    seen = st['seen']
    fresh = [o for o in roots if not is_tracked(o) and id(o) not in seen]
    seen.update(map(id, fresh))
    if fresh:
        account(st, fresh)
        walk_untracked(st, fresh, single_rc)


def single_owner_refcount():
    """What sys.getrefcount reports, in walk_untracked, for an object with exactly one owner."""
    holder = [float('1.25')]
    refs = gc.get_referents(holder)
    found = list(filterfalse(gc.is_tracked, refs))
    del refs
    return next(map(sys.getrefcount, found)) if found else -1


def frame_roots(own_thread):
    """The running frames of the other threads hold objects that no tracked object references.
    Up to 3.10 an executing frame is an untracked object whose referents are its locals; from
    3.13 f_locals is a read-only view. In 3.11 and 3.12 reading f_locals would store a
    snapshot of the locals in the frame, keeping them alive: those locals are not walked."""
    frames = [f for ident, f in sys._current_frames().items() if ident != own_thread]
    if sys.version_info < (3, 11):
        return frames
    roots = []
    if sys.version_info >= (3, 13):
        for frame in frames:
            while frame is not None:
                roots.extend(frame.f_locals.values())
                frame = frame.f_back
    return roots


_PLAIN = (dict, list, tuple)


def own_containers(results):
    """The ids of the containers our own data is made of (an earlier census's rows, the stacks
    taken before it): plain dicts, lists and tuples all the way down. What they hold beyond that
    (ints, strs) is then met only through the target's own objects, if it is the target's at all;
    counted as the target's, a census's rows would be the top growers of the next one. The set
    holds its own id too."""
    ids = set()
    ids.add(id(ids))
    stack = list(results)
    while stack:
        o = stack.pop()
        if type(o) not in _PLAIN or id(o) in ids:
            continue
        ids.add(id(o))
        stack.extend(o.values() if type(o) is dict else o)
    return ids


def run_census(deadline, clock, own_thread, largest=20, skip=(), results=()):
    """The automatic GC is paused while counting (and resumed after, if it was on): a
    collection in the middle would untrack tuples and dicts that were already counted as
    tracked, and they would be counted twice. `skip`: objects of ours; `results`: data of ours,
    skipped with every plain container inside (own_containers)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _census(deadline, clock, own_thread, largest, skip, was_enabled, own_containers(results))
    finally:
        if was_enabled:
            gc.enable()


def _census(deadline, clock, own_thread, largest, skip, gc_enabled, own_data):
    started = clock()
    st = _new_state(deadline, clock, largest)
    single_rc = single_owner_refcount()
    roots = frame_roots(own_thread)
    # Our own objects are not the target's: the callers' bookkeeping, this module's namespace
    # (its functions and helpers) and the values of any namespace passed in `skip`.
    own = globals()
    skip = tuple(skip) + (own,)
    skip_ids = set(map(id, skip))
    skip_ids.update(own_data)
    for d in skip:
        if isinstance(d, dict):
            skip_ids.update(id(v) for v in d.values() if getattr(v, '__globals__', None) is d)
    skip_ids.update(id(v) for v in own.values() if type(v).__name__ in ('method-wrapper', 'mappingproxy'))
    skip_ids.add(id(_python_level))
    skip_ids.update(map(id, (st, st['acc'], st['info'], st['seen'], roots, skip_ids)))
    frame = sys._getframe()
    while frame is not None:  # our own frames (tracked objects before 3.11)
        skip_ids.add(id(frame))
        frame = frame.f_back
    del frame
    tracked = gc.get_objects()
    tracked = [o for o in tracked if id(o) not in skip_ids]
    tracked_count = len(tracked)
    for start in range(0, tracked_count, _CHUNK):
        if clock() > deadline:
            raise TimeoutError('the census reached --timeout after %d objects' % st['objects'])
        chunk = tracked[start:start + _CHUNK]
        account(st, chunk)
        walk_untracked(st, chunk, single_rc)
        del chunk
    del tracked
    visit_roots(st, roots, single_rc)
    del roots[:]
    elapsed = clock() - started

    merged = {}
    for tp, (count, size) in st['acc'].items():
        name = type_name(tp)
        e = merged.get(name)
        if e is None:
            merged[name] = [count, size]
        else:
            e[0] += count
            e[1] += size
    types = [{'name': n, 'count': c, 'size': s} for n, (c, s) in merged.items()]
    types.sort(key=_by_size_then_name)
    largest_out = [{'type': type_name(tp), 'size': s, 'id': i} for s, i, tp in st['largest']]
    st.clear()
    freeze = getattr(gc, 'get_freeze_count', None)
    return {
        'total': {'count': sum(t['count'] for t in types), 'size': sum(t['size'] for t in types)},
        'types': types,
        'largest': largest_out,
        'gc': {
            'tracked': tracked_count,
            'frozen': freeze() if freeze else 0,
            'enabled': gc_enabled,
        },
        'census_seconds': elapsed,
        'notes': [
            'The walk is not an atomic snapshot: the target kept running while it was counted.',
            'Sizes are sys.getsizeof (shallow); memory held by C extensions is not seen.',
        ] + ([FRAME_NOTE] if (3, 11) <= sys.version_info < (3, 13) else []),
    }


def _by_size_then_name(t):
    return (-t['size'], t['name'])
