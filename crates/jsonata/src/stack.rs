//! A guard on native stack use: recursion in the parser and the evaluator stops with an error
//! once it has used more than a fixed number of bytes below where it started, whatever the
//! build profile's frame sizes are.

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
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            base: stack_address(),
            limit,
        }
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.base.abs_diff(stack_address()) > self.limit
    }
}
