//! A fixed-size set of customer indexes, one bit each.

#[derive(Clone, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    len: usize,
}

impl std::fmt::Debug for Bitset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitset({} of {})", self.count(), self.len)
    }
}

impl Bitset {
    pub fn empty(len: usize) -> Bitset {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    pub fn full(len: usize) -> Bitset {
        let mut b = Bitset {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        b.trim();
        b
    }

    /// Builds a set from a predicate over every index.
    pub fn from_fn(len: usize, mut f: impl FnMut(usize) -> bool) -> Bitset {
        let mut b = Bitset::empty(len);
        for (w, word) in b.words.iter_mut().enumerate() {
            let base = w * 64;
            let end = (base + 64).min(len);
            let mut bits = 0u64;
            for i in base..end {
                if f(i) {
                    bits |= 1 << (i - base);
                }
            }
            *word = bits;
        }
        b
    }

    /// Like [`Bitset::from_fn`], split over the machine's cores.
    pub fn from_fn_par(len: usize, f: impl Fn(usize) -> bool + Sync) -> Bitset {
        let words = len.div_ceil(64);
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        if threads <= 1 || len < 50_000 {
            return Bitset::from_fn(len, f);
        }
        let mut out = vec![0u64; words];
        let chunk = words.div_ceil(threads);
        std::thread::scope(|s| {
            for (ci, part) in out.chunks_mut(chunk).enumerate() {
                let f = &f;
                s.spawn(move || {
                    for (j, word) in part.iter_mut().enumerate() {
                        let base = (ci * chunk + j) * 64;
                        let end = (base + 64).min(len);
                        let mut bits = 0u64;
                        for i in base..end {
                            if f(i) {
                                bits |= 1 << (i - base);
                            }
                        }
                        *word = bits;
                    }
                });
            }
        });
        Bitset { words: out, len }
    }

    fn trim(&mut self) {
        let extra = self.words.len() * 64 - self.len;
        if extra > 0
            && let Some(last) = self.words.last_mut()
        {
            *last &= u64::MAX >> extra;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub fn set(&mut self, i: usize, on: bool) {
        if i >= self.len {
            return;
        }
        if on {
            self.words[i / 64] |= 1 << (i % 64);
        } else {
            self.words[i / 64] &= !(1 << (i % 64));
        }
    }

    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn and_with(&mut self, other: &Bitset) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub fn or_with(&mut self, other: &Bitset) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub fn and_not_with(&mut self, other: &Bitset) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    pub fn negate(&mut self) {
        for w in &mut self.words {
            *w = !*w;
        }
        self.trim();
    }

    pub fn negated(&self) -> Bitset {
        let mut b = self.clone();
        b.negate();
        b
    }

    /// Size of the intersection, without building it.
    pub fn count_and(&self, other: &Bitset) -> usize {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }

    /// The indexes in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let t = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(w * 64 + t)
            })
        })
    }

    /// Bytes held.
    pub fn heap_size(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations_and_counts() {
        let a = Bitset::from_fn(130, |i| i % 2 == 0);
        let b = Bitset::from_fn(130, |i| i % 3 == 0);
        assert_eq!(a.count(), 65);
        assert_eq!(b.count(), 44);
        let mut and = a.clone();
        and.and_with(&b);
        assert_eq!(and.count(), 22);
        assert_eq!(a.count_and(&b), 22);
        let mut or = a.clone();
        or.or_with(&b);
        assert_eq!(or.count(), 65 + 44 - 22);
        let not = a.negated();
        assert_eq!(not.count(), 65);
        assert!(!not.get(0) && not.get(129));
        assert_eq!(Bitset::full(130).count(), 130);
        assert_eq!(Bitset::full(130).negated().count(), 0);
        assert_eq!(and.iter().take(3).collect::<Vec<_>>(), vec![0, 6, 12]);
        let par = Bitset::from_fn_par(100_000, |i| i % 7 == 1);
        assert_eq!(par, Bitset::from_fn(100_000, |i| i % 7 == 1));
    }
}
