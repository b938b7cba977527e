//! weir-types
