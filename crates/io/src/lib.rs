//! File side of "is this address or point in a priority neighbourhood (QPV)?".
//!
//! * [`table`]: reading CSV/XLSX inputs (encoding, separator, column detection).
//! * [`output`]: batch processing — the input with QPV columns added, in the same
//!   format, plus a [`output::Summary`].
//! * [`ban`]: Base Adresse Nationale CSV reader, in-memory [`ban::AddressIndex`]
//!   and free-text geocoder.
//! * [`text`]: normalisation helpers shared by the above.
//!
//! No database, no network: the caller supplies the spatial lookup as a closure.
#![warn(missing_docs)]

pub mod ban;
pub mod output;
pub mod scdl;
pub mod table;
pub mod text;
pub mod xlsx_table;
