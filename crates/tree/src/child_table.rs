//! [`ChildTable`]: the children of one internal node, keyed by slot, in one of two
//! representations chosen automatically — *sparse* (the children in slot order in a
//! `Vec`, found through a `u16` position per slot: 2 bytes a slot instead of 8) while
//! few slots hold a child, *dense* (one optional pointer per slot, as OpenVDB) past
//! `NUM_VALUES / 8` children. Either way a lookup is two dependent loads. The child mask lives here too, so that the mask and the
//! table can never disagree.
//!
//! A near-empty 32³ upper node costs a few KiB of child table instead of 256 KiB, and
//! the children of a sparse node sit together in cache, which is what makes random
//! reads fast (see `docs/decisions/0007-compact-child-tables.md`).

use crate::mask::Mask;

/// Children of an internal node with `2^(3·LOG2)` slots.
#[derive(Clone, Debug)]
pub(crate) struct ChildTable<C, const LOG2: u32> {
    mask: Mask<LOG2>,
    repr: Repr<C>,
}

#[derive(Clone, Debug)]
enum Repr<C> {
    /// `nodes` in slot order; `position[n]` = index in `nodes` of slot `n`'s child
    /// (meaningful only where the mask is on).
    Sparse {
        position: Box<[u16]>,
        nodes: Vec<Box<C>>,
    },
    /// One entry per slot.
    Dense(Box<[Option<Box<C>>]>),
}

impl<C, const LOG2: u32> ChildTable<C, LOG2> {
    const SLOTS: usize = Mask::<LOG2>::SIZE;
    /// Children past which the table turns dense (always at most `u16::MAX`).
    pub(crate) const DENSE_THRESHOLD: usize = if Self::SLOTS / 8 < u16::MAX as usize {
        Self::SLOTS / 8
    } else {
        u16::MAX as usize
    };

    /// An empty table.
    pub(crate) fn new() -> Self {
        ChildTable {
            mask: Mask::new(false),
            repr: Repr::Sparse {
                position: vec![0; Self::SLOTS].into_boxed_slice(),
                nodes: Vec::new(),
            },
        }
    }

    /// The child mask.
    #[inline]
    pub(crate) fn mask(&self) -> &Mask<LOG2> {
        &self.mask
    }

    /// Number of children.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match &self.repr {
            Repr::Sparse { nodes, .. } => nodes.len(),
            Repr::Dense(_) => self.mask.count_on(),
        }
    }

    /// True when the table has switched to one pointer per slot.
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self.repr, Repr::Dense(_))
    }

    /// Number of children in slots below `n` (where slot `n`'s child goes in `nodes`).
    fn rank(mask: &Mask<LOG2>, n: usize) -> usize {
        let words = mask.words();
        let w = n >> 6;
        let below = words[w] & ((1u64 << (n & 63)) - 1);
        words[..w]
            .iter()
            .map(|x| x.count_ones() as usize)
            .sum::<usize>()
            + below.count_ones() as usize
    }

    /// Adds `delta` to the position of every child in a slot above `n`.
    fn shift_positions(mask: &Mask<LOG2>, position: &mut [u16], n: usize, delta: i32) {
        for m in mask.iter_on().skip_while(|&m| m <= n) {
            position[m] = (position[m] as i32 + delta) as u16;
        }
    }

    /// The child in slot `n`.
    #[inline(always)]
    pub(crate) fn get(&self, n: usize) -> Option<&C> {
        if !self.mask.is_on(n) {
            return None;
        }
        match &self.repr {
            Repr::Sparse { position, nodes } => Some(&nodes[position[n] as usize]),
            Repr::Dense(t) => t[n].as_deref(),
        }
    }

    /// The child in slot `n`, mutably.
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, n: usize) -> Option<&mut C> {
        if !self.mask.is_on(n) {
            return None;
        }
        match &mut self.repr {
            Repr::Sparse { position, nodes } => Some(&mut nodes[position[n] as usize]),
            Repr::Dense(t) => t[n].as_deref_mut(),
        }
    }

    /// Puts `child` in slot `n`, returning the child it replaces.
    pub(crate) fn insert(&mut self, n: usize, child: Box<C>) -> Option<Box<C>> {
        if self.mask.is_on(n) {
            return Some(match &mut self.repr {
                Repr::Sparse { position, nodes } => {
                    core::mem::replace(&mut nodes[position[n] as usize], child)
                }
                Repr::Dense(t) => t[n].replace(child).expect("mask agrees with the table"),
            });
        }
        if !self.is_dense() && self.len() + 1 > Self::DENSE_THRESHOLD {
            self.make_dense();
        }
        match &mut self.repr {
            Repr::Sparse { position, nodes } => {
                let i = Self::rank(&self.mask, n);
                nodes.insert(i, child);
                Self::shift_positions(&self.mask, position, n, 1);
                position[n] = i as u16;
            }
            Repr::Dense(t) => t[n] = Some(child),
        }
        self.mask.set_on(n);
        None
    }

    /// Removes and returns the child in slot `n`.
    pub(crate) fn remove(&mut self, n: usize) -> Option<Box<C>> {
        if !self.mask.is_on(n) {
            return None;
        }
        let child = match &mut self.repr {
            Repr::Sparse { position, nodes } => {
                Self::shift_positions(&self.mask, position, n, -1);
                nodes.remove(position[n] as usize)
            }
            Repr::Dense(t) => t[n].take().expect("mask agrees with the table"),
        };
        self.mask.set_off(n);
        Some(child)
    }

    fn make_dense(&mut self) {
        let mut table: Box<[Option<Box<C>>]> = (0..Self::SLOTS).map(|_| None).collect();
        if let Repr::Sparse { nodes, .. } = &mut self.repr {
            for (slot, node) in self.mask.iter_on().zip(nodes.drain(..)) {
                table[slot] = Some(node);
            }
        }
        self.repr = Repr::Dense(table);
    }

    /// The children in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &C> + '_ {
        let (sparse, dense) = match &self.repr {
            Repr::Sparse { nodes, .. } => (Some(nodes.iter().map(|b| &**b)), None),
            Repr::Dense(t) => (None, Some(t.iter().filter_map(|c| c.as_deref()))),
        };
        sparse
            .into_iter()
            .flatten()
            .chain(dense.into_iter().flatten())
    }

    /// The children in slot order, mutably.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut C> + '_ {
        let (sparse, dense) = match &mut self.repr {
            Repr::Sparse { nodes, .. } => (Some(nodes.iter_mut().map(|b| &mut **b)), None),
            Repr::Dense(t) => (None, Some(t.iter_mut().filter_map(|c| c.as_deref_mut()))),
        };
        sparse
            .into_iter()
            .flatten()
            .chain(dense.into_iter().flatten())
    }

    /// Heap bytes of the table itself (not of the children).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.mask.heap_bytes()
            + match &self.repr {
                Repr::Sparse { position, nodes } => {
                    position.len() * core::mem::size_of::<u16>()
                        + nodes.capacity() * core::mem::size_of::<Box<C>>()
                }
                Repr::Dense(t) => t.len() * core::mem::size_of::<Option<Box<C>>>(),
            }
    }

    /// Checks that the mask, the positions and the table agree.
    pub(crate) fn check(&self) -> Result<(), String> {
        match &self.repr {
            Repr::Sparse { position, nodes } => {
                if nodes.len() != self.mask.count_on() {
                    return Err("sparse child table and child mask disagree".into());
                }
                if let Some((i, n)) = self
                    .mask
                    .iter_on()
                    .enumerate()
                    .find(|&(i, n)| position[n] as usize != i)
                {
                    return Err(format!("child position of slot {n} is not {i}"));
                }
            }
            Repr::Dense(t) => {
                if let Some(n) = (0..Self::SLOTS).find(|&n| t[n].is_some() != self.mask.is_on(n)) {
                    return Err(format!("child mask disagrees with the table at slot {n}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_and_dense_agree_with_a_plain_table() {
        let mut t = ChildTable::<u32, 2>::new();
        let mut plain: Vec<Option<u32>> = vec![None; 64];
        let mut s = 12345u64;
        let steps = if cfg!(miri) { 300 } else { 2000 };
        for step in 0..steps {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let n = (s % 64) as usize;
            if s.is_multiple_of(3) {
                assert_eq!(t.remove(n).map(|b| *b), plain[n].take());
            } else {
                assert_eq!(
                    t.insert(n, Box::new(step)).map(|b| *b),
                    plain[n].replace(step)
                );
            }
            t.check().unwrap();
            for (k, p) in plain.iter().enumerate() {
                assert_eq!(t.get(k).copied(), *p);
            }
            let listed: Vec<u32> = t.iter().copied().collect();
            let expected: Vec<u32> = plain.iter().flatten().copied().collect();
            assert_eq!(listed, expected);
        }
        assert!(t.is_dense(), "more than 64 / 8 children at some point");
    }
}
