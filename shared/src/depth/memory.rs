//! See [the module's parent](super).
