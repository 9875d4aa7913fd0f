//! A guard on native stack use: recursion in the parser and the evaluator stops with an error
//! once it has used more than a fixed number of bytes below where it started, whatever the
//! build profile's frame sizes are, and never more than the thread has left (less a reserve for
//! the frames that run between two checks and for dropping what was built so far).

/// Stack kept free below the guard's limit: the unchecked frames under a checked one (a native
/// function, a regex, unwinding and dropping a partly built tree) must fit in it.
const RESERVE: usize = 64 << 10;

/// The address of a local in a fresh frame: where the stack currently ends.
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct StackGuard {
    base: usize,
    limit: usize,
}

impl StackGuard {
    /// A guard allowing `limit` bytes below here, or what the thread has left less the reserve
    /// if that is less (when the thread's stack cannot be found, `limit` alone).
    pub(crate) fn new(limit: usize) -> Self {
        let left = stacker::remaining_stack().map_or(limit, |r| r.saturating_sub(RESERVE));
        Self {
            base: stack_address(),
            limit: limit.min(left),
        }
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.base.abs_diff(stack_address()) > self.limit
    }
}
