//! Tests of the write-ahead log: openraft's storage suite, a model-based property test,
//! group commit, backpressure, segment GC, corruption and shutdown.

mod suite;
