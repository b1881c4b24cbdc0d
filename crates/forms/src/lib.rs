//! The one form model: typed fields, labels, conditions, defaults, validation of answers
