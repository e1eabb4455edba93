# Bytes an instance occupies beyond sys.getsizeof: where its attribute values live. Runs in the
# census's namespace (pyheap_census.py, pyheap_snapshot.py call managed_info and the extras).
#
# Since 3.11 an ordinary instance has no __dict__ until someone reads it: CPython keeps the
# attribute values in a PyDictValues array (shared keys on the class), allocated apart from the
# object on 3.11/3.12 and inside the object's own allocation on 3.13+ (Py_TPFLAGS_INLINE_VALUES).
# sys.getsizeof counts neither (CPython issue 128762). The array holds `capacity` slots, fixed when
# the object is created: the class's shared-keys usable size, which starts at 30 and shrinks by one
# per instance created until it is the number of attribute names plus one. Python cannot read
# that byte, and reading obj.__dict__ would create a dict, so it is estimated from what
# gc.get_referents shows (C code, runs no user code): subtype_traverse visits the __slots__
# values, then the attribute values (or the dict, once there is one), then the type. So
# capacity = attributes the instance holds + 1, exact for every instance but a class's first few
# dozen and those that left some of the class's attributes unset (8 bytes each too few).
# A materialised dict is counted as a dict, by its own __sizeof__, which counts the values' slots
# but not their small header: that header is added to the instance, so nothing counts twice.
# Before 3.11 the instance's dict is a real dict object, counted as one: nothing to add.
import gc
import sys
from itertools import compress, repeat

_MANAGED_DICT = 1 << 4   # Py_TPFLAGS_MANAGED_DICT (3.11+): dict pointer before the object
_INLINE_VALUES = 1 << 2  # Py_TPFLAGS_INLINE_VALUES (3.13+): values inside the object
_HEAPTYPE_FLAG = 1 << 9
_PTR = tuple.__itemsize__
_DICT_BASE = dict.__basicsize__
_SHARED_KEYS_MAX = 30    # SHARED_KEYS_MAX_SIZE: more names than this and the dict takes over
_V313 = sys.version_info >= (3, 13)
_member = type(type.__dict__['__basicsize__'])  # a __slots__ entry is a member descriptor
# 3.13 only: a dict made from an instance's inline values (obj.__dict__ read) uses them where they
# are, and the instance counts them; gc.get_objects() shows it when it is GC-tracked (a value may
# be tracked; 3.14 finds it through the instance), and it shows no referents of its own. Such a
# dict is counted without the slots it borrows. (Untracked, it is seen by no walk.)
_EMBEDDED_SEEN = sys.version_info[:2] == (3, 13)
_DICTS = ('dict',)
_len = len


def _round8(n):
    return (n + _PTR - 1) // _PTR * _PTR


def values_size(capacity):
    """What a PyDictValues of `capacity` slots takes: 3.13+ a header word, the slots and one
    insertion-order byte per slot (_PyInlineValuesSize); 3.11/3.12 two counter bytes and the
    order bytes rounded to a word, then the slots (new_values)."""
    if _V313:
        return _round8(capacity) + _PTR * (capacity + 1)
    return _round8(capacity + 2) + _PTR * capacity


def managed_info(tp):
    """None for types whose instances are sized right by sys.getsizeof; else (slots, table,
    values_type): the __slots__ values that come first among the referents, the extra bytes by
    number of referents before the type, and whether instances carry values without a dict."""
    if tp is dict and _EMBEDDED_SEEN:
        return _DICTS
    if sys.version_info < (3, 11):
        return None
    flags = _get_flags(tp)
    if not (flags & _MANAGED_DICT and flags & _HEAPTYPE_FLAG):
        return None
    mro = _get_mro(tp) or (tp, object)
    slots = 0
    for klass in mro:
        if _get_flags(klass) & _HEAPTYPE_FLAG:
            slots += sum(1 for v in (_get_dict(klass) or {}).values() if type(v) is _member)
    if _V313:
        values_type = bool(flags & _INLINE_VALUES)
    else:  # only object.__new__ sets up values (_PyObject_InitializeDict); dict, list, ... don't
        static = [k for k in mro if not _get_flags(k) & _HEAPTYPE_FLAG]
        values_type = bool(static) and static[0] is object
    return (slots, [], values_type)


def _table(m, upto):
    slots, table, values_type = m
    while _len(table) <= upto:
        held = max(0, _len(table) - slots)
        table.append(values_size(held + 1) if values_type else 0)
    return table


def _dict_extra(d, m):
    """The one referent before the type is an exact dict: the instance's own dict, or the value
    of its only attribute. A split dict (shared keys: __sizeof__ is the dict plus one word per
    slot, at most 30) is the instance's own; combined dicts of 1-5 or 6-10 entries have sizes that
    look split for 15, 20 and 26 slots, told apart by their length."""
    slots, table, values_type = m
    u, rest = divmod(dict.__sizeof__(d) - _DICT_BASE, _PTR)
    n = _len(d)
    if rest == 0 and 0 < u <= _SHARED_KEYS_MAX and not (u in (15, 20) and n <= 5) and not (u == 26 and n <= 10):
        return values_size(u) - _PTR * u  # the dict counts the slots, not their header
    if n >= _SHARED_KEYS_MAX:  # its own dict outgrew the shared keys: 3.13+ the unused
        return values_size(_SHARED_KEYS_MAX) if values_type and _V313 else 0  # values stay
    return _table(m, slots + 1)[slots + 1]  # one attribute, holding a dict


def _position(refs, tp):
    try:
        return refs.index(tp)
    except ValueError:  # a C type of its own traversal: nothing known to add
        return -1


def _borrowed(d):
    u, rest = divmod(dict.__sizeof__(d) - _DICT_BASE, _PTR)
    return -_PTR * u if rest == 0 and 0 < u <= _SHARED_KEYS_MAX else 0


def extras(group, tp, m):
    """Extra bytes of each object of `group` (all of type `tp`, m = managed_info(tp))."""
    if m is _DICTS:  # non-empty, yet no referents: its values are an instance's (3.13)
        out = [0] * _len(group)
        empty = list(map((0).__eq__, map(_len, map(gc.get_referents, group))))
        for j in compress(range(_len(group)), empty):
            if _len(group[j]):
                out[j] = _borrowed(group[j])
        return out
    refs = list(map(gc.get_referents, group))
    try:
        pos = list(map(list.index, refs, repeat(tp)))
    except ValueError:
        pos = [_position(r, tp) for r in refs]
    table = _table(m, max(pos) if pos else 0)
    out = list(map(table.__getitem__, pos))
    slots = m[0]
    one = slots + 1
    for j in compress(range(_len(pos)), map(one.__eq__, pos)):
        d = refs[j][slots]
        if type(d) is dict:
            out[j] = _dict_extra(d, m)
    if -1 in pos:
        for j in compress(range(_len(pos)), map((-1).__eq__, pos)):
            out[j] = 0
    return out


def extra_of(o, refs, tp, m):
    """Extra bytes of one object `o` of type `tp`, given its referents (the snapshot has them)."""
    if m is _DICTS:
        return _borrowed(o) if not refs and _len(o) else 0
    pos = _position(refs, tp)
    if pos < 0:
        return 0
    slots = m[0]
    if pos == slots + 1 and type(refs[slots]) is dict:
        return _dict_extra(refs[slots], m)
    return _table(m, pos)[pos]
