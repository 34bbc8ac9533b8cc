//! Promotions between environments: each environment's gate policy, promotion requests and
//! their approvals, and the gate evaluator ([`gate::evaluate`], a pure function) that says, for
//! every condition of the policy, whether it passes, is still to come, or cannot pass.

pub mod gate;
pub mod model;
pub mod repo;
pub mod routes;
