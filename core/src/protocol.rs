//! TODO(helper): the model-output protocol parser.

use crate::action::{FormatError, ParsedMessage};

/// Parses one assistant message.
pub fn parse(raw: &[u8]) -> Result<ParsedMessage, FormatError> {
    let _ = raw;
    Err(FormatError::NoAction)
}
