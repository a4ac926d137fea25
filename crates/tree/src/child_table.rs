//! [`ChildTable`]: the children of one internal node, keyed by slot, in one of two
//! representations chosen automatically — *sparse* (the children in slot order in a
//! `Vec`, found by rank over the child mask: a `u16` count of the children before each
//! 64-bit mask word plus a popcount within the word, 2 bytes per 64 slots) while few
//! slots hold a child, *dense* (one optional pointer per slot, as OpenVDB) past
//! `NUM_VALUES / 8` children. The child mask lives here too, so that the mask and the
//! table can never disagree.
//!
//! A near-empty 32³ upper node costs 1 KiB of child table instead of 256 KiB, a 16³
//! lower node 128 B instead of 32 KiB, and the children of a sparse node sit together
//! in cache (see `docs/decisions/0007-compact-child-tables.md` and
//! `docs/decisions/0010-compact-internal-tables.md`).

use crate::mask::Mask;

/// Children of an internal node with `2^(3·LOG2)` slots.
#[derive(Clone, Debug)]
pub(crate) struct ChildTable<C, const LOG2: u32> {
    mask: Mask<LOG2>,
    repr: Repr<C>,
}

#[derive(Clone, Debug)]
enum Repr<C> {
    /// `nodes` in slot order; `prefix[w]` = number of children in the slots of mask
    /// words `0..w`, so slot `n`'s child is `nodes[prefix[n / 64] + popcount(bits of
    /// word n / 64 below n)]`.
    Sparse {
        prefix: Box<[u16]>,
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
                // Allocated with the first child.
                prefix: Box::default(),
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

    /// Index in `nodes` of slot `n`'s child, or where it would go: the children in the
    /// slots below `n`. One mask word, one prefix entry, one popcount.
    #[inline(always)]
    fn rank(word: u64, prefix: &[u16], n: usize) -> usize {
        let below = word & ((1u64 << (n & 63)) - 1);
        prefix[n >> 6] as usize + below.count_ones() as usize
    }

    /// Adds `delta` to the prefix counts of the words after slot `n`'s.
    fn shift_prefix(prefix: &mut [u16], n: usize, delta: i16) {
        for p in &mut prefix[(n >> 6) + 1..] {
            *p = p.wrapping_add_signed(delta);
        }
    }

    /// The child in slot `n`.
    #[inline(always)]
    pub(crate) fn get(&self, n: usize) -> Option<&C> {
        let word = self.mask.words()[n >> 6];
        if word & (1u64 << (n & 63)) == 0 {
            return None;
        }
        match &self.repr {
            Repr::Sparse { prefix, nodes } => Some(&nodes[Self::rank(word, prefix, n)]),
            Repr::Dense(t) => t[n].as_deref(),
        }
    }

    /// The child in slot `n`, mutably.
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, n: usize) -> Option<&mut C> {
        let word = self.mask.words()[n >> 6];
        if word & (1u64 << (n & 63)) == 0 {
            return None;
        }
        match &mut self.repr {
            Repr::Sparse { prefix, nodes } => Some(&mut nodes[Self::rank(word, prefix, n)]),
            Repr::Dense(t) => t[n].as_deref_mut(),
        }
    }

    /// Puts `child` in slot `n`, returning the child it replaces.
    pub(crate) fn insert(&mut self, n: usize, child: Box<C>) -> Option<Box<C>> {
        if self.mask.is_on(n) {
            let word = self.mask.words()[n >> 6];
            return Some(match &mut self.repr {
                Repr::Sparse { prefix, nodes } => {
                    core::mem::replace(&mut nodes[Self::rank(word, prefix, n)], child)
                }
                Repr::Dense(t) => t[n].replace(child).expect("mask agrees with the table"),
            });
        }
        if !self.is_dense() && self.len() + 1 > Self::DENSE_THRESHOLD {
            self.make_dense();
        }
        let word = self.mask.words()[n >> 6];
        match &mut self.repr {
            Repr::Sparse { prefix, nodes } => {
                if prefix.is_empty() {
                    *prefix = vec![0; Mask::<LOG2>::WORD_COUNT].into_boxed_slice();
                }
                nodes.insert(Self::rank(word, prefix, n), child);
                Self::shift_prefix(prefix, n, 1);
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
        let word = self.mask.words()[n >> 6];
        let child = match &mut self.repr {
            Repr::Sparse { prefix, nodes } => {
                Self::shift_prefix(prefix, n, -1);
                let child = nodes.remove(Self::rank(word, prefix, n));
                if nodes.is_empty() {
                    // The last child went: no prefix counts, no mask words.
                    *prefix = Box::default();
                    *nodes = Vec::new();
                }
                child
            }
            Repr::Dense(t) => t[n].take().expect("mask agrees with the table"),
        };
        self.mask.set_off(n);
        if self.len() == 0 {
            self.mask.shrink();
        }
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

    /// Takes the smallest form for the children it holds: a dense table left with at
    /// most half of [`DENSE_THRESHOLD`](Self::DENSE_THRESHOLD) children turns sparse
    /// again (the gap is the hysteresis), and the sparse list drops spare capacity.
    pub(crate) fn shrink_to_fit(&mut self) {
        if self.is_dense() && self.len() <= Self::DENSE_THRESHOLD / 2 {
            let Repr::Dense(table) = core::mem::replace(
                &mut self.repr,
                Repr::Sparse {
                    prefix: Box::default(),
                    nodes: Vec::new(),
                },
            ) else {
                unreachable!("checked dense above");
            };
            let nodes: Vec<Box<C>> = table.into_vec().into_iter().flatten().collect();
            let mut prefix = vec![0u16; Mask::<LOG2>::WORD_COUNT].into_boxed_slice();
            let mut acc = 0u16;
            for (p, w) in prefix.iter_mut().zip(self.mask.words()) {
                *p = acc;
                acc += w.count_ones() as u16;
            }
            self.repr = Repr::Sparse { prefix, nodes };
        }
        if let Repr::Sparse { nodes, .. } = &mut self.repr {
            nodes.shrink_to_fit();
        }
    }

    /// Heap bytes of the table itself (not of the children).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.mask.heap_bytes()
            + match &self.repr {
                Repr::Sparse { prefix, nodes } => {
                    prefix.len() * core::mem::size_of::<u16>()
                        + nodes.capacity() * core::mem::size_of::<Box<C>>()
                }
                Repr::Dense(t) => t.len() * core::mem::size_of::<Option<Box<C>>>(),
            }
    }

    /// Checks that the mask, the prefix counts and the table agree.
    pub(crate) fn check(&self) -> Result<(), String> {
        match &self.repr {
            Repr::Sparse { prefix, nodes } => {
                if nodes.len() != self.mask.count_on() {
                    return Err("sparse child table and child mask disagree".into());
                }
                if nodes.len() > Self::DENSE_THRESHOLD {
                    return Err(format!(
                        "sparse child table with {} children (threshold {})",
                        nodes.len(),
                        Self::DENSE_THRESHOLD
                    ));
                }
                if prefix.len() != Mask::<LOG2>::WORD_COUNT && !nodes.is_empty() {
                    return Err("child prefix counts have the wrong length".into());
                }
                let mut before = 0usize;
                for (w, (&p, word)) in prefix.iter().zip(self.mask.words()).enumerate() {
                    if p as usize != before {
                        return Err(format!(
                            "child prefix count of word {w} is {p}, not {before}"
                        ));
                    }
                    before += word.count_ones() as usize;
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

    #[test]
    fn sparse_form_by_rank_over_many_words() {
        // 4096 slots, 64 mask words, threshold 512: stays sparse.
        let mut t = ChildTable::<u32, 4>::new();
        let mut plain: Vec<Option<u32>> = vec![None; 4096];
        let mut s = 777u64;
        let steps = if cfg!(miri) { 200 } else { 3000 };
        for step in 0..steps {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Cluster the slots so that words fill up and empty again.
            let n = ((s % 300) * 13 % 4096) as usize;
            if s.is_multiple_of(4) {
                assert_eq!(t.remove(n).map(|b| *b), plain[n].take());
            } else {
                assert_eq!(
                    t.insert(n, Box::new(step)).map(|b| *b),
                    plain[n].replace(step)
                );
            }
            if step % 50 == 0 || cfg!(miri) {
                t.check().unwrap();
                for (k, p) in plain.iter().enumerate() {
                    assert_eq!(t.get(k).copied(), *p);
                }
            }
        }
        t.check().unwrap();
        assert!(!t.is_dense());
        assert_eq!(
            t.heap_bytes(),
            64 * 8
                + 64 * 2
                + match &t.repr {
                    Repr::Sparse { nodes, .. } => nodes.capacity() * 8,
                    Repr::Dense(_) => unreachable!(),
                },
            "mask words, one u16 per word, the node pointers"
        );
        let listed: Vec<u32> = t.iter().copied().collect();
        let expected: Vec<u32> = plain.iter().flatten().copied().collect();
        assert_eq!(listed, expected);
    }
}
