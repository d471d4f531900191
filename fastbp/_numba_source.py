"""Whether private numba code is the code a fastbp patch was written against.

fastbp's patches to numba (``_numba_inline``, ``_cache_load``) mirror,
call or skip numba methods that numba may change in any release; each
installs only when those methods' sources hash to the digests it lists.
"""

import hashlib
import inspect


def stock(owners, known):
    """{"Owner.method": function or None} for the names in ``known``, looked up
    on ``owners`` ({"Owner": class}); taken before any patch replaces one."""
    return {name: getattr(owners.get(name.split(".")[0]), name.split(".")[1], None) for name in known}


def matches(functions, known):
    """True if each of ``functions`` (from ``stock``) has the source whose sha256
    starts with its digest in ``known`` ({"Owner.method": 16 hex digits})."""
    try:
        return all(hashlib.sha256(inspect.getsource(functions[name]).encode()).hexdigest()[:16] == digest
                   for name, digest in known.items())
    except (KeyError, OSError, TypeError):   # a method missing or renamed, or its source unavailable
        return False
