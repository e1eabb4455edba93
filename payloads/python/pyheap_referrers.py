# Referrer chains, run inside the target by pyheap_boot.py: for a few objects of a given type,
# the shortest chain of references from something a human recognises (a module global, a class
# attribute, a running frame) down to the object, e.g.
#     module app .SESSIONS ['active'] [17] -> __main__.Session
#
# One breadth-first pass from the roots over GC-tracked objects (untracked objects cannot hold
# tracked ones), remembering for each visited object only the id of the object it was reached
# from; it stops as soon as enough samples are found. Labels are worked out afterwards, for the
# few objects on the chains only. No repr/str of user objects, no attribute access through user
# code: names come from dict keys that are str, list/tuple positions, slots and __dict__.
# No classes and no reference cycles (see pyheap_boot.py). Runs in the same namespace as
# pyheap_census.py (type_name comes from there).
import gc
import sys

_TYPE_DICT = type.__dict__
_get_type_dict = _TYPE_DICT['__dict__'].__get__
_get_mro = _TYPE_DICT['__mro__'].__get__
_function = type(lambda: None)
_module = type(sys)
_cell = type((lambda x: (lambda: x))(0).__closure__[0])
_frame = type(sys._getframe())
_SAFE_KEY_TYPES = (int, float, bool, type(None))


def _roots(own_thread):
    """(object, label) pairs to start from: modules, then what the running frames of other
    threads hold, where reading it does not change the frame: the frames themselves up to 3.10,
    the locals through the read-only f_locals view from 3.13 (not in 3.11 and 3.12)."""
    roots = []
    for name, mod in list(sys.modules.items()):
        if isinstance(mod, _module) and isinstance(name, str):
            roots.append((mod, 'module ' + name))
    names = _thread_names()
    for ident, frame in sys._current_frames().items():
        if ident == own_thread:
            continue
        while frame is not None:
            where = 'thread %s frame %s()' % (names.get(ident, ident), frame.f_code.co_name)
            if sys.version_info < (3, 11):
                roots.append((frame, where))
            elif sys.version_info >= (3, 13) and frame.f_code.co_name != '<module>':
                for k, v in list(frame.f_locals.items()):
                    roots.append((v, '%s .%s' % (where, k)))
            frame = frame.f_back
    return roots


def _thread_names():
    threading = sys.modules.get('threading')
    names = {}
    if threading is not None:
        for ident, t in list(getattr(threading, '_active', {}).items()):
            name = getattr(t, '_name', None)
            if isinstance(name, str):
                names[ident] = name
    return names


def _youngest(type_names, per_type):
    """Candidate samples: the youngest objects of each type (those of the youngest GC generation
    first), since recently allocated objects that stay alive are what a leak is made of. For
    types the GC does not track, the objects young tracked objects refer to."""
    wanted = set(type_names)
    picked = dict((t, []) for t in wanted)
    missing = set(wanted)
    names = {}
    # One generation at a time, and never a list holding the lists: a list that exists while
    # gc.get_objects() runs is returned inside its result (a cycle keeping every object alive).
    generations = (0, 1, 2) if sys.version_info >= (3, 8) else (None,)
    for untracked in (False, True):
        for g in generations:
            objs = gc.get_objects() if g is None else gc.get_objects(g)
            for o in objs:
                for c in (gc.get_referents(o) if untracked else (o,)):
                    if untracked and gc.is_tracked(c):
                        continue
                    tp = type(c)
                    n = names.get(tp)
                    if n is None:
                        n = names[tp] = type_name(tp)
                    if n in missing:
                        picked[n].append(c)
                        if len(picked[n]) >= per_type:
                            missing.discard(n)
                if not missing:
                    break
            del objs
            if not missing:
                break
        if not missing:
            break
    return picked


def find_chains(type_names, own_thread, samples=3, deadline=None, clock=None, max_visit=5000000):
    """{type name: [chain, ...]}: for up to `samples` of the youngest objects of each type, the
    shortest chain from a root (one breadth-first pass, stopped once all are found)."""
    candidates = _youngest(type_names, samples * 3)  # some may be held only by us or by C code
    targets = {}
    for n, objs in candidates.items():
        for o in objs:
            targets[id(o)] = n
    found = dict((t, []) for t in candidates)
    missing = set(n for n, objs in candidates.items() if objs)
    roots = _roots(own_thread)
    parent = {}   # id(object) -> id(object it was first reached from); roots map to None
    root_label = {}
    level = []
    for obj, label in roots:
        if id(obj) not in parent:
            parent[id(obj)] = None
            root_label[id(obj)] = label
            level.append(obj)
            _take(obj, targets, found, missing, samples)
    get_referents = gc.get_referents
    is_tracked = gc.is_tracked
    visited = 0
    while level and missing:
        if deadline is not None and clock() > deadline:
            break
        nxt = []
        for p in level:
            pid = id(p)
            for r in get_referents(p):
                rid = id(r)
                if rid in parent:
                    continue
                if rid in targets:
                    parent[rid] = pid
                    _take(r, targets, found, missing, samples)
                if is_tracked(r):
                    parent[rid] = pid
                    nxt.append(r)
            visited += 1
        level = nxt
        if visited > max_visit:
            break
    del level
    result = {}
    for n in sorted(candidates):
        result[n] = [_chain(o, parent, root_label, roots) for o in found[n]]
    parent.clear()
    found.clear()
    candidates.clear()
    targets.clear()
    return result


def _take(obj, targets, found, missing, samples):
    n = targets.pop(id(obj), None)
    if n is not None and n in missing:
        found[n].append(obj)
        if len(found[n]) >= samples:
            missing.discard(n)


def _chain(obj, parent, root_label, roots):
    """Labels of the path root -> obj, derived from the parent ids and the objects themselves."""
    ids = []
    cur = id(obj)
    while cur is not None:
        ids.append(cur)
        cur = parent.get(cur)
    ids.reverse()
    by_id = dict((id(o), o) for o, _ in roots)
    path = [by_id.get(ids[0])]
    for i in ids[1:]:  # follow the ids forward through the referents of each step
        prev = path[-1]
        nxt = None
        if prev is not None:
            for r in gc.get_referents(prev):
                if id(r) == i:
                    nxt = r
                    break
        path.append(nxt)
    steps = [root_label.get(ids[0], '?')]
    for k in range(1, len(path)):
        prev, cur = path[k - 1], path[k]
        if isinstance(prev, dict) and k >= 2 and _namespace_of(path[k - 2]) is prev:
            label = _attribute_label(prev, cur)  # obj -> obj.__dict__ -> value: '.name'
        elif cur is not None and cur is _namespace_of(prev):
            label = ''
        else:
            label = _edge_label(prev, cur)
        if label:
            steps.append(label)
    steps.append('-> ' + type_name(type(obj)))
    return steps


def _namespace_of(obj):
    """The dict that holds obj's attributes (module, class or instance), or None. For an
    instance of 3.11+ whose attributes live inline, this creates its __dict__ (C code, no user
    code; done only for the few objects on a chain)."""
    if obj is None or isinstance(obj, (dict, list, tuple, set, frozenset, str, bytes, int, float)):
        return None
    if isinstance(obj, _module):
        return _module.__dict__['__dict__'].__get__(obj)
    if isinstance(obj, type):
        refs = gc.get_referents(_get_type_dict(obj))
        return refs[0] if refs and isinstance(refs[0], dict) else None
    for klass in _get_mro(type(obj)) or ():
        d = (_get_type_dict(klass) or {}).get('__dict__')
        if d is not None and type(d).__name__ == 'getset_descriptor':
            try:
                ns = d.__get__(obj)
            except Exception:
                return None
            return ns if isinstance(ns, dict) else None
    return None


def _attribute_label(namespace, value):
    for k, v in list(dict.items(namespace)):
        if v is value:
            return '.' + k if type(k) is str else _key_label(k)
    return ''


def _key_label(key):
    if isinstance(key, str):
        return '[%r]' % (key if type(key) is str else str.__str__(key))
    if type(key) in _SAFE_KEY_TYPES:
        return '[%r]' % (key,)
    return '[<%s key>]' % type(key).__name__


def _edge_label(parent, child):
    """A short, safe description of how `parent` refers to `child` ('' when the step is
    transparent, like an instance's own __dict__)."""
    if parent is None or child is None:
        return '-> ?'
    if isinstance(parent, _module):
        for k, v in list(_module.__dict__['__dict__'].__get__(parent).items()):
            if v is child and isinstance(k, str):
                return '.' + k
        return ''  # the module's __dict__ itself
    if isinstance(parent, type):
        for klass in (parent,):
            for k, v in list((_get_type_dict(klass) or {}).items()):
                if v is child and isinstance(k, str):
                    return '.' + k
        return '(of class %s)' % _TYPE_DICT['__name__'].__get__(parent)
    if type(parent) is dict or isinstance(parent, dict):
        for k, v in list(dict.items(parent)):
            if v is child:
                return _key_label(k)
            if k is child:
                return '{key}'
        return ''
    if isinstance(parent, (list, tuple)):
        seq = list.__iter__(parent) if isinstance(parent, list) else tuple.__iter__(parent)
        for i, v in enumerate(seq):
            if v is child:
                return '[%d]' % i
        return ''
    if isinstance(parent, (set, frozenset)):
        return '{member}'
    if isinstance(parent, _cell):
        return ''
    if isinstance(parent, _function):
        if parent.__closure__ and any(c is child for c in parent.__closure__):
            return '(closure of %s)' % parent.__code__.co_name
        if child is parent.__globals__:
            return '(globals of %s)' % parent.__code__.co_name
        return '(of function %s)' % parent.__code__.co_name
    if isinstance(parent, _frame):
        return '(local of %s)' % parent.f_code.co_name
    # an instance: an attribute (3.11+ keeps them inline: the referent is the value), or a slot
    ns = _namespace_of(parent)
    if ns is not None:
        label = _attribute_label(ns, child)
        if label:
            return label
    for klass in _get_mro(type(parent)) or ():
        for k, d in list((_get_type_dict(klass) or {}).items()):
            if type(d).__name__ == 'member_descriptor' and isinstance(k, str):
                try:
                    if d.__get__(parent) is child:
                        return '.' + k
                except AttributeError:
                    pass
    if isinstance(child, dict):
        return ''
    return '-> ' + type(parent).__name__
