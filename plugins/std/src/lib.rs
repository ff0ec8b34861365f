//! The standard operator plugin.
