//! Fixed-size bit masks over a node's slots: [`Mask`], with population count,
//! first-on search and word-at-a-time iteration over on and off bits.
//!
//! A mask of `2^(3·LOG2)` bits lives in 64-bit words; masks of up to 512 bits (leaf
//! nodes) are stored inline, larger ones (internal nodes) on the heap — allocated only
//! once a bit is turned on (an internal node with no active tile or no child pays no
//! mask bytes; sparse trees have many such nodes). Bit `n` is the
//! slot with linear offset `n` (x-major, z fastest), so iterating the on bits visits
//! slots in OpenVDB order. See `docs/decisions/0002-masks-u64-words.md` for why this
//! is hand-written over `[u64]` rather than `bitvec`.

/// A mask of `SIZE = 1 << (3 * LOG2)` bits, one per slot of a node with side `2^LOG2`.
///
/// ```
/// use sparsevdb_tree::Mask;
/// let mut m = Mask::<3>::new(false);
/// m.set_on(5);
/// m.set_on(300);
/// assert_eq!(m.count_on(), 2);
/// assert_eq!(m.first_on(), Some(5));
/// assert_eq!(m.iter_on().collect::<Vec<_>>(), [5, 300]);
/// assert_eq!(m.iter_off().count(), 510);
/// ```
#[derive(Clone)]
pub struct Mask<const LOG2: u32> {
    /// The words of a mask of at most 512 bits (unused otherwise).
    inline: [u64; 8],
    /// The words of a larger mask; empty while every bit is off (and for inline
    /// masks).
    heap: Box<[u64]>,
}

/// The words of a lazily allocated mask whose bits are all off.
static ZEROS: [u64; 512] = [0; 512];

impl<const LOG2: u32> PartialEq for Mask<LOG2> {
    fn eq(&self, other: &Self) -> bool {
        self.words() == other.words()
    }
}

impl<const LOG2: u32> Eq for Mask<LOG2> {}

impl<const LOG2: u32> core::hash::Hash for Mask<LOG2> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.words().hash(state);
    }
}

impl<const LOG2: u32> core::fmt::Debug for Mask<LOG2> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Mask<{}>({} of {} on)",
            LOG2,
            self.count_on(),
            Self::SIZE
        )
    }
}

impl<const LOG2: u32> Default for Mask<LOG2> {
    fn default() -> Self {
        Self::new(false)
    }
}

impl<const LOG2: u32> Mask<LOG2> {
    /// Number of bits.
    pub const SIZE: usize = 1 << (3 * LOG2);
    /// Number of 64-bit words (the last one partly used when `SIZE < 64`).
    pub const WORD_COUNT: usize = if Self::SIZE < 64 { 1 } else { Self::SIZE / 64 };
    const LAST_WORD_BITS: u64 = if Self::SIZE < 64 {
        (1u64 << Self::SIZE) - 1
    } else {
        u64::MAX
    };

    const INLINE: bool = Self::WORD_COUNT <= 8;
    /// A heap mask whose bits are all off may hold no words (up to 32768 bits).
    const LAZY: bool = !Self::INLINE && Self::WORD_COUNT <= ZEROS.len();

    /// True while a lazily allocated mask holds no words (every bit off).
    #[inline(always)]
    fn unallocated(&self) -> bool {
        Self::LAZY && self.heap.is_empty()
    }

    /// A mask with every bit `on`, or every bit off.
    #[inline]
    pub fn new(on: bool) -> Self {
        let mut m = Mask {
            inline: [0; 8],
            heap: if Self::INLINE || (Self::LAZY && !on) {
                Box::default()
            } else {
                vec![0; Self::WORD_COUNT].into_boxed_slice()
            },
        };
        if on {
            let words = m.words_mut();
            words.fill(u64::MAX);
            *words.last_mut().expect("at least one word") = Self::LAST_WORD_BITS;
        }
        m
    }

    /// The mask's words, bit `n` at `words[n / 64] >> (n % 64)`.
    #[inline(always)]
    pub fn words(&self) -> &[u64] {
        if Self::INLINE {
            &self.inline[..Self::WORD_COUNT]
        } else if self.unallocated() {
            &ZEROS[..Self::WORD_COUNT]
        } else {
            &self.heap
        }
    }

    /// Allocates the words of a lazily allocated mask.
    #[cold]
    fn allocate(&mut self) {
        self.heap = vec![0; Self::WORD_COUNT].into_boxed_slice();
    }

    #[inline(always)]
    fn words_mut(&mut self) -> &mut [u64] {
        if Self::INLINE {
            &mut self.inline[..Self::WORD_COUNT]
        } else {
            if self.unallocated() {
                self.allocate();
            }
            &mut self.heap
        }
    }

    #[inline(always)]
    fn word(&self, w: usize) -> u64 {
        if Self::INLINE {
            self.inline[w & 7]
        } else if self.unallocated() {
            0
        } else {
            self.heap[w]
        }
    }

    #[inline(always)]
    fn word_mut(&mut self, w: usize) -> &mut u64 {
        if Self::INLINE {
            &mut self.inline[w & 7]
        } else {
            if self.unallocated() {
                self.allocate();
            }
            &mut self.heap[w]
        }
    }

    /// A mask whose on bits are `on` (each below `SIZE`), every other bit off.
    ///
    /// ```
    /// use sparsevdb_tree::Mask;
    /// let m = Mask::<3>::from_on_bits([2, 70]);
    /// assert_eq!(m.iter_on().collect::<Vec<_>>(), [2, 70]);
    /// ```
    pub fn from_on_bits(on: impl IntoIterator<Item = usize>) -> Self {
        let mut m = Self::new(false);
        for n in on {
            m.set_on(n);
        }
        m
    }

    /// Gives a heap mask's words back when every bit is off (the state it starts
    /// in); nothing changes for masks of 512 bits or fewer.
    ///
    /// ```
    /// use sparsevdb_tree::Mask;
    /// let mut m = Mask::<4>::new(false);
    /// assert_eq!(m.heap_bytes(), 0, "nothing allocated while all bits are off");
    /// m.set_on(7);
    /// assert_eq!(m.heap_bytes(), 512);
    /// m.set_off(7);
    /// m.shrink();
    /// assert_eq!(m.heap_bytes(), 0);
    /// ```
    pub fn shrink(&mut self) {
        if Self::LAZY && !self.heap.is_empty() && self.is_all_off() {
            self.heap = Box::default();
        }
    }

    /// Builds a mask from words; `None` if the count is wrong or bits past `SIZE` are set.
    pub fn from_words(words: &[u64]) -> Option<Self> {
        if words.len() != Self::WORD_COUNT
            || words.last().is_some_and(|w| w & !Self::LAST_WORD_BITS != 0)
        {
            return None;
        }
        let mut m = Self::new(false);
        if words.iter().any(|&w| w != 0) {
            m.words_mut().copy_from_slice(words);
        }
        Some(m)
    }

    /// True when bit `n` is on. `n` must be below `SIZE`.
    #[inline]
    pub fn is_on(&self, n: usize) -> bool {
        self.word(n >> 6) & (1u64 << (n & 63)) != 0
    }

    /// True when bit `n` is off.
    #[inline]
    pub fn is_off(&self, n: usize) -> bool {
        !self.is_on(n)
    }

    /// Turns bit `n` on.
    #[inline]
    pub fn set_on(&mut self, n: usize) {
        *self.word_mut(n >> 6) |= 1u64 << (n & 63);
    }

    /// Turns bit `n` off.
    #[inline]
    pub fn set_off(&mut self, n: usize) {
        if self.unallocated() {
            return;
        }
        *self.word_mut(n >> 6) &= !(1u64 << (n & 63));
    }

    /// Sets bit `n` to `on`.
    #[inline]
    pub fn set(&mut self, n: usize, on: bool) {
        if on {
            self.set_on(n)
        } else {
            self.set_off(n)
        }
    }

    /// Sets every bit to `on`.
    pub fn set_all(&mut self, on: bool) {
        *self = Self::new(on);
    }

    /// Number of on bits.
    #[inline]
    pub fn count_on(&self) -> usize {
        self.words().iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Number of off bits.
    #[inline]
    pub fn count_off(&self) -> usize {
        Self::SIZE - self.count_on()
    }

    /// True when every bit is on.
    pub fn is_all_on(&self) -> bool {
        let (last, rest) = self.words().split_last().expect("at least one word");
        rest.iter().all(|&w| w == u64::MAX) && *last == Self::LAST_WORD_BITS
    }

    /// True when every bit is off.
    pub fn is_all_off(&self) -> bool {
        if self.unallocated() {
            return true;
        }
        self.words().iter().all(|&w| w == 0)
    }

    /// `Some(state)` when all bits equal `state`, else `None` (OpenVDB `isConstant`).
    pub fn constant_state(&self) -> Option<bool> {
        if self.is_all_off() {
            Some(false)
        } else if self.is_all_on() {
            Some(true)
        } else {
            None
        }
    }

    /// The lowest on bit, if any.
    #[inline]
    pub fn first_on(&self) -> Option<usize> {
        self.words()
            .iter()
            .enumerate()
            .find(|(_, &w)| w != 0)
            .map(|(i, w)| i * 64 + w.trailing_zeros() as usize)
    }

    /// The lowest off bit, if any.
    pub fn first_off(&self) -> Option<usize> {
        self.iter_off().next()
    }

    /// Iterates over the on bits in ascending order.
    #[inline]
    pub fn iter_on(&self) -> BitIter<'_> {
        BitIter::new(self.words(), false, Self::LAST_WORD_BITS)
    }

    /// Iterates over the off bits in ascending order.
    #[inline]
    pub fn iter_off(&self) -> BitIter<'_> {
        BitIter::new(self.words(), true, Self::LAST_WORD_BITS)
    }

    /// `self |= other`.
    pub fn union_with(&mut self, other: &Self) {
        if other.unallocated() {
            return;
        }
        for (a, b) in self.words_mut().iter_mut().zip(other.words().iter()) {
            *a |= *b;
        }
    }

    /// `self &= other`.
    pub fn intersect_with(&mut self, other: &Self) {
        if self.unallocated() {
            return;
        }
        for (a, b) in self.words_mut().iter_mut().zip(other.words().iter()) {
            *a &= *b;
        }
    }

    /// `self &= !other`.
    pub fn subtract(&mut self, other: &Self) {
        if self.unallocated() {
            return;
        }
        for (a, b) in self.words_mut().iter_mut().zip(other.words().iter()) {
            *a &= !*b;
        }
    }

    /// True when no bit is on in both masks.
    pub fn is_disjoint(&self, other: &Self) -> bool {
        self.words()
            .iter()
            .zip(other.words().iter())
            .all(|(a, b)| a & b == 0)
    }

    /// Heap bytes held beyond `size_of::<Self>()` (0 for masks of 512 bits or fewer).
    pub fn heap_bytes(&self) -> usize {
        self.heap.len() * 8
    }
}

/// Ascending iterator over the on (or off) bits of a [`Mask`], a word at a time with
/// `trailing_zeros`.
#[derive(Clone, Debug)]
pub struct BitIter<'a> {
    words: &'a [u64],
    invert: bool,
    last_word_bits: u64,
    word_index: usize,
    current: u64,
}

impl<'a> BitIter<'a> {
    fn new(words: &'a [u64], invert: bool, last_word_bits: u64) -> Self {
        let mut it = BitIter {
            words,
            invert,
            last_word_bits,
            word_index: 0,
            current: 0,
        };
        it.current = it.load(0);
        it
    }

    #[inline]
    fn load(&self, i: usize) -> u64 {
        let mut w = self.words[i];
        if self.invert {
            w = !w;
        }
        if i + 1 == self.words.len() {
            w &= self.last_word_bits;
        }
        w
    }
}

impl Iterator for BitIter<'_> {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.current != 0 {
                let bit = self.current.trailing_zeros() as usize;
                self.current &= self.current - 1;
                return Some(self.word_index * 64 + bit);
            }
            self.word_index += 1;
            if self.word_index >= self.words.len() {
                return None;
            }
            self.current = self.load(self.word_index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_masks_use_one_partial_word() {
        let mut m = Mask::<1>::new(true);
        assert_eq!(Mask::<1>::SIZE, 8);
        assert_eq!(m.count_on(), 8);
        assert!(m.is_all_on());
        assert_eq!(m.iter_off().count(), 0);
        m.set_off(3);
        assert_eq!(m.iter_off().collect::<Vec<_>>(), [3]);
        assert_eq!(m.constant_state(), None);
    }

    #[test]
    fn iteration_matches_naive() {
        let mut m = Mask::<4>::new(false);
        let on = [0usize, 1, 63, 64, 65, 1000, 4095];
        for &n in &on {
            m.set_on(n);
        }
        assert_eq!(m.iter_on().collect::<Vec<_>>(), on);
        let off: Vec<_> = m.iter_off().collect();
        assert_eq!(off.len(), 4096 - on.len());
        assert!(off.iter().all(|n| !on.contains(n)));
        assert_eq!(m.first_on(), Some(0));
        assert_eq!(m.first_off(), Some(2));
        assert!(m.heap_bytes() > 0);
    }

    #[test]
    fn heap_masks_allocate_on_the_first_on_bit() {
        let mut m = Mask::<4>::new(false);
        assert_eq!(m.heap_bytes(), 0);
        m.set_off(9);
        m.subtract(&Mask::new(true));
        m.intersect_with(&Mask::new(true));
        m.union_with(&Mask::new(false));
        assert_eq!(m.heap_bytes(), 0, "off-bit writes allocate nothing");
        assert_eq!(
            m,
            Mask::from_words(&[0; 64]).unwrap(),
            "equal to an allocated empty mask"
        );
        assert_eq!(m.words().len(), 64);
        assert!(m.is_all_off() && m.first_on().is_none() && m.iter_off().count() == 4096);
        m.set(4095, true);
        assert_eq!((m.heap_bytes(), m.first_on()), (512, Some(4095)));
        assert_eq!(Mask::<4>::new(true).count_on(), 4096);
    }

    #[test]
    fn from_words_rejects_stray_bits() {
        assert!(Mask::<1>::from_words(&[0x1ff]).is_none());
        assert!(Mask::<1>::from_words(&[0xff]).is_some());
        assert!(Mask::<3>::from_words(&[0; 7]).is_none());
    }

    #[test]
    fn set_ops() {
        let mut a = Mask::<2>::new(false);
        let mut b = Mask::<2>::new(false);
        a.set_on(1);
        a.set_on(2);
        b.set_on(2);
        b.set_on(3);
        let mut u = a.clone();
        u.union_with(&b);
        assert_eq!(u.iter_on().collect::<Vec<_>>(), [1, 2, 3]);
        let mut i = a.clone();
        i.intersect_with(&b);
        assert_eq!(i.iter_on().collect::<Vec<_>>(), [2]);
        let mut d = a.clone();
        d.subtract(&b);
        assert_eq!(d.iter_on().collect::<Vec<_>>(), [1]);
        assert!(!a.is_disjoint(&b));
    }
}
