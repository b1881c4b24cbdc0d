//! Terraform-language engine: configuration, graph, plan, apply/destroy, state, provider interface
