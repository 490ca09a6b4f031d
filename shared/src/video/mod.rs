//! Video codecs. Text mode: a grid of character cells and their changes.

pub mod text;
