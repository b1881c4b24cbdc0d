//! Service packages: read (folder or zip), validate with diagnostics, build the broker catalog, pack
