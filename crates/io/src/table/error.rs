//! The errors that stop the processing of a whole file.

use std::io;

/// Errors that stop the processing of a whole file. Row-level problems are
/// not errors: they are reported per line in the summary.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Read or write failure.
    #[error("erreur de lecture ou d'écriture : {0}")]
    Io(#[from] io::Error),
    /// The file is not text (binary file renamed `.csv`, PDF, old `.xls`...).
    #[error("{0}")]
    NotText(String),
    /// Nothing but whitespace.
    #[error("le fichier est vide")]
    Empty,
    /// The workbook could not be opened or read.
    #[error("classeur Excel illisible : {0}")]
    Xlsx(String),
    /// The chosen sheet does not exist.
    #[error("la feuille « {name} » n'existe pas (feuilles du classeur : {available})")]
    SheetNotFound {
        /// Requested sheet.
        name: String,
        /// Sheets of the workbook, comma separated.
        available: String,
    },
    /// An explicitly named column does not exist.
    #[error("colonne « {name} » introuvable (colonnes du fichier : {available})")]
    ColumnNotFound {
        /// Requested column.
        name: String,
        /// Header of the file, comma separated.
        available: String,
    },
    /// No location column could be detected.
    #[error("{0}")]
    NoLocationColumns(String),
    /// The output would overwrite the input.
    #[error("le fichier de résultat serait le fichier d'entrée ({0}) : choisissez un autre nom de sortie")]
    OutputIsInput(String),
    /// The output file could not be created or put in place.
    #[error("écriture de {path} impossible : {reason}")]
    Output {
        /// The output path.
        path: String,
        /// Why, in French.
        reason: String,
    },
    /// The output workbook could not be written.
    #[error("écriture du classeur Excel impossible : {0}")]
    XlsxWrite(String),
}
