//! An OpenStack-API-compatible cloud on one machine, with hypervisor back-ends
