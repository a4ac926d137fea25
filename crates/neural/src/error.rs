//! The crate's error type: every failure of this crate is one typed
//! [`NeuralError`] variant, never a panic.

use crate::layer::Collision;

/// Shorthand for `Result<T, NeuralError>`.
pub type Result<T, E = NeuralError> = std::result::Result<T, E>;

/// Everything that can go wrong when planning, storing, loading, importing or
/// multiplying weights.
///
/// ```
/// use sparsevdb_neural::{LayoutPlan, NeuralError};
/// let plan = LayoutPlan::from_tensors(&[], &Default::default()).unwrap();
/// assert!(matches!(plan.tensor("nope"), Err(NeuralError::UnknownTensor(_))));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NeuralError {
    /// A tensor was given with a shape other than the one its plan records.
    #[error("tensor `{name}`: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// The tensor's name.
        name: String,
        /// The shape the plan (or the operation) requires.
        expected: Vec<usize>,
        /// The shape that was given.
        got: Vec<usize>,
    },
    /// A buffer holds another number of values than its shape says.
    #[error("`{name}`: {expected} values expected, {got} given")]
    LengthMismatch {
        /// What the buffer is (a tensor name, `x`, ...).
        name: String,
        /// The number of values required.
        expected: usize,
        /// The number of values given.
        got: usize,
    },
    /// No tensor of this name is in the plan or the file.
    #[error("unknown tensor `{0}`")]
    UnknownTensor(String),
    /// The tensor name follows none of the known naming schemes (BERT, GPT-2,
    /// LLaMA, PEFT LoRA); only raised when names are required to be known.
    #[error("tensor name `{0}` follows no known naming scheme (BERT, GPT-2, LLaMA, PEFT LoRA)")]
    UnrecognizedName(String),
    /// The same tensor name appears twice.
    #[error("duplicate tensor `{0}`")]
    DuplicateTensor(String),
    /// The tensor's element type cannot be stored (only F32, F16 and BF16 can).
    #[error("tensor `{name}`: unsupported dtype {dtype} (F32, F16 and BF16 are supported)")]
    UnsupportedDtype {
        /// The tensor's name.
        name: String,
        /// The dtype as written in the file.
        dtype: String,
    },
    /// The seed's classic Z ranges give two different layer kinds the same
    /// Z slice. Every collision found is listed; nothing was written.
    #[error("{} classic-layout collision(s), the first: {}", .all.len(), .first)]
    ClassicCollision {
        /// The first collision found.
        first: Collision,
        /// Every collision found, in the order found (the first included).
        all: Vec<Collision>,
    },
    /// Two tensors of a layout plan were given overlapping regions.
    #[error("the regions of `{a}` and `{b}` overlap")]
    RegionOverlap {
        /// One tensor.
        a: String,
        /// The other tensor.
        b: String,
    },
    /// A coordinate, a size or a code does not fit its range.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// A layout plan is inconsistent (shape, fold and region disagree).
    #[error("invalid layout plan: {0}")]
    InvalidPlan(String),
    /// A sparsity rule has a meaningless parameter (a negative or NaN
    /// threshold, a sparsity outside `[0, 1]`).
    #[error("invalid sparsity rule: {0}")]
    InvalidSparsity(String),
    /// Two LoRA factors do not fit together or not their target.
    #[error("LoRA pair `{name}`: {reason}")]
    LoraShape {
        /// The adapted module.
        name: String,
        /// What does not fit.
        reason: String,
    },
    /// The bytes are not a valid safetensors file.
    #[error("corrupt safetensors data: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// A layout plan stored as JSON could not be read or written.
    #[error("layout plan JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Reading or writing a file failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
