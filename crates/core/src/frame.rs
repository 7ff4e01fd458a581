//! A lean columnar batch of validated rows, aligned with a [`FeatureSchema`].
//!
//! train builds a `Frame` from polars columns and serve from JSON records, both through
//! [`FeatureSchema::validate_rows`]; preprocessing consumes it. Numeric, integer and
//! boolean features are `f64` columns with `NaN` for a missing value; categorical
//! features keep their strings.
//!
//! [`FeatureSchema`]: crate::schema::FeatureSchema
//! [`FeatureSchema::validate_rows`]: crate::schema::FeatureSchema::validate_rows

/// One column of a [`Frame`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numeric, integer or boolean values (`true` = 1, `false` = 0); `NaN` marks a missing value.
    Numeric(Vec<f64>),
    /// Category strings; `None` marks a missing value.
    Categorical(Vec<Option<String>>),
}

impl Column {
    /// Number of values in the column.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }

    /// True when the column has no values.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the first `len` values.
    pub(crate) fn truncate(&mut self, len: usize) {
        match self {
            Column::Numeric(v) => v.truncate(len),
            Column::Categorical(v) => v.truncate(len),
        }
    }

    fn select(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Categorical(v) => {
                Column::Categorical(rows.iter().map(|&r| v[r].clone()).collect())
            }
        }
    }
}

/// Validated rows in columnar form; column `i` holds feature `i` of the schema that built it.
/// The default is the empty frame (no columns, no rows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    columns: Vec<Column>,
    n_rows: usize,
}

impl Frame {
    /// Builds a frame from columns of equal length.
    ///
    /// # Errors
    /// Returns the index and length of the first column whose length differs from the first's.
    pub fn new(columns: Vec<Column>) -> Result<Self, FrameShapeError> {
        let n_rows = columns.first().map_or(0, Column::len);
        if let Some((index, col)) = columns.iter().enumerate().find(|(_, c)| c.len() != n_rows) {
            return Err(FrameShapeError {
                index,
                expected: n_rows,
                found: col.len(),
            });
        }
        Ok(Self { columns, n_rows })
    }

    /// Builds a frame from columns the caller knows to be `n_rows` long.
    pub(crate) fn from_aligned(columns: Vec<Column>, n_rows: usize) -> Self {
        debug_assert!(columns.iter().all(|c| c.len() == n_rows));
        Self { columns, n_rows }
    }

    /// Number of rows.
    #[must_use]
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The columns, in schema order.
    #[must_use]
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// A new frame holding the rows at `rows`, in that order.
    ///
    /// # Panics
    /// Panics when an index is out of bounds; callers pass indices produced from this frame.
    #[must_use]
    pub fn select_rows(&self, rows: &[usize]) -> Frame {
        Frame {
            columns: self.columns.iter().map(|c| c.select(rows)).collect(),
            n_rows: rows.len(),
        }
    }

    /// The rows `first` and the rows `second` (disjoint), as two frames, consuming this
    /// one: category strings are moved, not copied, so splitting a large table does not
    /// hold it twice. Indices out of bounds give missing values.
    #[must_use]
    pub fn split_rows(self, first: &[usize], second: &[usize]) -> (Frame, Frame) {
        let mut a = Vec::with_capacity(self.columns.len());
        let mut b = Vec::with_capacity(self.columns.len());
        for column in self.columns {
            match column {
                Column::Numeric(v) => {
                    let pick = |rows: &[usize]| {
                        rows.iter()
                            .map(|&r| v.get(r).copied().unwrap_or(f64::NAN))
                            .collect()
                    };
                    a.push(Column::Numeric(pick(first)));
                    b.push(Column::Numeric(pick(second)));
                }
                Column::Categorical(mut v) => {
                    let mut take = |rows: &[usize]| {
                        rows.iter()
                            .map(|&r| v.get_mut(r).and_then(Option::take))
                            .collect()
                    };
                    let left = take(first);
                    let right = take(second);
                    a.push(Column::Categorical(left));
                    b.push(Column::Categorical(right));
                }
            }
        }
        (
            Frame {
                columns: a,
                n_rows: first.len(),
            },
            Frame {
                columns: b,
                n_rows: second.len(),
            },
        )
    }
}

/// Columns of different lengths were given to [`Frame::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {index} has {found} values, expected {expected} like the first column")]
pub struct FrameShapeError {
    /// Index of the first column with a different length.
    pub index: usize,
    /// Length of the first column.
    pub expected: usize,
    /// Length of the offending column.
    pub found: usize,
}

/// A dense row-major matrix of model inputs: the output of preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    values: Vec<f64>,
    n_rows: usize,
    n_cols: usize,
    /// Columns that hold category codes, with their number of categories.
    categories: Vec<(usize, usize)>,
}

impl FeatureMatrix {
    /// Wraps row-major `values` of shape `n_rows x n_cols`; `None` when the length disagrees.
    #[must_use]
    pub fn from_row_major(values: Vec<f64>, n_rows: usize, n_cols: usize) -> Option<Self> {
        (n_rows.checked_mul(n_cols) == Some(values.len())).then_some(Self {
            values,
            n_rows,
            n_cols,
            categories: Vec::new(),
        })
    }

    /// Marks columns as category codes: each `(column, n)` holds `0..n` (the position of
    /// the category in its feature's list) or NaN for a missing or unseen category.
    /// Models that split on categories natively read it; columns out of range are
    /// ignored.
    #[must_use]
    pub fn with_categories(mut self, categories: Vec<(usize, usize)>) -> Self {
        self.categories = categories
            .into_iter()
            .filter(|&(c, _)| c < self.n_cols)
            .collect();
        self
    }

    /// The columns holding category codes, with their number of categories.
    #[must_use]
    pub fn categories(&self) -> &[(usize, usize)] {
        &self.categories
    }

    /// Number of rows.
    #[must_use]
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (model input features).
    #[must_use]
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Row `i` as a slice; empty when `i` is out of bounds.
    #[must_use]
    pub fn row(&self, i: usize) -> &[f64] {
        let start = i.saturating_mul(self.n_cols);
        self.values.get(start..start + self.n_cols).unwrap_or(&[])
    }

    /// Iterates over the rows.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> {
        // `chunks_exact(0)` panics; a zero-width matrix yields empty rows instead.
        let width = self.n_cols.max(1);
        let n = if self.n_cols == 0 { 0 } else { self.n_rows };
        self.values.chunks_exact(width).take(n)
    }

    /// The row-major values.
    #[must_use]
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Consumes the matrix, returning its row-major values.
    #[must_use]
    pub fn into_values(self) -> Vec<f64> {
        self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rejects_ragged_columns() {
        let err = Frame::new(vec![
            Column::Numeric(vec![1.0, 2.0]),
            Column::Categorical(vec![Some("a".into())]),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            FrameShapeError {
                index: 1,
                expected: 2,
                found: 1
            }
        );
    }

    #[test]
    fn select_rows_keeps_order() {
        let f = Frame::new(vec![Column::Numeric(vec![1.0, 2.0, 3.0])]).unwrap();
        let s = f.select_rows(&[2, 0]);
        assert_eq!(s.columns(), &[Column::Numeric(vec![3.0, 1.0])]);
        assert_eq!(s.n_rows(), 2);
    }

    #[test]
    fn matrix_rows() {
        let m = FeatureMatrix::from_row_major(vec![1.0, 2.0, 3.0, 4.0], 2, 2).unwrap();
        assert_eq!(
            m.rows().collect::<Vec<_>>(),
            vec![&[1.0, 2.0][..], &[3.0, 4.0][..]]
        );
        assert_eq!(m.row(1), &[3.0, 4.0]);
        assert!(m.row(2).is_empty());
        assert!(FeatureMatrix::from_row_major(vec![1.0], 2, 2).is_none());
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    #[test]
    fn split_rows_gives_the_same_rows_as_select_rows() {
        let frame = Frame::new(vec![
            Column::Numeric(vec![0.0, 1.0, 2.0, 3.0, 4.0]),
            Column::Categorical(vec![
                Some("a".to_owned()),
                None,
                Some("c".to_owned()),
                Some("d".to_owned()),
                Some("e".to_owned()),
            ]),
        ])
        .unwrap();
        let (train, test) = ([4, 0, 2], [3, 1]);
        let expected = (frame.select_rows(&train), frame.select_rows(&test));
        assert_eq!(frame.split_rows(&train, &test), expected);
        assert_eq!(Frame::default().n_rows(), 0);
    }
}
