//! Plan cost, paid option steps, infrastructure cost, billing cycles
