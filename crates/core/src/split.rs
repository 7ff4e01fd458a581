//! Seeded train/test splits and k-fold partitions: the same seed and data always give
//! the same rows.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Row indices of a train/test split, each in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Rows to fit on.
    pub train: Vec<usize>,
    /// Rows to evaluate on.
    pub test: Vec<usize>,
}

/// Splits rows `0..n`, sending `round(n * test_fraction)` of them to the test set (at
/// least one when `n >= 2`). With `strata` (a class code per row), each class is split
/// separately in that proportion and keeps at least one training row, so every class
/// is seen in training. Rows are shuffled with ChaCha8 seeded by `seed`.
#[must_use]
pub fn train_test_split(n: usize, test_fraction: f64, seed: u64, strata: Option<&[u32]>) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut train = Vec::with_capacity(n);
    let mut test = Vec::new();
    let groups: Vec<Vec<usize>> = match strata {
        Some(codes) if codes.len() == n => {
            let k = codes.iter().max().map_or(0, |m| *m as usize + 1);
            let mut groups = vec![Vec::new(); k];
            for (i, &c) in codes.iter().enumerate() {
                if let Some(g) = groups.get_mut(c as usize) {
                    g.push(i);
                }
            }
            groups
        }
        Some(_) | None => vec![(0..n).collect()],
    };
    for mut group in groups {
        group.shuffle(&mut rng);
        let len = group.len();
        let mut n_test = (len as f64 * test_fraction).round() as usize;
        if n_test == 0 && len >= 2 && test_fraction > 0.0 && strata.is_none() {
            n_test = 1;
        }
        let n_test = n_test.min(len.saturating_sub(1));
        test.extend_from_slice(&group[..n_test]);
        train.extend_from_slice(&group[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Split { train, test }
}

/// Partitions rows `0..n` into `k` folds for cross-validation: one [`Split`] per fold,
/// whose `test` rows are that fold and whose `train` rows are the others. Every row is in
/// exactly one fold's `test`; fold sizes differ by at most one. With `strata` (a class
/// code per row), each class is dealt round-robin across the folds after a shuffle, so
/// every fold holds each class in proportion (scikit-learn's `StratifiedKFold`). Rows
/// are shuffled with ChaCha8 seeded by `seed`. `k` is clamped to `1..=n`.
#[must_use]
pub fn k_folds(n: usize, k: usize, seed: u64, strata: Option<&[u32]>) -> Vec<Split> {
    let k = k.clamp(1, n.max(1));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    if let Some(codes) = strata.filter(|c| c.len() == n) {
        // Class by class, each in its shuffled order; the deal continues across classes
        // so that fold sizes stay within one of each other.
        order.sort_by_key(|&i| codes[i]);
    }
    let mut fold_of = vec![0usize; n];
    for (position, &row) in order.iter().enumerate() {
        fold_of[row] = position % k;
    }
    (0..k)
        .map(|fold| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..n).partition(|&row| fold_of[row] == fold);
            Split { train, test }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn same_seed_same_split_other_seed_other_split() {
        let a = train_test_split(100, 0.2, 42, None);
        assert_eq!(a, train_test_split(100, 0.2, 42, None));
        assert_ne!(a, train_test_split(100, 0.2, 43, None));
        assert_eq!(a.test.len(), 20);
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        let codes: Vec<u32> = (0..150).map(|i| i / 50).collect();
        let s = train_test_split(150, 0.2, 1, Some(&codes));
        for c in 0..3 {
            assert_eq!(s.test.iter().filter(|&&i| codes[i] == c).count(), 10);
        }
    }

    #[test]
    fn stratified_folds_hold_each_class_in_proportion() {
        let codes: Vec<u32> = (0..150).map(|i| i / 50).collect();
        let folds = k_folds(150, 5, 7, Some(&codes));
        assert_eq!(folds.len(), 5);
        for fold in &folds {
            for c in 0..3 {
                assert_eq!(fold.test.iter().filter(|&&i| codes[i] == c).count(), 10);
            }
        }
        assert_eq!(folds, k_folds(150, 5, 7, Some(&codes)));
        assert_ne!(folds, k_folds(150, 5, 8, Some(&codes)));
    }

    proptest! {
        #[test]
        fn folds_partition_the_rows(n in 1usize..300, k in 2usize..10, seed: u64, classes in 1u32..5) {
            let codes: Vec<u32> = (0..n).map(|i| (i as u32 * 7) % classes).collect();
            for strata in [None, Some(codes.as_slice())] {
                let folds = k_folds(n, k, seed, strata);
                prop_assert_eq!(folds.len(), k.min(n));
                let mut seen = vec![0u32; n];
                for fold in &folds {
                    for &r in &fold.test { seen[r] += 1; }
                    let mut all: Vec<usize> = fold.train.iter().chain(&fold.test).copied().collect();
                    all.sort_unstable();
                    prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
                }
                prop_assert!(seen.iter().all(|&s| s == 1));
                let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
                let (lo, hi) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
                prop_assert!(hi - lo <= 1, "fold sizes {:?}", sizes);
            }
        }
    }

    proptest! {
        #[test]
        fn split_is_a_partition(n in 0usize..300, frac in 0.0f64..1.0, seed: u64, k in 1u32..5) {
            let codes: Vec<u32> = (0..n).map(|i| (i as u32 * 7) % k).collect();
            for strata in [None, Some(codes.as_slice())] {
                let s = train_test_split(n, frac, seed, strata);
                let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
                all.sort_unstable();
                prop_assert_eq!(all, (0..n).collect::<Vec<_>>());
                if n > 0 { prop_assert!(!s.train.is_empty()); }
            }
        }
    }
}
