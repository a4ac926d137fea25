//! Integer voxel coordinates ([`Coord`]) and inclusive axis-aligned boxes ([`CoordBBox`]).
//!
//! Coordinates cover the full `i32` range, extremes included. Every method here is
//! total: nothing overflows or panics, whatever the input.

use bytemuck::{Pod, Zeroable};

/// A signed integer voxel coordinate `(x, y, z)`, OpenVDB's `math::Coord`.
///
/// Ordering (`Ord`) is lexicographic on `(x, y, z)` with signed comparison, the order
/// in which the root node visits its children.
///
/// ```
/// use sparsevdb_tree::Coord;
/// let c = Coord::new(1, -2, 3);
/// assert_eq!((c.x, c.y, c.z), (1, -2, 3));
/// assert!(Coord::new(-1, 9, 9) < c);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Pod, Zeroable)]
#[repr(C)]
pub struct Coord {
    /// The x component.
    pub x: i32,
    /// The y component.
    pub y: i32,
    /// The z component.
    pub z: i32,
}

impl Coord {
    /// The coordinate `(x, y, z)`.
    #[inline]
    pub const fn new(x: i32, y: i32, z: i32) -> Self {
        Coord { x, y, z }
    }

    /// The coordinate with all three components equal to `v`.
    ///
    /// ```
    /// # use sparsevdb_tree::Coord;
    /// assert_eq!(Coord::splat(4), Coord::new(4, 4, 4));
    /// ```
    #[inline]
    pub const fn splat(v: i32) -> Self {
        Coord { x: v, y: v, z: v }
    }

    /// The smallest representable coordinate, `(i32::MIN, i32::MIN, i32::MIN)`.
    pub const MIN: Coord = Coord::splat(i32::MIN);
    /// The largest representable coordinate, `(i32::MAX, i32::MAX, i32::MAX)`.
    pub const MAX: Coord = Coord::splat(i32::MAX);

    /// The components as an array `[x, y, z]`.
    ///
    /// ```
    /// # use sparsevdb_tree::Coord;
    /// assert_eq!(Coord::new(1, 2, 3).to_array(), [1, 2, 3]);
    /// ```
    #[inline]
    pub const fn to_array(self) -> [i32; 3] {
        [self.x, self.y, self.z]
    }

    /// Component-wise bitwise AND with `mask` (used to find node origins:
    /// `c.mask(!(DIM - 1))`). Never overflows.
    ///
    /// ```
    /// # use sparsevdb_tree::Coord;
    /// assert_eq!(Coord::new(9, -1, 7).mask(!7), Coord::new(8, -8, 0));
    /// ```
    #[inline]
    pub const fn mask(self, mask: i32) -> Self {
        Coord::new(self.x & mask, self.y & mask, self.z & mask)
    }

    /// Component-wise minimum.
    #[inline]
    pub fn min_component(self, o: Coord) -> Coord {
        Coord::new(self.x.min(o.x), self.y.min(o.y), self.z.min(o.z))
    }

    /// Component-wise maximum.
    #[inline]
    pub fn max_component(self, o: Coord) -> Coord {
        Coord::new(self.x.max(o.x), self.y.max(o.y), self.z.max(o.z))
    }

    /// `self + (d, d, d)`, or `None` if any component would overflow.
    ///
    /// ```
    /// # use sparsevdb_tree::Coord;
    /// assert_eq!(Coord::new(1, 2, 3).checked_offset(1), Some(Coord::new(2, 3, 4)));
    /// assert_eq!(Coord::MAX.checked_offset(1), None);
    /// ```
    #[inline]
    pub fn checked_offset(self, d: i32) -> Option<Coord> {
        Some(Coord::new(
            self.x.checked_add(d)?,
            self.y.checked_add(d)?,
            self.z.checked_add(d)?,
        ))
    }

    /// True when every component of `self` is `<=` the same component of `o`.
    #[inline]
    pub fn all_le(self, o: Coord) -> bool {
        self.x <= o.x && self.y <= o.y && self.z <= o.z
    }
}

impl From<[i32; 3]> for Coord {
    #[inline]
    fn from(a: [i32; 3]) -> Self {
        Coord::new(a[0], a[1], a[2])
    }
}

impl From<Coord> for [i32; 3] {
    #[inline]
    fn from(c: Coord) -> Self {
        c.to_array()
    }
}

impl From<(i32, i32, i32)> for Coord {
    #[inline]
    fn from(t: (i32, i32, i32)) -> Self {
        Coord::new(t.0, t.1, t.2)
    }
}

impl core::fmt::Display for Coord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "({}, {}, {})", self.x, self.y, self.z)
    }
}

/// An inclusive axis-aligned box of coordinates, OpenVDB's `math::CoordBBox`.
///
/// `new` keeps both corners exactly as given; a box whose `min` exceeds its `max` on
/// any axis is simply empty (it contains nothing, has volume 0, and a fill with it
/// does nothing).
///
/// ```
/// use sparsevdb_tree::{Coord, CoordBBox};
/// let b = CoordBBox::new(Coord::new(0, 0, 0), Coord::new(7, 7, 7));
/// assert_eq!(b.volume(), 512);
/// assert!(b.contains(Coord::new(7, 0, 3)));
/// assert!(CoordBBox::new(Coord::splat(1), Coord::splat(0)).is_empty());
/// // The full i32 range has a volume of 2^96, which a u128 holds.
/// assert_eq!(CoordBBox::new(Coord::MIN, Coord::MAX).volume(), 1u128 << 96);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Pod, Zeroable)]
#[repr(C)]
pub struct CoordBBox {
    min: Coord,
    max: Coord,
}

impl CoordBBox {
    /// The box from `min` to `max`, both inclusive, kept exactly as given.
    #[inline]
    pub const fn new(min: Coord, max: Coord) -> Self {
        CoordBBox { min, max }
    }

    /// The box holding the single coordinate `c`.
    #[inline]
    pub const fn from_coord(c: Coord) -> Self {
        CoordBBox { min: c, max: c }
    }

    /// The cube with corner `min` and side `dim` (`dim >= 1`), clamped at `i32::MAX`.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox};
    /// let b = CoordBBox::create_cube(Coord::new(8, 0, 0), 8);
    /// assert_eq!(b.max(), Coord::new(15, 7, 7));
    /// ```
    pub fn create_cube(min: Coord, dim: u32) -> Self {
        let ext = |v: i32| -> i32 {
            let m = v as i64 + dim as i64 - 1;
            m.min(i32::MAX as i64) as i32
        };
        CoordBBox::new(min, Coord::new(ext(min.x), ext(min.y), ext(min.z)))
    }

    /// The lower corner, as given to [`CoordBBox::new`].
    #[inline]
    pub const fn min(&self) -> Coord {
        self.min
    }

    /// The upper corner (inclusive), as given to [`CoordBBox::new`].
    #[inline]
    pub const fn max(&self) -> Coord {
        self.max
    }

    /// True when the box contains no coordinate (`min > max` on some axis).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.min.x > self.max.x || self.min.y > self.max.y || self.min.z > self.max.z
    }

    /// True when `c` lies inside the box (bounds inclusive).
    #[inline]
    pub fn contains(&self, c: Coord) -> bool {
        self.min.all_le(c) && c.all_le(self.max)
    }

    /// True when `other` is non-empty and lies wholly inside `self`.
    pub fn contains_bbox(&self, other: &CoordBBox) -> bool {
        !other.is_empty() && self.contains(other.min) && self.contains(other.max)
    }

    /// True when the two boxes share at least one coordinate.
    pub fn intersects(&self, other: &CoordBBox) -> bool {
        !self.intersection(other).is_empty()
    }

    /// The coordinates in both boxes (possibly empty).
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox};
    /// let a = CoordBBox::new(Coord::splat(0), Coord::splat(10));
    /// let b = CoordBBox::new(Coord::splat(5), Coord::splat(20));
    /// assert_eq!(a.intersection(&b), CoordBBox::new(Coord::splat(5), Coord::splat(10)));
    /// ```
    #[inline]
    pub fn intersection(&self, other: &CoordBBox) -> CoordBBox {
        CoordBBox::new(
            self.min.max_component(other.min),
            self.max.min_component(other.max),
        )
    }

    /// The smallest box holding both boxes; an empty operand is ignored.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox};
    /// let a = CoordBBox::from_coord(Coord::new(0, 0, 0));
    /// let b = CoordBBox::from_coord(Coord::new(3, -1, 2));
    /// assert_eq!(a.union(&b), CoordBBox::new(Coord::new(0, -1, 0), Coord::new(3, 0, 2)));
    /// ```
    pub fn union(&self, other: &CoordBBox) -> CoordBBox {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        CoordBBox::new(
            self.min.min_component(other.min),
            self.max.max_component(other.max),
        )
    }

    /// Grows the box to hold `c` (an empty box becomes `c` alone).
    pub fn expand_to(&mut self, c: Coord) {
        if self.is_empty() {
            *self = CoordBBox::from_coord(c);
        } else {
            self.min = self.min.min_component(c);
            self.max = self.max.max_component(c);
        }
    }

    /// The number of coordinates on each axis (0 for an empty box), as `u64`.
    pub fn dim(&self) -> [u64; 3] {
        let d = |lo: i32, hi: i32| -> u64 {
            if lo > hi {
                0
            } else {
                (hi as i64 - lo as i64 + 1) as u64
            }
        };
        if self.is_empty() {
            return [0; 3];
        }
        [
            d(self.min.x, self.max.x),
            d(self.min.y, self.max.y),
            d(self.min.z, self.max.z),
        ]
    }

    /// The number of coordinates in the box; exact even for the whole `i32` cube (2^96).
    #[inline]
    pub fn volume(&self) -> u128 {
        let [a, b, c] = self.dim();
        a as u128 * b as u128 * c as u128
    }

    /// Iterates over every coordinate of the box, x slowest and z fastest (OpenVDB's
    /// order). Terminates at the `i32` extremes.
    ///
    /// ```
    /// # use sparsevdb_tree::{Coord, CoordBBox};
    /// let b = CoordBBox::new(Coord::new(0, 0, 0), Coord::new(1, 0, 1));
    /// let v: Vec<Coord> = b.iter().collect();
    /// assert_eq!(v, [Coord::new(0,0,0), Coord::new(0,0,1), Coord::new(1,0,0), Coord::new(1,0,1)]);
    /// ```
    pub fn iter(&self) -> CoordBBoxIter {
        CoordBBoxIter {
            bbox: *self,
            next: if self.is_empty() {
                None
            } else {
                Some(self.min)
            },
        }
    }
}

impl IntoIterator for CoordBBox {
    type Item = Coord;
    type IntoIter = CoordBBoxIter;
    fn into_iter(self) -> CoordBBoxIter {
        self.iter()
    }
}

impl IntoIterator for &CoordBBox {
    type Item = Coord;
    type IntoIter = CoordBBoxIter;
    fn into_iter(self) -> CoordBBoxIter {
        self.iter()
    }
}

/// Iterator over the coordinates of a [`CoordBBox`], x-major with z fastest.
#[derive(Clone, Debug)]
pub struct CoordBBoxIter {
    bbox: CoordBBox,
    next: Option<Coord>,
}

impl Iterator for CoordBBoxIter {
    type Item = Coord;
    fn next(&mut self) -> Option<Coord> {
        let cur = self.next?;
        let b = &self.bbox;
        self.next = if cur.z < b.max.z {
            Some(Coord::new(cur.x, cur.y, cur.z + 1))
        } else if cur.y < b.max.y {
            Some(Coord::new(cur.x, cur.y + 1, b.min.z))
        } else if cur.x < b.max.x {
            Some(Coord::new(cur.x + 1, b.min.y, b.min.z))
        } else {
            None
        };
        Some(cur)
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::{Coord, CoordBBox};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    impl Serialize for Coord {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            self.to_array().serialize(s)
        }
    }
    impl<'de> Deserialize<'de> for Coord {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            <[i32; 3]>::deserialize(d).map(Coord::from)
        }
    }
    impl Serialize for CoordBBox {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            (self.min, self.max).serialize(s)
        }
    }
    impl<'de> Deserialize<'de> for CoordBBox {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let (min, max) = <(Coord, Coord)>::deserialize(d)?;
            Ok(CoordBBox::new(min, max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_iter_at_extremes_terminates() {
        let b = CoordBBox::new(
            Coord::new(i32::MAX - 1, i32::MIN, i32::MAX - 2),
            Coord::new(i32::MAX, i32::MIN + 1, i32::MAX),
        );
        let v: Vec<_> = b.iter().collect();
        assert_eq!(v.len() as u128, b.volume());
        assert_eq!(v.len(), 12);
        assert_eq!(*v.last().unwrap(), b.max());
    }

    #[test]
    fn inverted_box_is_empty() {
        let b = CoordBBox::new(Coord::new(0, 5, 0), Coord::new(3, 4, 3));
        assert!(b.is_empty());
        assert_eq!(b.volume(), 0);
        assert_eq!(b.iter().count(), 0);
        assert!(!b.contains(Coord::new(1, 4, 1)));
    }

    #[test]
    fn union_and_intersection() {
        let a = CoordBBox::new(Coord::splat(-3), Coord::splat(3));
        let e = CoordBBox::new(Coord::splat(1), Coord::splat(0));
        assert_eq!(a.union(&e), a);
        assert_eq!(e.union(&a), a);
        assert!(a.intersection(&e).is_empty());
        assert_eq!(a.volume(), 343);
    }

    #[test]
    fn mask_is_floor_alignment() {
        assert_eq!(Coord::MIN.mask(!4095), Coord::MIN);
        assert_eq!(Coord::MAX.mask(!4095), Coord::splat(i32::MAX - 4095));
        assert_eq!(Coord::splat(-1).mask(!7), Coord::splat(-8));
    }
}
