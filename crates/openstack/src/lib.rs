//! OpenStack API client (Keystone v3, Nova, Neutron, Cinder, Glance) and its wire types
