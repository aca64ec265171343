//! # minxinan — regional projections for the Southwest Fujian Coordinated Development Zone
//!
//! The engine projects population (single-year ages, two sexes), labour, three-sector output,
//! urbanization and prices for the cities of a region (the embedded default is 闽西南协同发展区:
//! 厦门, 漳州, 泉州, 三明, 龙岩) from a base year to a horizon, over Monte Carlo draws, and
//! summarises the draws as exact quantiles and plan-target probabilities.
//!
//! Data flows one way: [`region`] and [`scenario`] files are parsed and validated; [`model::Model`]
//! precomputes everything a draw shares; [`runner`] simulates draws in parallel (each a pure
//! function of scenario, seed and draw index); [`stats`] summarises; [`output`] serialises to bytes.
//! Only the binary's `cli` module touches files, the clock or the terminal.
//!
//! The equations are those of `docs/MODEL.md`.
#![deny(missing_docs)]

pub mod arith;
pub mod diagnostics;
pub mod error;
pub mod indicators;
pub mod isa;
pub mod locate;
pub mod model;
pub mod observed;
pub mod output;
pub mod params;
pub mod region;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod sensitivity;
pub mod stats;
pub mod uncertain;

pub use error::{Error, InputError, InputErrors, ModelError};
pub use model::Model;
pub use region::Region;
pub use runner::RunConfig;
pub use scenario::Scenario;
pub use stats::Ensemble;
