//! Metrics with the Azure ML names.
