# The seed blog post's sample census script, unchanged but for where it writes its result
# (PYHEAP_OUT instead of the target's working directory). The slow baseline.
import gc
import sys

gc.collect()
all_objects = gc.get_objects()
class_info = {}
for obj in all_objects:
  obj_class = obj.__class__
  obj_size = sys.getsizeof(obj)
  if obj_class not in class_info:
    class_info[obj_class] = {'count': 1, 'total_size': obj_size}
  else:
    class_info[obj_class]['count'] += 1
    class_info[obj_class]['total_size'] += obj_size

  refs = gc.get_referrers(obj)
  for ref in refs:
    if gc.is_tracked(ref):
      continue
    obj_class = type(obj)
    obj_size = sys.getsizeof(obj)
    if obj_class not in class_info:
      class_info[obj_class] = {'count': 1, 'total_size': obj_size}
    else:
      class_info[obj_class]['count'] += 1
      class_info[obj_class]['total_size'] += obj_size

sorted_classes = sorted(class_info.items(), key=lambda x: x[1]['total_size'], reverse=True)

with open(PYHEAP_OUT + '/heap_alloc.txt', 'w') as f:
  for i, (cls, info) in enumerate(sorted_classes):
    f.write(f'{i} {cls.__name__} {info["count"]} {info["total_size"]}\n')
