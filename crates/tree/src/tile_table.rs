//! [`TileTable`]: the tile values of one internal node, keyed by slot, in one of two
//! representations — *uniform* (one default value and a short sorted list of the slots
//! that differ from it) while few slots differ, *dense* (one value per slot, as
//! OpenVDB's table) once more than `NUM_VALUES / 16` do.
//!
//! Tile *states* live in the node's value mask, not here. The value stored for a slot
//! that holds a child is meaningless (the node never reads it), so installing a child
//! may drop the slot's exception. See `docs/decisions/0010-compact-internal-tables.md`.

use crate::mask::Mask;
use crate::Value;

/// Tile values of an internal node with `2^(3·LOG2)` slots.
#[derive(Clone, Debug)]
pub(crate) struct TileTable<T, const LOG2: u32> {
    repr: Repr<T>,
}

#[derive(Clone, Debug)]
enum Repr<T> {
    /// Every slot holds `default` except those listed in `exceptions`: sorted by slot,
    /// slots unique and below `NUM_VALUES`, values never bit-for-bit `default`, at most
    /// [`TileTable::DENSE_THRESHOLD`] of them.
    Uniform {
        default: T,
        exceptions: Vec<(u32, T)>,
    },
    /// One value per slot.
    Dense(Box<[T]>),
}

/// Bit-for-bit equality: a table must give back exactly the value written (`-0.0` and
/// NaN payloads included), which `PartialEq` does not promise.
#[inline(always)]
fn same<T: Value>(a: &T, b: &T) -> bool {
    T::same_bits(*a, *b)
}

impl<T: Value, const LOG2: u32> TileTable<T, LOG2> {
    const SLOTS: usize = Mask::<LOG2>::SIZE;
    /// Exceptions past which the table turns dense: `NUM_VALUES / 16`. At that count the
    /// exception list is 1/8 of the dense table for 4- and 8-byte values (an `(u32, T)`
    /// pair is 8 or 16 B against 4 or 8 B a slot) and 1/2 for 1-byte ones, a lookup is
    /// a binary search of at most `3·LOG2 − 4` steps (8 in a lower node, 11 in an
    /// upper one), and inserting an exception moves at most that many entries. Every
    /// tile of a node built by filling or densifying one tile starts out equal, so real
    /// nodes sit far below it; a node that crosses it has genuinely varied tiles.
    pub(crate) const DENSE_THRESHOLD: usize = Self::SLOTS / 16;

    /// A table with every slot `value` (the uniform form, no exceptions).
    pub(crate) fn new(value: T) -> Self {
        TileTable {
            repr: Repr::Uniform {
                default: value,
                exceptions: Vec::new(),
            },
        }
    }

    /// Makes every slot `value`, back in the uniform form (the one way a dense table
    /// turns uniform again).
    pub(crate) fn fill(&mut self, value: T) {
        *self = Self::new(value);
    }

    /// True when the table holds one value per slot.
    #[cfg(test)]
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self.repr, Repr::Dense(_))
    }

    /// Number of exceptions of the uniform form (`None` when dense).
    #[cfg(test)]
    pub(crate) fn exception_count(&self) -> Option<usize> {
        match &self.repr {
            Repr::Uniform { exceptions, .. } => Some(exceptions.len()),
            Repr::Dense(_) => None,
        }
    }

    /// The value of slot `n`.
    #[inline(always)]
    pub(crate) fn get(&self, n: usize) -> T {
        match &self.repr {
            Repr::Dense(t) => t[n],
            Repr::Uniform {
                default,
                exceptions,
            } => {
                if exceptions.is_empty() {
                    *default
                } else {
                    Self::search(*default, exceptions, n)
                }
            }
        }
    }

    #[inline]
    fn search(default: T, exceptions: &[(u32, T)], n: usize) -> T {
        match exceptions.binary_search_by_key(&(n as u32), |e| e.0) {
            Ok(i) => exceptions[i].1,
            Err(_) => default,
        }
    }

    /// Sets slot `n` to `v`; the table turns dense when the exceptions would exceed
    /// [`DENSE_THRESHOLD`](Self::DENSE_THRESHOLD).
    #[inline]
    pub(crate) fn set(&mut self, n: usize, v: T) {
        debug_assert!(n < Self::SLOTS);
        match &mut self.repr {
            Repr::Dense(t) => t[n] = v,
            Repr::Uniform {
                default,
                exceptions,
            } => {
                let found = exceptions.binary_search_by_key(&(n as u32), |e| e.0);
                if same(&v, default) {
                    if let Ok(i) = found {
                        exceptions.remove(i);
                    }
                    return;
                }
                match found {
                    Ok(i) => exceptions[i].1 = v,
                    Err(_) if exceptions.len() >= Self::DENSE_THRESHOLD => {
                        self.make_dense();
                        self.set(n, v);
                    }
                    Err(i) => exceptions.insert(i, (n as u32, v)),
                }
            }
        }
    }

    /// Forgets slot `n`'s value: used when a child is installed there, after which the
    /// value is never read. In the uniform form this drops the slot's exception; the
    /// dense form leaves the stale value.
    #[inline]
    pub(crate) fn forget(&mut self, n: usize) {
        if let Repr::Uniform { exceptions, .. } = &mut self.repr {
            if let Ok(i) = exceptions.binary_search_by_key(&(n as u32), |e| e.0) {
                exceptions.remove(i);
            }
        }
    }

    fn make_dense(&mut self) {
        if let Repr::Uniform {
            default,
            exceptions,
        } = &self.repr
        {
            let mut t = vec![*default; Self::SLOTS].into_boxed_slice();
            for &(n, v) in exceptions {
                t[n as usize] = v;
            }
            self.repr = Repr::Dense(t);
        }
    }

    /// Every slot's value, in slot order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        let mut next_exception = 0;
        (0..Self::SLOTS).map(move |n| match &self.repr {
            Repr::Dense(t) => t[n],
            Repr::Uniform {
                default,
                exceptions,
            } => match exceptions.get(next_exception) {
                Some(&(m, v)) if m as usize == n => {
                    next_exception += 1;
                    v
                }
                _ => *default,
            },
        })
    }

    /// The uniform form's value when it has no exceptions: then every slot holds it.
    pub(crate) fn single_value(&self) -> Option<T> {
        match &self.repr {
            Repr::Uniform {
                default,
                exceptions,
            } if exceptions.is_empty() => Some(*default),
            _ => None,
        }
    }

    /// Every slot's value in a vector (a scratch copy for whole-table updates).
    pub(crate) fn to_vec(&self) -> Vec<T> {
        match &self.repr {
            Repr::Dense(t) => t.to_vec(),
            Repr::Uniform { .. } => self.iter().collect(),
        }
    }

    /// Replaces every slot's value with `values` (`NUM_VALUES` of them), except that
    /// slots in `ignore` (those holding children) may end up with any value. A dense
    /// table stays dense; a uniform one takes the majority value as its default and
    /// turns dense only if more than `DENSE_THRESHOLD` slots differ from it.
    pub(crate) fn assign(&mut self, values: Vec<T>, ignore: &Mask<LOG2>) {
        assert_eq!(values.len(), Self::SLOTS, "one value per slot");
        if let Repr::Dense(t) = &mut self.repr {
            t.copy_from_slice(&values);
            return;
        }
        // Boyer–Moore majority vote: when one value fills more than half the cared-for
        // slots it is the candidate; if none does, the exceptions exceed the threshold
        // whatever the default, and the table turns dense.
        let cared = || values.iter().enumerate().filter(|(n, _)| !ignore.is_on(*n));
        let mut candidate = None;
        let mut votes = 0usize;
        for (_, v) in cared() {
            match candidate {
                Some(c) if same(&c, v) => votes += 1,
                _ if votes == 0 => {
                    candidate = Some(*v);
                    votes = 1;
                }
                _ => votes -= 1,
            }
        }
        let default = candidate.unwrap_or(values[0]);
        let differing = cared().filter(|(_, v)| !same(*v, &default)).count();
        self.repr = if differing <= Self::DENSE_THRESHOLD {
            let mut exceptions = Vec::with_capacity(differing);
            exceptions.extend(
                cared()
                    .filter(|(_, v)| !same(*v, &default))
                    .map(|(n, v)| (n as u32, *v)),
            );
            Repr::Uniform {
                default,
                exceptions,
            }
        } else {
            Repr::Dense(values.into_boxed_slice())
        };
    }

    /// Drops the exception list's spare capacity.
    pub(crate) fn shrink_to_fit(&mut self) {
        if let Repr::Uniform { exceptions, .. } = &mut self.repr {
            exceptions.shrink_to_fit();
        }
    }

    /// Heap bytes of the table.
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Uniform { exceptions, .. } => {
                exceptions.capacity() * core::mem::size_of::<(u32, T)>()
            }
            Repr::Dense(t) => core::mem::size_of_val::<[T]>(t),
        }
    }

    /// Checks the form's invariants.
    pub(crate) fn check(&self) -> Result<(), String> {
        match &self.repr {
            Repr::Uniform {
                default,
                exceptions,
            } => {
                if exceptions.len() > Self::DENSE_THRESHOLD {
                    return Err(format!(
                        "uniform tile table with {} exceptions (threshold {})",
                        exceptions.len(),
                        Self::DENSE_THRESHOLD
                    ));
                }
                if let Some(&(n, _)) = exceptions.iter().find(|e| e.0 as usize >= Self::SLOTS) {
                    return Err(format!("tile exception at slot {n} out of range"));
                }
                if let Some(w) = exceptions.windows(2).find(|w| w[0].0 >= w[1].0) {
                    return Err(format!(
                        "tile exceptions not sorted and unique at slots {} and {}",
                        w[0].0, w[1].0
                    ));
                }
                if let Some(&(n, _)) = exceptions.iter().find(|e| same(&e.1, default)) {
                    return Err(format!("tile exception at slot {n} equals the default"));
                }
            }
            Repr::Dense(t) => {
                if t.len() != Self::SLOTS {
                    return Err("dense tile table has the wrong length".into());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn both_forms_agree_with_a_plain_table() {
        // 512 slots, threshold 32.
        let mut t = TileTable::<f32, 3>::new(1.0);
        let mut plain = vec![1.0f32; 512];
        let mut s = 99u64;
        let mut saw_uniform_with_exceptions = false;
        let steps = if cfg!(miri) { 300 } else { 3000 };
        for step in 0..steps {
            let r = xorshift(&mut s);
            let n = (r % 512) as usize;
            // Mostly the default, -0.0 against 0.0, a few distinct values.
            let v = match (r >> 20) % 4 {
                0 | 1 => 1.0,
                2 => -0.0,
                _ => step as f32,
            };
            // Grow slowly at first so that the uniform form sees many exceptions.
            let v = if step < 1500 && r.is_multiple_of(3) {
                1.0
            } else {
                v
            };
            t.set(n, v);
            plain[n] = v;
            t.check().unwrap();
            saw_uniform_with_exceptions |= t.exception_count().is_some_and(|k| k > 4);
            for (k, p) in plain.iter().enumerate() {
                assert_eq!(t.get(k).to_bits(), p.to_bits(), "slot {k}");
            }
            let listed: Vec<u32> = t.iter().map(f32::to_bits).collect();
            let expected: Vec<u32> = plain.iter().map(|v| v.to_bits()).collect();
            assert_eq!(listed, expected);
        }
        assert!(saw_uniform_with_exceptions);
        assert!(t.is_dense(), "more than 512 / 16 exceptions at some point");
        t.fill(3.0);
        assert!(!t.is_dense());
        assert_eq!(t.single_value(), Some(3.0));
        assert_eq!(t.heap_bytes(), 0);
    }

    #[test]
    fn promotion_happens_past_the_threshold_and_is_one_way() {
        let mut t = TileTable::<f32, 3>::new(0.0);
        for n in 0..TileTable::<f32, 3>::DENSE_THRESHOLD {
            t.set(n * 2, 1.0);
        }
        assert_eq!(t.exception_count(), Some(32));
        assert_eq!(t.heap_bytes(), 32 * 8);
        t.set(1, 1.0);
        assert!(t.is_dense());
        assert_eq!(t.heap_bytes(), 512 * 4);
        for n in 0..512 {
            t.set(n, 0.0);
        }
        assert!(t.is_dense(), "never demoted by point writes");
        t.check().unwrap();
        // The default itself, written again, drops the exception.
        let mut u = TileTable::<f32, 3>::new(0.0);
        u.set(7, 2.0);
        u.set(7, 0.0);
        assert_eq!(u.single_value(), Some(0.0));
        u.set(7, -0.0);
        assert_eq!(u.exception_count(), Some(1), "-0.0 is not 0.0 bit for bit");
        u.forget(7);
        assert_eq!(u.single_value(), Some(0.0));
    }

    #[test]
    fn assign_picks_the_majority_and_ignores_child_slots() {
        let mut ignore = Mask::<3>::new(false);
        for n in 0..100 {
            ignore.set_on(n);
        }
        let mut values = vec![5.0f32; 512];
        for v in values.iter_mut().take(100) {
            *v = 9.0; // child slots: don't care
        }
        values[300] = 6.0;
        let mut t = TileTable::<f32, 3>::new(0.0);
        t.assign(values.clone(), &ignore);
        assert_eq!(t.exception_count(), Some(1));
        for (n, &v) in values.iter().enumerate().skip(100) {
            assert_eq!(t.get(n), v);
        }
        t.check().unwrap();
        // No majority: dense, every value kept.
        let spread: Vec<f32> = (0..512).map(|n| n as f32).collect();
        t.assign(spread.clone(), &Mask::new(false));
        assert!(t.is_dense());
        assert_eq!(t.to_vec(), spread);
        // A dense table stays dense.
        t.assign(vec![1.0; 512], &Mask::new(false));
        assert!(t.is_dense());
        assert_eq!(t.get(3), 1.0);
    }
}
