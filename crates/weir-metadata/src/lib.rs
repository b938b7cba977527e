//! weir-metadata
