//! The processing loop, the stitcher and orphan cleanup.
