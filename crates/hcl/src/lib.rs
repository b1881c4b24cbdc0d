//! Terraform language: parse with spans, evaluate, functions, references
