//! Commands of the `portolan` binary that talk to a running Portolan over HTTP, as a pipeline
//! would (the others work on the database directly, on the server).

pub mod gate;
