//! Providers on the engine's interface: vkcs (OpenStack) and ivkcs (config service)
