"""Faster numba-IR inlining of fastbp's ``inline="always"`` kernels.

fastbp's thin composite kernels are inlined into their callers at numba-IR
level (``_config.JIT_INLINE``). numba's inliner (``InlineWorker`` in
``numba.core.inline_closurecall``) spends most of its time on work it
repeats: 3.0 s of a 22 s cold first fit (float32, timed per pass):

- For every call site it reruns the whole untyped pipeline on the callee,
  whose own ``InlineInlinables`` pass reruns it on every nested callee: a
  one-line helper called from nine places went through the pipeline nine
  times.
- It deep-copies the callee's blocks one at a time, so each block copies the
  function's whole scope (every variable) again, and then copies the copy a
  second time, only to return it to a caller (``InlineInlinables``) that
  discards it.

For callees defined in fastbp, ``install`` makes ``inline_function`` run the
untyped pipeline once per callee in each compile and give every call
site its own deep copy of that canonical IR, made with one memo (the scope is
copied once), and no second copy. The inlined IR is the same as numba's,
up to the numbers in the inlined variables' names (each call site still gets
a function identity of its own, as numba gives it). Cold first fits took
19.6 s against 21.3 s (float32) and 19.8 s against 21.8 s (float64),
medians of three alternating fresh processes, with bit-identical weights
(``benchmarks/inliner.py``; README "Architecture").

numba's inliner is private code, so this is installed only when numba's
``InlineWorker`` methods, and the ``InlineInlinables`` step that calls
them, are exactly the ones it was written against (the source hashes
below, numba 0.68.1); any other numba runs unchanged, only slower to
compile. Functions from other packages (or of no module) always take
numba's own path.
"""

import copy

from numba.core import inline_closurecall as _icc
from numba.core import ir_utils
from numba.core import untyped_passes as _untyped

from . import _numba_source

#: sha256 of the source of the numba methods this module replaces, mirrors or
#: relies on (numba 0.68.1). ``_inline_blocks`` is ``InlineWorker.inline_ir``
#: without the typemap path and the second copy, whose only use,
#: ``InlineInlinables._do_work``, discards it.
KNOWN_SOURCES = {
    "InlineWorker.inline_function": "1b53f183258e659d",
    "InlineWorker.inline_ir": "26fd2b7600c9d929",
    "InlineWorker.run_untyped_passes": "b6ca82e78918c615",
    "InlineInlinables._do_work": "5e0a1f246f0fcb5d",
}
_OWNERS = {"InlineWorker": _icc.InlineWorker, "InlineInlinables": getattr(_untyped, "InlineInlinables", None)}

#: numba's methods as imported (before install() replaces inline_function).
_STOCK = _numba_source.stock(_OWNERS, KNOWN_SOURCES)
_stock_inline_function = _STOCK["InlineWorker.inline_function"]
#: (callee, typing context, target context, flags, locals) -> canonical
#: untyped IR, never mutated (every call site inlines a copy). numba makes a
#: target context per compile, and one compile does all its inlining before
#: typing starts any nested compile, so entries live for one compile: the
#: dict is emptied when another context arrives (it would otherwise keep
#: every compile's IR and context: up to about 13 MB per compile).
_canonical_ir = {}
_context_of_entries = [None]
#: False after uninstall(), until install() (see install_unless_uninstalled).
_wanted = [True]


def numba_matches():
    """True if numba's inliner is the one this module was written against."""
    return _numba_source.matches(_STOCK, KNOWN_SOURCES)


def installed():
    """True if ``install`` replaced numba's ``InlineWorker.inline_function``."""
    return _icc.InlineWorker.inline_function is _inline_function


def install():
    """Route fastbp's inlining through the faster path when numba matches.

    Idempotent. Returns ``installed()``."""
    _wanted[0] = True
    if not installed() and numba_matches():
        _icc.InlineWorker.inline_function = _inline_function
    return installed()


def install_unless_uninstalled():
    """``install()``, unless ``uninstall()`` came first: what the first-compile
    hook (``_numba_hooks``) calls, so a benchmark or test that chose numba's
    inliner before anything compiled keeps it."""
    return install() if _wanted[0] else installed()


def uninstall():
    """Restore numba's own ``InlineWorker.inline_function`` (for tests and benchmarks)."""
    _wanted[0] = False
    if installed():
        _icc.InlineWorker.inline_function = _stock_inline_function
    _canonical_ir.clear()
    _context_of_entries[0] = None


def _inline_function(self, caller_ir, block, i, function, arg_typs=None):
    """``InlineWorker.inline_function``; fastbp's callees take the fast path."""
    if (arg_typs is not None or self._permit_update_type_and_call_maps
            or not _numba_source.is_fastbp(function)):
        return _stock_inline_function(self, caller_ir, block, i, function, arg_typs)
    if self.targetctx is not _context_of_entries[0]:
        _canonical_ir.clear()
        _context_of_entries[0] = self.targetctx
    # numba's run_untyped_passes sets this on the caller's flags (its state
    # shares them), and the caller's later passes read it: keep doing so.
    self.flags.enable_ssa = False
    key = (function, self.typingctx, self.targetctx, self.flags.copy(),
           tuple(sorted((self.locals or {}).items(), key=repr)))
    callee_ir = _canonical_ir.get(key)
    if callee_ir is None:
        callee_ir = _canonical_ir[key] = self.run_untyped_passes(function)
    callee_blocks, var_dict, new_blocks = _inline_blocks(self, caller_ir, block, i, callee_ir,
                                                         function.__code__.co_freevars)
    # numba returns an unmutated copy of the callee's IR first; its one
    # caller (InlineInlinables) discards it, so it is not made.
    return None, callee_blocks, var_dict, new_blocks


def _copy_ir(the_ir):
    """A deep copy of the_ir's blocks (one memo: their shared scope is copied
    once) in a shallow copy of the_ir, under a fresh function identity."""
    kernel_copy = the_ir.copy()
    kernel_copy.blocks = copy.deepcopy(the_ir.blocks)
    # The identity's unique name prefixes the inlined variables' names: a new
    # one per call site, as numba's per-site pipeline run gives, so no two
    # sites' variables look like versions of one variable to later passes.
    kernel_copy.func_id = the_ir.func_id.derive()
    return kernel_copy


def _inline_blocks(worker, caller_ir, block, i, callee_ir, callee_freevars):
    """numba 0.68.1's ``InlineWorker.inline_ir`` (BSD-2-Clause, Anaconda Inc.
    and others) for the untyped case: inline a copy of callee_ir at statement
    i of ``block``; return (its relabelled blocks, {callee variable name:
    caller variable}, the caller's new blocks as (label, block) pairs)."""
    callee_ir = _copy_ir(callee_ir)
    if worker.validator is not None:
        worker.validator(callee_ir)
    scope = block.scope
    instr = block.body[i]
    call_expr = instr.value
    callee_blocks = callee_ir.blocks

    # 1. relabel the callee's blocks past the caller's labels
    max_label = max(ir_utils._the_max_label.next(), max(caller_ir.blocks.keys()))
    callee_blocks = _icc.add_offset_to_labels(callee_blocks, max_label + 1)
    callee_blocks = _icc.simplify_CFG(callee_blocks)
    callee_ir.blocks = callee_blocks
    max_label = max(callee_blocks.keys())
    min_label = min(callee_blocks.keys())
    ir_utils._the_max_label.update(max_label)

    # 2. rename the callee's locals into new locals of the caller's scope
    callee_scopes = _icc._get_all_scopes(callee_blocks)
    assert len(callee_scopes) == 1
    callee_scope = callee_scopes[0]
    var_dict = {}
    for var in tuple(callee_scope.localvars._con.values()):
        if var.name not in callee_freevars:
            inlined_name = _icc._created_inlined_var_name(callee_ir.func_id.unique_name, var.name)
            new_var = scope.redefine(inlined_name, loc=var.loc)
            callee_scope.redefine(inlined_name, loc=var.loc)
            var_dict[var.name] = new_var
    _icc.replace_vars(callee_blocks, var_dict)

    # 3. formal parameters become the actual arguments
    args = _icc._get_callee_args(call_expr, callee_ir.func_id.func, block.body[i].loc, caller_ir)
    _icc._replace_args_with(callee_blocks, args)

    # 4. split the caller's block at the call
    new_blocks = []
    new_block = _icc.ir.Block(scope, block.loc)
    new_block.body = block.body[i + 1:]
    new_label = _icc.next_label()
    caller_ir.blocks[new_label] = new_block
    new_blocks.append((new_label, new_block))
    block.body = block.body[:i]
    block.body.append(_icc.ir.Jump(min_label, instr.loc))

    # 5. returns become assignments to the call's target
    topo_order = _icc.find_topo_order(callee_blocks)
    _icc._replace_returns(callee_blocks, instr.target, new_label)
    if instr.target.name in caller_ir._definitions and call_expr in caller_ir._definitions[instr.target.name]:
        caller_ir._definitions[instr.target.name].remove(call_expr)

    # 6. insert the callee's blocks, with their definitions
    for label in topo_order:
        callee_block = callee_blocks[label]
        callee_block.scope = scope
        _icc._add_definitions(caller_ir, callee_block)
        caller_ir.blocks[label] = callee_block
        new_blocks.append((label, callee_block))
    return callee_blocks, var_dict, new_blocks
