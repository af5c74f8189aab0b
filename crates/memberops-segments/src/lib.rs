//! Member segmentation (人群划分) for MemberOps: RFM scores and classes, lifecycle stages,
//! value classes, segment condition trees with a row evaluator and a columnar index, and
//! churn warnings.
//!
//! Pure domain code: plain per-member data in, scores, classes, stages and segment matches
//! out. Storage and HTTP layers feed it; nothing here touches a database or the network.

pub mod churn;
pub mod error;
pub mod eval;
pub mod index;
pub mod lifecycle;
mod parse;
pub mod products;
pub mod rfm;
pub mod row;
pub mod settings;
pub mod tree;
pub mod value_class;

pub use churn::{ChurnConfig, ChurnInput, ChurnReason, ChurnWarning, churn_warnings};
pub use error::SegmentError;
pub use eval::{EvalContext, EventCounts, NoEvents, eval};
pub use index::{Page, SegmentIndex};
pub use lifecycle::{LifecycleFacts, LifecycleRules, Stage, stage, transition};
pub use rfm::{RfmClass, RfmConfig, RfmInput, RfmModel, RfmScore, score_all};
pub use row::MemberRow;
pub use settings::IntelSettings;
pub use tree::Node;
pub use value_class::{ValueClass, ValueClassRules, ValueClassifier, ValueInput};
